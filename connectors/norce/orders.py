"""Norce as an order source (core.ports.OrderSource): pushed OrderRequests, Query 2.0 orders
fetched by reference or polled, and the order status sent back through Connect."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.norce.client import NorceClient
from connectors.norce.errors import ORDER_NOT_FOUND, STATUS_REJECTED
from connectors.norce.order_request import order_from_request
from connectors.norce.query_order import order_from_query
from core.errors import SyncError
from core.records import Order, PolledOrder

PUSH = "push"


class NorceOrders:
    name = "Norce"
    # A status Norce refused for good is not sent again (the record says why).
    refused_status_codes = (STATUS_REJECTED.code,)

    def __init__(self, client: NorceClient) -> None:
        self.client = client

    def _query_options(self, freight_articles: Sequence[str]) -> dict[str, Any]:
        """Tenant-specific lookups for reading Query 2.0 orders, from the connector's settings."""
        settings = self.client.connector.settings or {}
        options: dict[str, Any] = {key: settings[key] for key in ("currency_ids", "country_ids") if settings.get(key)}
        freight = [p for p in [*freight_articles, *settings.get("freight_part_nos", [])] if p]
        if freight:
            options["freight_part_nos"] = freight
        return options

    def read_order(self, payload: dict[str, Any], *, received_via: str, freight_articles: Sequence[str]) -> Order:
        """A pushed OrderRequest is read as such; anything else was read from Query 2.0."""
        if received_via == PUSH:
            return order_from_request(payload)
        return order_from_query(payload, **self._query_options(freight_articles))

    def fetch_order(self, reference: str) -> dict[str, Any]:
        raw = self.client.get_order(reference)
        if raw is None:
            raise SyncError(
                ORDER_NOT_FOUND.code, f"Order {reference} is not (yet) in Norce's Query API", permanent=False
            )
        return raw

    def orders_changed_since(self, since: datetime, *, freight_articles: Sequence[str]) -> Iterator[PolledOrder]:
        options = self._query_options(freight_articles)
        for raw in self.client.orders_since(since):
            reference = str(raw.get("OrderNo") or raw.get("Id") or "")
            try:
                order = order_from_query(raw, **options)
            except SyncError as exc:
                yield PolledOrder(payload=raw, order=None, changed_at=changed_at(raw), reference=reference, error=exc)
                continue
            yield PolledOrder(payload=raw, order=order, changed_at=changed_at(raw), reference=order.order_no)

    def confirm_order(self, source_id: str, *, document: str) -> None:
        # Order statuses may use the whole Connect window (60 a minute), including the requests a
        # long import may not touch (CONNECT_PRIORITY_RESERVE): they are what that reserve is for.
        self.client.priority = True
        self.client.send_order_status(source_id, erp_order_no=document, status="Confirmed")


def changed_at(raw: dict[str, Any]) -> datetime | None:
    """When a Query order last changed (Updated, else Created); naive stamps are UTC."""
    value = raw.get("Updated") or raw.get("Created")
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
