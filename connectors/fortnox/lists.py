"""Reading Fortnox's master-data lists (articles, customers, prices) page by page, and stock balances."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from core.errors import HTTP_BAD_RESPONSE, SyncError

# Page size for list calls. Fortnox's maximum is believed to be 500 (default 100);
# not confirmed on an official page, but widely relied upon.
PAGE_SIZE = 500
STOCKHOLM = ZoneInfo("Europe/Stockholm")


class FortnoxLists:
    """The list reading of FortnoxClient, on the client's URLs and JSON calls."""

    if TYPE_CHECKING:

        @property
        def api_base(self) -> str: ...

        def url(self, path: str) -> str: ...

        def get_json(self, url: str, **kwargs: Any) -> Any: ...

    def pages(
        self, resource: str, key: str, params: dict[str, Any] | None = None, *, start_page: int = 1
    ) -> Iterator[Page]:
        """A list search page by page from `start_page` (1-based), for resumable reads."""
        page = max(1, start_page)
        while True:
            body = self.get_json(self.url(resource), params={**(params or {}), "limit": PAGE_SIZE, "page": page}) or {}
            if not isinstance(body, dict):
                raise SyncError(HTTP_BAD_RESPONSE.code, f"Fortnox {resource} list is not a JSON object")
            meta = body.get("MetaInformation") or {}
            try:
                pages = int(meta.get("@TotalPages") or 1)
            except (TypeError, ValueError):
                pages = 1
            items = body.get(key) or []
            yield Page(number=page, total_pages=pages, items=items)
            if page >= pages or not items:
                return
            page += 1

    def article_pages(self, *, since: datetime | None = None, start_page: int = 1) -> Iterator[Page]:
        """Articles (inactive ones too: they deactivate the webshop's SKU), changed after `since` if given."""
        return self.pages(
            "articles", "Articles", self._since(since, {"sortby": "articlenumber"}), start_page=start_page
        )

    def customer_pages(self, *, since: datetime | None = None, start_page: int = 1) -> Iterator[Page]:
        return self.pages(
            "customers", "Customers", self._since(since, {"sortby": "customernumber"}), start_page=start_page
        )

    def price_pages(self, price_list: str, *, since: datetime | None = None, start_page: int = 1) -> Iterator[Page]:
        """Every price in a price list (`/3/prices/sublist/{list}`), changed after `since` if given.

        Whether Fortnox filters a price sublist by `lastmodified` is not documented; the
        global parameter is sent, and the flow compares content anyway, so a list that
        ignores it only costs more reading."""
        return self.pages(
            f"prices/sublist/{_segment(price_list)}", "Prices", self._since(since, {}), start_page=start_page
        )

    def stock_balance(self, stock_points: Iterable[str], item_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Warehouse module: availableStock/inStock per item and stock point."""
        params: dict[str, str] = {}
        points = ",".join(p for p in stock_points if p)
        if points:
            params["stockPointCodes"] = points
        if item_ids is not None:
            params["itemIds"] = ",".join(item_ids)
        body = self.get_json(f"{self.api_base}/api/warehouse/status-v1/stockbalance", params=params)
        if not isinstance(body, list):
            raise SyncError(HTTP_BAD_RESPONSE.code, "Fortnox stockbalance did not answer with a list")
        return [row for row in body if isinstance(row, dict)]

    @staticmethod
    def _since(since: datetime | None, params: dict[str, Any]) -> dict[str, Any]:
        if since is not None:
            params = {**params, "lastmodified": lastmodified_param(since)}
        return params


@dataclass(frozen=True)
class Page:
    number: int
    total_pages: int
    items: list[dict[str, Any]]


def lastmodified_param(moment: datetime) -> str:
    """Fortnox's `lastmodified`: Swedish local time to the minute ("changed after").

    Rounded down to the minute, so nothing changed within that minute is skipped."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")
