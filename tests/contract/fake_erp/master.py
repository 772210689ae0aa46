"""The fake ERP as a master-data source: its items as products, prices and stock levels, in
pages of `PAGE_SIZE`, changed since a moment of its own clock (a cursor is a datetime, so the
clock's ticks are read as seconds since the epoch)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from core.errors import PRODUCT_VAT_MISSING, SyncError
from core.ports import SourceItem, SourcePage
from core.records import MasterRecord, Price, Product, StockLevel
from tests.contract.fake_erp.client import FakeErpClient, Item

PAGE_SIZE = 3


def tick(moment: datetime | None) -> int:
    return -1 if moment is None else int(moment.timestamp())


def moment(clock: int) -> datetime:
    return datetime.fromtimestamp(clock, tz=UTC)


class FakeMasterData:
    name = "Fake ERP"

    def __init__(self, client: FakeErpClient) -> None:
        self.books = client.books

    def _record(self, data_type: str, item: Item) -> MasterRecord | None:
        if item.vat not in (0, 6, 12, 25):
            raise SyncError(PRODUCT_VAT_MISSING.code, f"Item {item.number} has VAT {item.vat}")
        if data_type == "product":
            return Product(item.number, item.name, item.vat, stock_item=item.stock is not None)
        if data_type == "price":
            return Price(item.number, item.price, includes_vat=False, vat_rate=item.vat)
        if data_type == "stock":
            return None if item.stock is None else StockLevel(item.number, item.stock)
        raise ValueError(f"the fake ERP keeps no {data_type}")

    def _read(self, data_type: str, item: Item) -> SourceItem:
        try:
            return SourceItem(key=item.number, record=self._record(data_type, item))
        except SyncError as exc:
            return SourceItem(key=item.number, error=exc)

    def pages(
        self,
        data_type: str,
        settings: Any,
        *,
        since: datetime | None = None,
        start_page: int = 1,
        with_vat_rates: bool = False,
    ) -> Iterator[SourcePage]:
        changed = sorted((i for i in self.books.items.values() if i.changed > tick(since)), key=lambda i: i.number)
        total = max(1, -(-len(changed) // PAGE_SIZE))
        for number in range(max(1, start_page), total + 1):
            chunk = changed[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
            yield SourcePage(number, total, [self._read(data_type, i) for i in chunk])

    def reread(self, data_type: str, key: str, settings: Any) -> SourceItem | None:
        item = self.books.items.get(key)
        return None if item is None else self._read(data_type, item)
