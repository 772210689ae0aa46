"""The Fortnox simulator's own control endpoints (besides the shared /_sim/faults and
/_sim/state of `simulators.base`): its switches and timing faults, tokens, data and seeding.

    POST /_sim/reset           {"auth": bool, "seed": bool}
    POST /_sim/settings        the switches and timing faults (see `_control_settings`)
    POST /_sim/expire-tokens   {"refresh": bool}
    POST /_sim/articles        {"Articles": [...]} or {"Article": {...}}
    POST /_sim/generate        a generated catalogue and/or generated customers
    POST /_sim/stock           one stock balance
    POST /_sim/prices          one price
"""

from __future__ import annotations

from typing import Any

from simulators.base import Request, Response
from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.errors import ApiError, Code
from simulators.fortnox.prices import DEFAULT_PRICE_LIST
from simulators.fortnox.warehouse import DEFAULT_STOCK_POINT


class ControlApi(FortnoxApi):
    """The /_sim/ endpoints of `FortnoxSimulator` (no auth, not rate limited)."""

    def _control_body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json() if request.body.strip() else {}
        except ValueError:
            raise ApiError(400, "invalid JSON", Code.JSON_SYNTAX) from None
        return body if isinstance(body, dict) else {}

    def _control_reset(self, request: Request) -> Response:
        """POST /_sim/reset {"auth": bool, "seed": bool}: clear data (and tokens), optionally reseed."""
        body = self._control_body(request)
        self.reset(auth=bool(body.get("auth")))
        if body.get("seed"):
            self.seed_demo()
        return Response(body=self.state_summary())

    def _control_settings(self, request: Request) -> Response:
        """POST /_sim/settings: capitalised_errors, round_off_to_whole, retry_after_header,
        enforce_scopes, warehouse_active, fail_after_create, rate_limit (bool), and the seconds
        of hold_after_create, commit_late (with commit_late_posts) and hold_token_answer."""
        body = self._control_body(request)
        for name in (
            "capitalised_errors",
            "round_off_to_whole",
            "retry_after_header",
            "enforce_scopes",
            "warehouse_active",
        ):
            if name in body:
                setattr(self, name, bool(body[name]))
        if "fail_after_create" in body:
            self.fail_after_create = int(body["fail_after_create"])
        for name in ("hold_after_create", "commit_late", "hold_token_answer"):
            if name in body:
                setattr(self, name, max(0.0, float(body[name])))
        if "commit_late_posts" in body:
            self.commit_late_posts = max(0, int(body["commit_late_posts"]))
        if "hold_token_answers" in body:
            self.hold_token_answers = max(0, int(body["hold_token_answers"]))
        if "rate_limit" in body:
            self.limiter.enabled = bool(body["rate_limit"])
        return Response(
            body={
                "capitalised_errors": self.capitalised_errors,
                "round_off_to_whole": self.round_off_to_whole,
                "retry_after_header": self.retry_after_header,
                "enforce_scopes": self.enforce_scopes,
                "warehouse_active": self.warehouse_active,
                "fail_after_create": self.fail_after_create,
                "rate_limit": self.limiter.enabled,
                "hold_after_create": self.hold_after_create,
                "commit_late": self.commit_late,
                "commit_late_posts": self.commit_late_posts,
                "hold_token_answer": self.hold_token_answer,
                "hold_token_answers": self.hold_token_answers,
            }
        )

    def _control_expire_tokens(self, request: Request) -> Response:
        """POST /_sim/expire-tokens {"refresh": bool}: expire every access (and refresh) token."""
        self.expire_access_tokens()
        if self._control_body(request).get("refresh"):
            self.expire_refresh_tokens()
        return Response(body={"expired": len(self.access_tokens)})

    def _control_articles(self, request: Request) -> Response:
        """POST /_sim/articles {"Articles": [...]} or {"Article": {...}}: create or update articles."""
        body = self._control_body(request)
        articles = body.get("Articles") or ([body["Article"]] if "Article" in body else [])
        self.seed_articles(articles)
        return Response(body={"articles": self.state_summary()["articles"]})

    def _control_generate(self, request: Request) -> Response:
        """POST /_sim/generate {"articles": n, "customers": m, "prefix"?, "start"?, "seed"?,
        "stock_point"?, "companies_share"?}: a generated catalogue and/or generated customers."""
        body = self._control_body(request)
        answer: dict[str, Any] = {}
        try:
            if int(body.get("articles") or 0) > 0:
                answer["catalogue"] = self.seed_generated(
                    int(body["articles"]),
                    prefix=str(body.get("prefix", "G")),
                    start=int(body.get("start", 1)),
                    stock_point=str(body.get("stock_point", DEFAULT_STOCK_POINT)),
                    seed=int(body.get("seed", 1)),
                )
            if int(body.get("customers") or 0) > 0:
                numbers = self.seed_generated_customers(
                    int(body["customers"]),
                    companies_share=float(body.get("companies_share", 0.3)),
                    seed=int(body.get("seed", 1)),
                )
                answer["customers"] = {"first": numbers[0], "last": numbers[-1], "count": len(numbers)}
        except (TypeError, ValueError) as exc:
            raise ApiError(400, str(exc), Code.INVALID_VALUE) from None
        return Response(body={**answer, "state": self.state_summary()})

    def _control_stock(self, request: Request) -> Response:
        """POST /_sim/stock {"ArticleNumber", "InStock", "Reserved"?, "StockPoint"?}: set a balance."""
        body = self._control_body(request)
        article = self.set_stock(
            str(body.get("ArticleNumber", "")),
            body.get("InStock", 0),
            reserved=body.get("Reserved", 0),
            stock_point=str(body.get("StockPoint") or DEFAULT_STOCK_POINT),
        )
        return Response(body={"Article": self._article_body(article)})

    def _control_prices(self, request: Request) -> Response:
        """POST /_sim/prices {"PriceList", "ArticleNumber", "Price", "FromQuantity"?}: set a price."""
        body = self._control_body(request)
        price = self.set_price(
            str(body.get("PriceList") or DEFAULT_PRICE_LIST),
            str(body.get("ArticleNumber", "")),
            body.get("Price", 0),
            body.get("FromQuantity", 0),
        )
        return Response(body={"Price": price})
