"""Fortnox master data (articles, prices, stock, customers) as Brygga's records, and Fortnox as a
master-data source (core.ports.MasterDataSource).

Each reader takes one Fortnox item and returns the record, or raises SyncError with a code
and a hint when the item cannot be read (that record fails; the others go on)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

from connectors.fortnox.client import FortnoxClient, Page
from core.errors import CUSTOMER_INVALID, PRICE_INVALID, PRODUCT_INVALID, PRODUCT_VAT_MISSING, STOCK_INVALID, SyncError
from core.ports import SourceItem, SourcePage
from core.records import Account, Address, MasterRecord, Price, Product, StockLevel, decimal_of, text_of

VAT_RATES = (0, 6, 12, 25)


class PriceSource(Protocol):
    """The flow settings the price reader follows."""

    source: str  # "price_list": the price list's prices (/3/prices); "article": the article's SalesPrice
    fortnox_price_list: str
    source_prices_include_vat: bool


class StockSource(Protocol):
    source: str  # "articles": the article's quantities; "warehouse": the stock balance per stock point
    quantity: str  # "available" (in stock − reserved) or "in_stock"
    stock_points: list[str]


class CustomerSource(Protocol):
    default_country_code: str


_text = text_of
_decimal = decimal_of


def _true(value: Any) -> bool:
    return value in (True, "true")


def _active(item: dict[str, Any]) -> bool:
    return item.get("Active") in (True, "true", "True", None) and item.get("Expired") not in (True, "true", "True")


def _part_no(item: dict[str, Any], code: str) -> str:
    part_no = _text(item.get("ArticleNumber"))
    if not part_no:
        raise SyncError(code, "A Fortnox item has no ArticleNumber", permanent=True)
    return part_no


def _stock_goods(article: dict[str, Any]) -> bool:
    return _true(article.get("StockGoods")) and _text(article.get("Type")).upper() != "SERVICE"


# -- articles ----------------------------------------------------------------------------------
def product(article: dict[str, Any]) -> Product:
    part_no = _part_no(article, PRODUCT_INVALID.code)
    description = _text(article.get("Description"))
    if not description:
        raise SyncError(
            PRODUCT_INVALID.code, f"Article {part_no} has no description (the webshop needs a name)", permanent=True
        )
    vat_raw = article.get("VAT")
    if vat_raw in (None, ""):
        raise SyncError(PRODUCT_VAT_MISSING.code, f"Article {part_no} has no VAT rate", permanent=True)
    vat = _decimal(vat_raw, code=PRODUCT_VAT_MISSING.code, what="VAT", source_id=part_no)
    if vat not in VAT_RATES:
        raise SyncError(
            PRODUCT_VAT_MISSING.code,
            f"Article {part_no} has VAT {vat_raw}, not a Swedish rate ({', '.join(map(str, VAT_RATES))})",
            permanent=True,
        )
    weight = article.get("Weight")
    weight_kg = None
    if weight not in (None, "", 0, "0"):
        # Fortnox keeps the weight in grams.
        weight_kg = _decimal(weight, code=PRODUCT_INVALID.code, what="Weight", source_id=part_no) / 1000
    return Product(
        part_no=part_no,
        name=description,
        vat_rate=vat,
        manufacturer=_text(article.get("Manufacturer")),
        active=_active(article),
        sell_online=_true(article.get("WebshopArticle")),
        stock_item=_stock_goods(article),
        unit=_text(article.get("Unit")),
        ean=_text(article.get("EAN")),
        weight_kg=weight_kg,
    )


# -- prices ------------------------------------------------------------------------------------
def from_quantity(value: Any) -> int:
    """A price's quantity break (FromQuantity, at least 1); 1 when it is not a number (the price
    then reports the bad quantity)."""
    try:
        return max(1, int(Decimal(str(value or 0))))
    except (ArithmeticError, ValueError):
        return 1


def price(
    part_no: Any, amount: Any, *, includes_vat: bool, quantity: Any = 0, vat: Decimal | int | None = None
) -> Price:
    number = _part_no({"ArticleNumber": part_no}, PRICE_INVALID.code)
    value = _decimal(amount, code=PRICE_INVALID.code, what="Price", source_id=number)
    if value < 0:
        raise SyncError(PRICE_INVALID.code, f"Price of {number} is negative ({value})", permanent=True)
    breaks = _decimal(quantity or 0, code=PRICE_INVALID.code, what="FromQuantity", source_id=number)
    return Price(
        part_no=number,
        amount=value,
        includes_vat=includes_vat,
        from_quantity=max(1, int(breaks)),
        vat_rate=None if vat in (None, "") else Decimal(str(vat)),
    )


# -- stock -------------------------------------------------------------------------------------
def stock_level(part_no: Any, quantity: Any) -> StockLevel:
    number = _part_no({"ArticleNumber": part_no}, STOCK_INVALID.code)
    return StockLevel(number, _decimal(quantity, code=STOCK_INVALID.code, what="Stock", source_id=number))


def article_stock(article: dict[str, Any], settings: StockSource) -> Any | None:
    """The article's stock value, or None for articles that are not stock goods."""
    if not _stock_goods(article):
        return None
    if settings.quantity == "in_stock":
        return article.get("QuantityInStock") or 0
    disposable = article.get("DisposableQuantity")
    if disposable in (None, ""):
        number = _text(article.get("ArticleNumber"))
        in_stock = _decimal(
            article.get("QuantityInStock") or 0, code=STOCK_INVALID.code, what="Stock", source_id=number
        )
        reserved = _decimal(
            article.get("ReservedQuantity") or 0, code=STOCK_INVALID.code, what="Reserved", source_id=number
        )
        return in_stock - reserved
    return disposable


# -- customers ---------------------------------------------------------------------------------
def _address(line1: Any, line2: Any, zip_code: Any, city: Any, country: Any, default_country: str) -> Address:
    return Address(
        line1=_text(line1),
        line2=_text(line2),
        zip_code=_text(zip_code).replace(" ", ""),
        city=_text(city),
        country=(_text(country) or default_country).upper(),
    )


def account(customer: dict[str, Any], settings: CustomerSource) -> Account:
    code = _text(customer.get("CustomerNumber"))
    if not code:
        raise SyncError(CUSTOMER_INVALID.code, "A Fortnox customer has no CustomerNumber", permanent=True)
    name = _text(customer.get("Name"))
    if not name:
        raise SyncError(CUSTOMER_INVALID.code, f"Customer {code} has no name", permanent=True)
    country = settings.default_country_code
    deliveries: tuple[Address, ...] = ()
    if _text(customer.get("DeliveryAddress1")):
        deliveries = (
            _address(
                customer.get("DeliveryAddress1"),
                customer.get("DeliveryAddress2"),
                customer.get("DeliveryZipCode"),
                customer.get("DeliveryCity"),
                customer.get("DeliveryCountryCode"),
                country,
            ),
        )
    return Account(
        code=code,
        kind="company" if _text(customer.get("Type")).upper() == "COMPANY" else "private",
        name=name,
        email=_text(customer.get("Email")),
        phone=_text(customer.get("Phone1") or customer.get("Phone")),
        mobile=_text(customer.get("Phone2")),
        organisation_number=_text(customer.get("OrganisationNumber")),
        vat_number=_text(customer.get("VATNumber")),
        active=customer.get("Active") not in (False, "false", "False"),
        invoice_address=_address(
            customer.get("Address1"),
            customer.get("Address2"),
            customer.get("ZipCode"),
            customer.get("City"),
            customer.get("CountryCode"),
            country,
        ),
        delivery_addresses=deliveries,
    )


# -- the source --------------------------------------------------------------------------------
def _item(key: str, build: Callable[[], MasterRecord | None], quantity: int = 1) -> SourceItem:
    try:
        return SourceItem(key=key, quantity=quantity, record=build())
    except SyncError as exc:
        return SourceItem(key=key, quantity=quantity, error=exc)


def _pages(pages: Iterable[Page], read: Callable[[dict[str, Any]], SourceItem]) -> Iterator[SourcePage]:
    for page in pages:
        yield SourcePage(page.number, page.total_pages, [read(item) for item in page.items])


def _number(item: dict[str, Any]) -> str:
    return _text(item.get("ArticleNumber"))


class FortnoxMasterData:
    name = "Fortnox"

    def __init__(self, client: FortnoxClient) -> None:
        self.client = client

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
                client.article_pages(since=since, start_page=start_page),
                lambda a: _item(_number(a), lambda: product(a)),
            )
        elif data_type == "price":
            yield from self._prices(settings, since=since, start_page=start_page, with_vat_rates=with_vat_rates)
        elif data_type == "stock":
            yield from self._stock(settings, since=since, start_page=start_page)
        elif data_type == "customer":
            yield from _pages(
                client.customer_pages(since=since, start_page=start_page),
                lambda c: _item(_text(c.get("CustomerNumber")), lambda: account(c, settings)),
            )
        else:
            raise ValueError(f"Fortnox has no master data of type {data_type!r}")

    def _prices(
        self, settings: PriceSource, *, since: datetime | None, start_page: int, with_vat_rates: bool
    ) -> Iterator[SourcePage]:
        includes_vat = settings.source_prices_include_vat
        if settings.source == "article":
            yield from _pages(
                self.client.article_pages(since=since, start_page=start_page),
                lambda a: _item(
                    _number(a),
                    lambda: price(_number(a), a.get("SalesPrice") or 0, includes_vat=includes_vat, vat=a.get("VAT")),
                ),
            )
            return
        vat_rates: dict[str, Any] = {}

        def vat_of(number: str) -> Any:
            # Only needed when VAT is added or removed: the price list has no rate, the article does.
            if not with_vat_rates:
                return None
            if number not in vat_rates:
                found = self.client.get_article(number)
                vat_rates[number] = found.get("VAT") if found else None
            return vat_rates[number]

        yield from _pages(
            self.client.price_pages(settings.fortnox_price_list, since=since, start_page=start_page),
            lambda p: _item(
                _number(p),
                lambda: price(
                    _number(p),
                    p.get("Price"),
                    includes_vat=includes_vat,
                    quantity=p.get("FromQuantity"),
                    vat=vat_of(_number(p)),
                ),
                quantity=from_quantity(p.get("FromQuantity")),
            ),
        )

    def _stock(self, settings: StockSource, *, since: datetime | None, start_page: int) -> Iterator[SourcePage]:
        if settings.source == "warehouse":
            # The stock balance has no change filter: every run reads it whole and the
            # content comparison sends only what changed.
            totals: dict[str, Decimal] = {}
            key = "inStock" if settings.quantity == "in_stock" else "availableStock"
            for row in self.client.stock_balance(settings.stock_points):
                item = str(row.get("itemId") or "")
                totals[item] = totals.get(item, Decimal(0)) + Decimal(str(row.get(key) or 0))
            items = [
                _item(number, partial(stock_level, number, quantity)) for number, quantity in sorted(totals.items())
            ]
            yield SourcePage(1, 1, items)
            return

        def read(article: dict[str, Any]) -> SourceItem:
            def build() -> StockLevel | None:
                value = article_stock(article, settings)
                return None if value is None else stock_level(_number(article), value)

            return _item(_number(article), build)

        yield from _pages(self.client.article_pages(since=since, start_page=start_page), read)

    def reread(self, data_type: str, key: str, settings: Any) -> SourceItem | None:
        """The item as Fortnox holds it now (a retry after fixing it there); None when there is
        nothing to read again (not found, or a price-list price: its stored record is sent again)."""
        if data_type == "customer":
            customer = self.client.get_customer(key)
            return None if customer is None else _item(key, lambda: account(customer, settings))
        if data_type == "price" and getattr(settings, "source", "") != "article":
            return None
        if data_type not in ("product", "stock", "price"):
            return None
        article = self.client.get_article(key)
        if article is None:
            return None
        if data_type == "product":
            return _item(key, lambda: product(article))
        if data_type == "stock":

            def build() -> StockLevel | None:
                value = article_stock(article, settings)
                return None if value is None else stock_level(key, value)

            return _item(key, build)
        includes_vat = settings.source_prices_include_vat
        return _item(
            key, lambda: price(key, article.get("SalesPrice") or 0, includes_vat=includes_vat, vat=article.get("VAT"))
        )
