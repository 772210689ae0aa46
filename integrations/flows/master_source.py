"""Reading the ERP's master data: the source's pages, each item mapped to a Connect record
(or its error kept under the item's id), for the incremental flows and the full file alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.fortnox import to_norce
from connectors.norce.connect import ConnectRecord
from core.errors import FLOW_SETTINGS, SyncError
from integrations.flows.master_settings import MasterSettings, PriceSettings, ProductSettings, StockSettings
from integrations.models import Entity, Flow, LogEntry


@dataclass
class SourceBatch:
    """One page of the source, mapped."""

    page: int
    total_pages: int
    records: list[ConnectRecord] = field(default_factory=list)
    errors: list[tuple[str, str, SyncError]] = field(default_factory=list)  # (source id, reference, error)
    read: int = 0


# -- reading the source ------------------------------------------------------------------------
def _map(batch: SourceBatch, source_id: str, build) -> None:
    batch.read += 1
    try:
        record = build()
    except SyncError as exc:
        batch.errors.append((source_id, source_id.split("@", 1)[0], exc))
        return
    if record is not None:
        batch.records.append(record)


def _mapped(
    pages, source_id: Callable[[dict[str, Any]], str], build: Callable[[dict[str, Any]], ConnectRecord | None]
) -> Iterator[SourceBatch]:
    """Source pages with each item mapped (or its error kept) under its source id."""
    for page in pages:
        batch = SourceBatch(page.number, page.total_pages)
        for item in page.items:
            _map(batch, source_id(item), lambda i=item: build(i))
        yield batch


def _article_number(item: dict[str, Any]) -> str:
    return str(item.get("ArticleNumber") or "")


def read_source(
    kind: str, settings: MasterSettings, fortnox, *, since=None, start_page: int = 1
) -> Iterator[SourceBatch]:
    """The flow's source data since `since` (everything when None), page by page, mapped."""
    if kind == "products_to_commerce":
        assert isinstance(settings, ProductSettings)
        yield from _mapped(
            fortnox.article_pages(since=since, start_page=start_page),
            _article_number,
            lambda article: to_norce.product_record(article, settings),
        )
    elif kind == "prices_to_commerce":
        assert isinstance(settings, PriceSettings)
        yield from _read_prices(settings, fortnox, since=since, start_page=start_page)
    elif kind == "stock_to_commerce":
        assert isinstance(settings, StockSettings)
        yield from _read_stock(settings, fortnox, since=since, start_page=start_page)
    elif kind == "customers_to_commerce":
        yield from _mapped(
            fortnox.customer_pages(since=since, start_page=start_page),
            lambda customer: str(customer.get("CustomerNumber") or ""),
            lambda customer: to_norce.customer_record(customer, settings),
        )
    else:
        raise SyncError(FLOW_SETTINGS.code, f"No master-data source for flow kind {kind!r}")


def _read_prices(settings: PriceSettings, fortnox, *, since, start_page: int) -> Iterator[SourceBatch]:
    convert = settings.fortnox_prices_include_vat != settings.norce_prices_include_vat
    if settings.source == "article":
        yield from _mapped(
            fortnox.article_pages(since=since, start_page=start_page),
            lambda a: f"{_article_number(a)}@{settings.norce_price_list_code}/1",
            lambda a: to_norce.price_record(_article_number(a), a.get("SalesPrice") or 0, settings, vat=a.get("VAT")),
        )
        return
    vat_rates: dict[str, Any] = {}

    def vat_of(number: str) -> Any:
        # Only needed when VAT is added or removed: the price list has no rate, the article does.
        if not convert:
            return None
        if number not in vat_rates:
            article = fortnox.get_article(number)
            vat_rates[number] = article.get("VAT") if article else None
        return vat_rates[number]

    def source_id(price: dict[str, Any]) -> str:
        try:
            quantity = max(1, int(Decimal(str(price.get("FromQuantity") or 0))))
        except (ArithmeticError, ValueError):
            quantity = 1  # price_record reports the bad quantity on this record
        return f"{_article_number(price)}@{settings.norce_price_list_code}/{quantity}"

    yield from _mapped(
        fortnox.price_pages(settings.fortnox_price_list, since=since, start_page=start_page),
        source_id,
        lambda p: to_norce.price_record(
            _article_number(p),
            p.get("Price"),
            settings,
            from_quantity=p.get("FromQuantity"),
            vat=vat_of(_article_number(p)),
        ),
    )


def _read_stock(settings: StockSettings, fortnox, *, since, start_page: int) -> Iterator[SourceBatch]:
    suffix = f"@{settings.warehouse_code}/{settings.location_code}"
    if settings.source == "warehouse":
        # The stock balance has no change filter: every run reads it whole and the
        # content comparison sends only what changed.
        totals: dict[str, Decimal] = {}
        key = "inStock" if settings.quantity == "in_stock" else "availableStock"
        for row in fortnox.stock_balance(settings.stock_points):
            item = str(row.get("itemId") or "")
            totals[item] = totals.get(item, Decimal(0)) + Decimal(str(row.get(key) or 0))
        batch = SourceBatch(1, 1)
        for number, quantity in sorted(totals.items()):
            _map(batch, number + suffix, lambda n=number, q=quantity: to_norce.stock_record(n, q, settings))
        yield batch
        return

    def build(article: dict[str, Any]) -> ConnectRecord | None:
        value = to_norce.article_stock(article, settings)
        return None if value is None else to_norce.stock_record(_article_number(article), value, settings)

    yield from _mapped(
        fortnox.article_pages(since=since, start_page=start_page),
        lambda article: _article_number(article) + suffix,
        build,
    )


# -- storing what changed ----------------------------------------------------------------------
def record_mapping_error(
    ctx, flow: Flow, entity: Entity | None, source_id: str, reference: str, error: SyncError
) -> None:
    if not source_id:
        ctx.log(LogEntry.Level.ERROR, error.message, code=error.code, hint=error.hint, data_type=flow.data_type)
        return
    if entity is None:
        entity, _ = Entity.objects.get_or_create(
            integration_id=flow.integration_id,
            data_type=flow.data_type,
            source_id=source_id,
            defaults={"reference": reference[:100], "payload": {"flow_id": flow.pk}, "received_via": "poll"},
        )
    Entity.objects.filter(pk=entity.pk).update(
        status=Entity.Status.NEEDS_ATTENTION,
        last_error_code=error.code,
        last_error_message=error.message[:2000],
        payload_hash="",
    )
    ctx.log(LogEntry.Level.ERROR, error.message, code=error.code, hint=error.hint, entity=entity)
    ctx.failed += 1
