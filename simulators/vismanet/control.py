"""The Visma.net simulator's own control endpoints (besides /_sim/faults and /_sim/state of
`simulators.base`), for a standalone run. No auth, no rate limit; the default company
unless the body names a "tenant_id".

    POST /_sim/reset              {"seed": bool}: clear data and tokens (and reseed the demo)
    POST /_sim/seed               the demo data
    POST /_sim/generate           {"items": n, "prefix"?, "start"?, "seed"?}
    POST /_sim/companies          {"tenant_id", "name", "licensed"?}
    POST /_sim/settings           {"rate_limit": bool, "rate_limit_per_hour": n, "round_to_whole": bool,
                                   "closed_periods": ["YYYYMM", ...], "enforce_scopes": bool}
    POST /_sim/clock              {"advance_hours": h} or {"reset": true}
    POST /_sim/expire-tokens
    POST /_sim/stock              {"item", "quantity", "warehouse"?}
    POST /_sim/prices             {"item", "price", "price_type"?, "price_code"?, "break_qty"?}
    POST /_sim/ship-order         {"order_type"?, "order_nbr", "lines"? {lineId: qty}, "tracking"?, "ship_via"?}
    POST /_sim/invoice-shipment   {"shipment_nbr", "release"?}
    POST /_sim/cancel-order       {"order_type"?, "order_nbr"}
    POST /_sim/void-invoice       {"invoice_nbr"}
    POST /_sim/webhooks           {"url", "secret"?}
    GET  /_sim/webhooks           the notifications sent (and their delivery)
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from simulators.base import Handler, Request, Response
from simulators.vismanet.api import VismaNetApi


class ControlApi(VismaNetApi):
    """The /_sim/ endpoints of `VismaNetSimulator`."""

    def _control(self, handler: Any) -> Handler:
        def wrapped(request: Request) -> Response:
            try:
                body = json.loads(request.body or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                return Response(body=handler(body))
            except (KeyError, TypeError, ValueError) as exc:
                return Response(status=400, body={"error": str(exc)})

        return wrapped

    def _setup_control_routes(self) -> None:
        tenant = lambda body: body.get("tenant_id")  # noqa: E731
        routes = {
            "reset": lambda b: self._control_reset(b),
            "seed": lambda b: (self.seed_demo(tenant_id=tenant(b)), self.state_summary())[1],
            "generate": lambda b: self.seed_generated(
                int(b["items"]),
                prefix=str(b.get("prefix", "G")),
                start=int(b.get("start", 1)),
                seed=int(b.get("seed", 1)),
                tenant_id=tenant(b),
            ),
            "companies": lambda b: {
                "tenant_id": self.add_company(b["tenant_id"], b["name"], licensed=b.get("licensed", True)).tenant_id
            },
            "settings": self._control_settings,
            "clock": self._control_clock,
            "expire-tokens": lambda b: (self.expire_tokens(), {"expired": len(self.access_tokens)})[1],
            "stock": lambda b: (
                self.set_stock(b["item"], b["quantity"], b.get("warehouse", "MAIN"), tenant_id=tenant(b)),
                {"item": b["item"]},
            )[1],
            "prices": lambda b: {
                "recordId": self.set_price(
                    b["item"],
                    b["price"],
                    price_type=b.get("price_type", "Base"),
                    price_code=b.get("price_code", ""),
                    break_qty=b.get("break_qty", 0),
                    tenant_id=tenant(b),
                )
            },
            "ship-order": lambda b: {
                "shipment_nbr": self.ship_order(
                    b.get("order_type", "SO"),
                    b["order_nbr"],
                    {int(k): v for k, v in b["lines"].items()} if b.get("lines") else None,
                    tracking=b.get("tracking", "00370712345678901234"),
                    ship_via=b.get("ship_via", "POSTNORD"),
                    tenant_id=tenant(b),
                )
            },
            "invoice-shipment": lambda b: {
                "invoice_nbr": self.invoice_shipment(
                    b["shipment_nbr"], release=bool(b.get("release", True)), tenant_id=tenant(b)
                )
            },
            "cancel-order": lambda b: (
                self.cancel_sales_order(b.get("order_type", "SO"), b["order_nbr"], tenant_id=tenant(b)),
                {"cancelled": b["order_nbr"]},
            )[1],
            "void-invoice": lambda b: (
                self.void_invoice(b["invoice_nbr"], tenant_id=tenant(b)),
                {"voided": b["invoice_nbr"]},
            )[1],
            "webhooks": lambda b: (
                self.configure_webhooks(b.get("url"), secret=b.get("secret"), tenant_id=tenant(b)),
                {"url": self.company(tenant(b)).webhook_url},
            )[1],
        }
        for name, handler in routes.items():
            self.route("POST", f"/_sim/{name}", self._control(handler))
        self.route("GET", r"/_sim/webhooks", lambda r: Response(body=self._webhook_log()))

    def _webhook_log(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(record) for record in self.webhook_deliveries]

    def _control_reset(self, body: dict[str, Any]) -> dict[str, Any]:
        self.reset()
        if body.get("seed"):
            self.seed_demo()
        return self.state_summary()

    def _control_settings(self, body: dict[str, Any]) -> dict[str, Any]:
        company = self.company(body.get("tenant_id"))
        with self.lock:
            if "rate_limit" in body:
                self.limiter.enabled = bool(body["rate_limit"])
            if "rate_limit_per_hour" in body:
                self.limiter.limit = int(body["rate_limit_per_hour"])
            if "round_to_whole" in body:
                company.round_to_whole = bool(body["round_to_whole"])
            if "closed_periods" in body:
                company.closed_periods = {str(p) for p in body["closed_periods"]}
            if "enforce_scopes" in body:
                self.enforce_scopes = bool(body["enforce_scopes"])
            return {
                "rate_limit": self.limiter.enabled,
                "rate_limit_per_hour": self.limiter.limit,
                "round_to_whole": company.round_to_whole,
                "closed_periods": sorted(company.closed_periods),
                "enforce_scopes": self.enforce_scopes,
            }

    def _control_clock(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if body.get("reset"):
                self.clock_offset = timedelta(0)
            if "advance_hours" in body:
                self.clock_offset += timedelta(hours=float(body["advance_hours"]))
            return {"now": self.clock().isoformat(), "offset_hours": self.clock_offset.total_seconds() / 3600}
