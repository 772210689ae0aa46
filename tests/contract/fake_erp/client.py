"""The fake ERP's books: customers and invoices per company (the connector's base URL), in memory."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.errors import SyncError

ARTICLE_MISSING = "fakeerp.article_missing"


@dataclass
class Item:
    """An article of the fake ERP, with its price and stock; `changed` counts edits (its clock)."""

    number: str
    name: str
    vat: Decimal
    price: Decimal
    stock: Decimal | None  # None: not kept in stock (a service)
    changed: int = 0


@dataclass
class Ledger:
    articles: set[str] = field(default_factory=set)
    items: dict[str, Item] = field(default_factory=dict)
    clock: int = 0  # seconds since the epoch: what a change is stamped with
    customers: dict[str, dict[str, str]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_number(self, table: dict[str, Any], start: int) -> str:
        return str(start + len(table))

    def put_item(self, number: str, name: str, *, vat: str, price: str, stock: str | None = "0") -> Item:
        with self.lock:
            item = Item(number, name, Decimal(vat), Decimal(price), None if stock is None else Decimal(stock))
            item.changed = self.clock
            self.items[number] = item
            self.articles.add(number)
            return item


LEDGERS: dict[str, Ledger] = {}


def ledger(base_url: str) -> Ledger:
    return LEDGERS.setdefault(base_url, Ledger())


class FakeErpClient:
    def __init__(self, connector: Any, *, store: Any, limiter: Any, session: Any = None) -> None:
        self.connector = connector
        self.books = ledger(connector.base_url)

    def test_connection(self) -> str:
        return f"Fake ERP company at {self.connector.base_url}"

    def create_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.books.lock:
            self.books.calls.append("create_invoice")
            missing = sorted({r["article"] for r in body["rows"] if r.get("article")} - self.books.articles)
            if missing:
                raise SyncError(
                    ARTICLE_MISSING, f"unknown article(s) {', '.join(missing)}", details={"missing": missing}
                )
            number = self.books.next_number(self.books.invoices, 5001)
            vat = sum((Decimal(r["vat"]) for r in body["rows"]), Decimal("0.00"))
            total = sum((Decimal(r["amount"]) for r in body["rows"]), Decimal("0.00")) + vat
            invoice = {**body, "number": number, "total": total, "vat": vat, "state": "open", "credit_of": ""}
            self.books.invoices[number] = invoice
            return dict(invoice)
