"""Visma.net master data (inventory items, sales prices, stock, customers) as Brygga's records, and
Visma.net as a master-data source (core.ports.MasterDataSource).

Each reader takes one Visma.net item and returns the record, or raises SyncError with a code and
a hint when the item cannot be read (that record fails; the others go on)."""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.vismanet.client import Page, VismaNetClient
from connectors.vismanet.mapping import lookup_id
from core.errors import CUSTOMER_INVALID, PRICE_INVALID, PRODUCT_INVALID, PRODUCT_VAT_MISSING, STOCK_INVALID, SyncError
from core.ports import SourceItem, SourcePage
from core.records import Account, Address, MasterRecord, Price, Product, StockLevel, decimal_of, text_of

VAT_RATES = (Decimal(0), Decimal(6), Decimal(12), Decimal(25))
# Item types kept in stock; NonStockItem, ServiceItem, LaborItem, ChargeItem, ExpenseItem … are not.
STOCK_TYPES = frozenset({"FinishedGoodItem", "StockItem", "ComponentPartItem", "Kit", "StockKit"})
ACTIVE_ITEM = frozenset({"Active", "NoPurchases", "NoRequest"})  # statuses that may still be sold
VatRate = Callable[[str], "Decimal | None"]
# Prices that carry VAT rates: up to this many items of a read are looked up one by one
# (GET /v1/inventory/{n}); a read with more reads every item's VAT code from the inventory list
# instead (GET /v1/inventory, 5000 a page), and keeps it in the shared cache for the next reads.
ITEM_READS = 50
ITEM_VAT_SECONDS = 3600.0


_text = text_of
_decimal = decimal_of


_id = lookup_id


def item_number(item: dict[str, Any]) -> str:
    return _text(item.get("inventoryNumber"))


def stock_item(item: dict[str, Any]) -> bool:
    return _text(item.get("type")) in STOCK_TYPES


# -- inventory items ---------------------------------------------------------------------------
def product(item: dict[str, Any], vat_rate: VatRate) -> Product:
    number = item_number(item)
    if not number:
        raise SyncError(PRODUCT_INVALID.code, "A Visma.net inventory item has no inventoryNumber", permanent=True)
    name = _text(item.get("description"))
    if not name:
        raise SyncError(
            PRODUCT_INVALID.code, f"Item {number} has no description (the webshop needs a name)", permanent=True
        )
    code = _id(item.get("vatCode"))
    if not code:
        raise SyncError(PRODUCT_VAT_MISSING.code, f"Item {number} has no VAT code", permanent=True)
    rate = vat_rate(code)
    if rate is None or rate not in VAT_RATES:
        shown = "unknown to the company" if rate is None else f"rate {rate} %"
        raise SyncError(
            PRODUCT_VAT_MISSING.code,
            f"Item {number} has VAT code {code} ({shown}), not a Swedish rate (0, 6, 12, 25)",
            permanent=True,
        )
    return Product(
        part_no=number,
        name=name,
        vat_rate=rate,
        active=_text(item.get("status")) in ACTIVE_ITEM,
        stock_item=stock_item(item),
        unit=_text(item.get("salesUnit") or item.get("baseUnit")),
        ean=ean(item),
    )


def ean(item: dict[str, Any]) -> str:
    """The item's barcode cross-reference (EAN), "" when it has none."""
    for ref in item.get("crossReferences") or []:
        if isinstance(ref, dict) and _text(ref.get("alternateType")).lower() == "barcode":
            return _text(ref.get("alternateID") or ref.get("alternateId"))
    return ""


# -- prices ------------------------------------------------------------------------------------
def price(row: dict[str, Any], *, vat: Decimal | None = None) -> Price:
    """A customerSalesPrice row: `vat` holds the VAT included in the price ("" when it has none)."""
    number = _id(row.get("inventoryId") or row.get("inventoryNumber"))
    if not number:
        raise SyncError(PRICE_INVALID.code, "A Visma.net sales price names no inventory item", permanent=True)
    amount = _decimal(row.get("price"), code=PRICE_INVALID.code, what="Price", source_id=number)
    if amount < 0:
        raise SyncError(PRICE_INVALID.code, f"Price of {number} is negative ({amount})", permanent=True)
    breaks = _decimal(row.get("breakQty") or 0, code=PRICE_INVALID.code, what="breakQty", source_id=number)
    return Price(
        part_no=number,
        amount=amount,
        includes_vat=_text(row.get("vat")) not in ("", "0", "0.0", "0.00", "false", "False"),
        from_quantity=max(1, int(breaks)),
        vat_rate=vat,
    )


def break_quantity(row: dict[str, Any]) -> int:
    try:
        return max(1, int(Decimal(str(row.get("breakQty") or 0))))
    except (ArithmeticError, ValueError):
        return 1


# -- stock -------------------------------------------------------------------------------------
def stock_level(item: dict[str, Any], *, warehouses: Iterable[str], quantity: str) -> StockLevel | None:
    """The item's stock summed over the chosen warehouses (all when none are named); None for an
    item not kept in stock. `quantity` "in_stock": on hand; else available."""
    number = item_number(item)
    if not number:
        raise SyncError(STOCK_INVALID.code, "A Visma.net inventory item has no inventoryNumber", permanent=True)
    if not stock_item(item):
        return None
    wanted = {w for w in warehouses if w}
    key = "quantityOnHand" if quantity == "in_stock" else "available"
    total = Decimal(0)
    for detail in item.get("warehouseDetails") or []:
        if not isinstance(detail, dict):
            continue
        if wanted and _id(detail.get("warehouse")) not in wanted:
            continue
        total += _decimal(detail.get(key) or 0, code=STOCK_INVALID.code, what=key, source_id=number)
    return StockLevel(number, total)


# -- customers ---------------------------------------------------------------------------------
def _address(value: Any, default_country: str) -> Address:
    address = value if isinstance(value, dict) else {}
    return Address(
        line1=_text(address.get("addressLine1")),
        line2=_text(address.get("addressLine2")),
        zip_code=_text(address.get("postalCode")).replace(" ", ""),
        city=_text(address.get("city")),
        country=(_id(address.get("country")) or _text(address.get("countryId")) or default_country).upper(),
    )


def account(customer: dict[str, Any], *, default_country: str) -> Account:
    code = _text(customer.get("number"))
    if not code:
        raise SyncError(CUSTOMER_INVALID.code, "A Visma.net customer has no number", permanent=True)
    name = _text(customer.get("name"))
    if not name:
        raise SyncError(CUSTOMER_INVALID.code, f"Customer {code} has no name", permanent=True)
    raw_contact = customer.get("mainContact")
    contact: dict[str, Any] = raw_contact if isinstance(raw_contact, dict) else {}
    corporate = _text(customer.get("corporateId"))
    deliveries: tuple[Address, ...] = ()
    delivery = customer.get("deliveryAddress")
    if isinstance(delivery, dict) and _text(delivery.get("addressLine1")):
        deliveries = (_address(delivery, default_country),)
    return Account(
        code=code,
        # Visma.net keeps no private/company mark: a customer with a corporate id is a company.
        kind="company" if corporate else "private",
        name=name,
        email=_text(contact.get("email")),
        phone=_text(contact.get("phone1")),
        mobile=_text(contact.get("phone2")),
        organisation_number=corporate,
        vat_number=_text(customer.get("vatRegistrationId")),
        active=_text(customer.get("status")) in ("Active", "OneTime", ""),
        invoice_address=_address(customer.get("mainAddress"), default_country),
        delivery_addresses=deliveries,
    )


# -- every item's VAT code ---------------------------------------------------------------------
class ItemVatCodes:
    """The VAT code of every inventory item, 8 bytes an item (8 MB for a million): a sorted array
    of 64-bit entries, the top 56 bits a hash of the item number, the low 8 bits the index of the
    item's VAT code in `codes`. Two item numbers with one hash (odds of about 1 in 100,000 in a
    million items) keep one entry: the code when theirs agree, else OTHER, so that neither is
    given the other's rate — each is then read on its own."""

    OTHER = 255  # the item's code is not among the 255 kept: it is read on its own

    def __init__(self, entries: array[int], codes: list[str]) -> None:
        self.entries = entries
        self.codes = codes

    @staticmethod
    def _hash(number: str) -> int:
        return int.from_bytes(hashlib.blake2b(number.encode(), digest_size=7).digest(), "big")

    @classmethod
    def read(cls, pages: Iterable[Page]) -> ItemVatCodes:
        codes: dict[str, int] = {}
        runs: list[array[int]] = []
        for page in pages:
            entries = []
            for item in page.items:
                number = item_number(item)
                if not number:
                    continue
                code = _id(item.get("vatCode"))
                index = codes.setdefault(code, len(codes)) if (code in codes or len(codes) < cls.OTHER) else cls.OTHER
                entries.append(cls._hash(number) << 8 | index)
            runs.append(array("Q", sorted(entries)))
        merged: array[int] = array("Q")
        for entry in heapq.merge(*runs):
            if merged and merged[-1] >> 8 == entry >> 8:
                if merged[-1] != entry:  # one hash, two codes: trust neither
                    merged[-1] = (entry >> 8) << 8 | cls.OTHER
                continue
            merged.append(entry)
        return cls(merged, list(codes))

    def _entry(self, number: str) -> int | None:
        key = self._hash(number)
        at = bisect_left(self.entries, key << 8)
        if at == len(self.entries) or self.entries[at] >> 8 != key:
            return None
        return self.entries[at]

    def holds(self, number: str) -> bool:
        return self._entry(number) is not None

    def code(self, number: str) -> str | None:
        """The item's VAT code ("" when it has none); None when the item is not here, or its
        code is not kept."""
        entry = self._entry(number)
        if entry is None or entry & 0xFF == self.OTHER:
            return None
        return self.codes[entry & 0xFF]

    def kept(self) -> dict[str, Any]:
        """As kept in the shared cache."""
        return {"entries": self.entries.tobytes(), "codes": self.codes}

    @classmethod
    def from_kept(cls, value: Any) -> ItemVatCodes | None:
        if not isinstance(value, dict) or not isinstance(value.get("entries"), bytes):
            return None
        entries: array[int] = array("Q")
        try:
            entries.frombytes(value["entries"])
        except ValueError:
            return None
        codes = value.get("codes")
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            return None
        return cls(entries, codes)


# -- the source --------------------------------------------------------------------------------
def _item(key: str, build: Callable[[], MasterRecord | None], quantity: int = 1) -> SourceItem:
    try:
        return SourceItem(key=key, quantity=quantity, record=build())
    except SyncError as exc:
        return SourceItem(key=key, quantity=quantity, error=exc)


def _pages(pages: Iterable[Page], read: Callable[[dict[str, Any]], SourceItem]) -> Iterator[SourcePage]:
    for page in pages:
        yield SourcePage(page.number, page.total_pages, [read(item) for item in page.items])


class VismaNetMasterData:
    name = "Visma.net"

    def __init__(self, client: VismaNetClient) -> None:
        self.client = client
        self._item_vat: dict[str, Decimal | None] = {}  # items read one by one
        self._item_codes: ItemVatCodes | None = None
        self._item_codes_looked = False  # the shared cache was asked for them
        self._item_codes_read = False  # read from the inventory list by this source (not the cache)

    def pages(
        self,
        data_type: str,
        settings: Any,
        *,
        since: datetime | None = None,
        start_page: int = 1,
        with_vat_rates: bool = False,
    ) -> Iterator[SourcePage]:
        client = self.client
        if data_type == "product":
            yield from _pages(
                client.inventory_pages(since=since, start_page=start_page),
                lambda i: _item(item_number(i), lambda: product(i, client.vat_rate)),
            )
        elif data_type == "price":
            for page in client.price_pages(self._price_filter(settings), since=since, start_page=start_page):
                vat = self._page_vat(page) if with_vat_rates else None
                yield SourcePage(page.number, page.total_pages, [self._price_item(row, vat) for row in page.items])
        elif data_type == "stock":
            warehouses, quantity = _stock_options(settings)
            yield from _pages(
                client.inventory_pages(since=since, start_page=start_page, stock=True),
                lambda i: _item(item_number(i), lambda: stock_level(i, warehouses=warehouses, quantity=quantity)),
            )
        elif data_type == "customer":
            country = getattr(settings, "default_country_code", "SE")
            yield from _pages(
                client.customer_pages(since=since, start_page=start_page),
                lambda c: _item(_text(c.get("number")), lambda: account(c, default_country=country)),
            )
        else:
            raise ValueError(f"Visma.net has no master data of type {data_type!r}")

    @staticmethod
    def _price_filter(settings: Any) -> dict[str, Any]:
        price_class = _text(getattr(settings, "vismanet_price_class", ""))
        if price_class:
            return {"priceType": "CustomerPriceClass", "priceCode": price_class}
        return {"priceType": "Base"}

    @staticmethod
    def _price_item(row: dict[str, Any], vat: VatRate | None) -> SourceItem:
        """A price row's item; with `vat` (item number → VAT rate), the price carries its item's rate."""
        number = _id(row.get("inventoryId") or row.get("inventoryNumber"))
        return _item(
            number,
            lambda: price(row, vat=vat(number) if vat is not None else None),
            quantity=break_quantity(row),
        )

    def _page_vat(self, page: Page) -> VatRate:
        """The VAT rate of each item on a page of prices (a price row has none). Few items are
        read one by one; a read of more reads every item's VAT code from the inventory list once
        (ItemVatCodes), so its calls grow with pages of items, not with items."""
        numbers = {_id(row.get("inventoryId") or row.get("inventoryNumber")) for row in page.items} - {""}
        wanted = len(numbers - self._item_vat.keys()) + (page.total_pages - page.number) * len(page.items)
        codes = self._item_codes_for(len(self._item_vat) + wanted)
        known: dict[str, str] = {}  # item → VAT code ("": none, or no such item)
        for number in numbers:
            code = codes.code(number) if codes is not None else None
            if code is not None:
                known[number] = code
            elif codes is not None and self._item_codes_read and not codes.holds(number):
                known[number] = ""  # not in the inventory list just read: no such item
        client = self.client

        def rate(number: str) -> Decimal | None:
            # The others (looked up one by one, not in the list kept, or of a code not kept) are
            # read on their own; called as each record is built, so a failure fails that record.
            if number not in known:
                return self._vat_of(number)
            return client.vat_rate(known[number]) if known[number] else None

        return rate

    def _item_codes_for(self, items: int) -> ItemVatCodes | None:
        """Every item's VAT code: kept in the shared cache, or read now when `items` (those this
        read looks up) are more than ITEM_READS; None: look them up one by one."""
        key = f"vismanet:item-vat:{self.client.options.tenant_id.strip()}"
        if self._item_codes is None and not self._item_codes_looked:
            self._item_codes_looked = True
            self._item_codes = ItemVatCodes.from_kept(self.client.cache.get(key))
        if self._item_codes is None and items > ITEM_READS:
            self._item_codes = ItemVatCodes.read(self.client.inventory_vat_pages())
            self._item_codes_read = True
            self.client.cache.set(key, self._item_codes.kept(), seconds=ITEM_VAT_SECONDS)
        return self._item_codes

    def _vat_of(self, number: str) -> Decimal | None:
        """The item's VAT rate read on its own (GET /v1/inventory/{n}), once per item."""
        if number not in self._item_vat:
            item = self.client.inventory_item(number)
            code = _id(item.get("vatCode")) if item else ""
            self._item_vat[number] = self.client.vat_rate(code) if code else None
        return self._item_vat[number]

    def reread(self, data_type: str, key: str, settings: Any) -> SourceItem | None:
        """The item as Visma.net holds it now; None when there is nothing to read again (not
        found, or a price: its stored record is sent again)."""
        if data_type == "customer":
            customer = self.client.get_customer(key)
            country = getattr(settings, "default_country_code", "SE")
            return None if customer is None else _item(key, lambda: account(customer, default_country=country))
        if data_type == "product":
            item = self.client.inventory_item(key)
            return None if item is None else _item(key, lambda: product(item, self.client.vat_rate))
        if data_type == "stock":
            stock = self.client.inventory_stock(key)
            warehouses, quantity = _stock_options(settings)
            if stock is None:
                return None
            return _item(key, lambda: stock_level(stock, warehouses=warehouses, quantity=quantity))
        if data_type == "price":
            rows = [
                row
                for page in self.client.price_pages({**self._price_filter(settings), "inventoryId": key})
                for row in page.items
                if _id(row.get("inventoryId") or row.get("inventoryNumber")) == key and break_quantity(row) == 1
            ]
            return self._price_item(rows[0], self._vat_of) if rows else None
        return None


def _stock_options(settings: Any) -> tuple[list[str], str]:
    warehouses = list(getattr(settings, "vismanet_warehouses", []) or [])
    return warehouses, str(getattr(settings, "quantity", "available") or "available")
