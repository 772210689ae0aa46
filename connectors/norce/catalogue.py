"""Brygga's master-data records as Norce Connect records, and Norce as a catalogue target
(core.ports.CatalogueTarget). Each function returns a CatalogueRecord with every field the
mapping sets, or raises SyncError when Norce cannot take the item."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from connectors.norce import connect, jobs
from connectors.norce.client import NorceClient
from connectors.norce.errors import IMPORT_REJECTED, JOB_FAILED, JOB_RESTART_REFUSED, ROW_IGNORED, VALIDATION
from core.errors import PRICE_INVALID, PRODUCT_INVALID, PRODUCT_VAT_MISSING, STOCK_INVALID, SyncError
from core.records import (
    Account,
    Address,
    CatalogueRecord,
    ImportAccepted,
    JobOutcome,
    MasterRecord,
    Price,
    Product,
    StockLevel,
    as_int,
)

# ERP article units (free text, usually Swedish) → Norce UnitOfMeasurementType.
UNITS = {
    "st": 1,
    "styck": 1,
    "pcs": 1,
    "h": 2,
    "tim": 2,
    "timme": 2,
    "kg": 3,
    "l": 4,
    "liter": 4,
    "lit": 4,
    "par": 5,
    "pair": 5,
    "m2": 6,
    "kvm": 6,
    "m": 7,
    "meter": 7,
    "ask": 8,
    "box": 8,
    "kartong": 8,
    "rulle": 9,
    "rl": 9,
}
PART_NO_MAX = 50


class ProductTarget(Protocol):
    """The flow settings the product mapping follows."""

    manufacturer_code: str
    fallback_manufacturer_code: str
    culture_code: str
    active_status: int
    inactive_status: int
    webshop_only: bool
    stock_sku_type: int
    service_sku_type: int
    sales_area: int


class PriceTarget(Protocol):
    norce_price_list_code: str
    currency: str
    target_prices_include_vat: bool


class StockTarget(Protocol):
    warehouse_code: str
    location_code: str
    negative_as_zero: bool


class CustomerTarget(Protocol):
    send_inactive: bool


def _number(value: Decimal, places: int = 4) -> float | int:
    """A JSON number: whole numbers as ints, others rounded to `places` decimals."""
    value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def _part_no(part_no: str, code: str) -> str:
    if len(part_no) > PART_NO_MAX:
        raise SyncError(
            code, f"Article number {part_no!r} is longer than Norce's {PART_NO_MAX} characters", permanent=True
        )
    return part_no


def manufacturer_code(name: str, settings: ProductTarget) -> str:
    if settings.manufacturer_code:
        return settings.manufacturer_code
    code = re.sub(r"[^A-Z0-9]+", "-", name.upper()).strip("-")[:50]
    return code or settings.fallback_manufacturer_code


# -- products ----------------------------------------------------------------------------------
def product_record(product: Product, settings: ProductTarget) -> CatalogueRecord:
    part_no = _part_no(product.part_no, PRODUCT_INVALID.code)
    active = product.active and (not settings.webshop_only or product.sell_online is True)
    fields: dict[str, Any] = {
        "Product.ManufacturerCode": manufacturer_code(product.manufacturer, settings),
        "Product.ManufacturerName": product.manufacturer,
        "Product.Code": part_no,
        "ProductCulture.Name": product.name,
        "SkuCulture.ErpName": product.name,
        "Sku.Status": settings.active_status if active else settings.inactive_status,
        "Sku.Type": settings.stock_sku_type if product.stock_item else settings.service_sku_type,
        "Sku.UnitOfMeasurementType": UNITS.get(product.unit.lower(), 1),
        "Sku.UnitOfMeasurementCount": 1,
        "Sku.VatRates": [{"SalesArea": settings.sales_area, "Rate": int(product.vat_rate)}],
    }
    if product.ean:
        fields["Sku.EanCode"] = product.ean
    if product.weight_kg is not None:
        fields["Sku.ActualWeight"] = _number(product.weight_kg, 3)
    identity = {
        "ManufacturerCode": fields["Product.ManufacturerCode"],
        "Code": part_no,
        "ManufacturerPartNo": part_no,
        "PartNo": part_no,
        "CultureCode": settings.culture_code,
    }
    return CatalogueRecord(
        method=connect.PRODUCTS,
        source_id=part_no,
        identity=identity,
        fields=fields,
        reference=part_no,
        label=product.name[:200],
    )


# -- prices ------------------------------------------------------------------------------------
def vat_factor(vat: Decimal | int | None, *, source_includes_vat: bool, target_includes_vat: bool) -> Decimal:
    """What a source price is multiplied by to become the Norce price (VAT in or out)."""
    if source_includes_vat == target_includes_vat:
        return Decimal(1)
    rate = Decimal(1) + Decimal(vat or 0) / 100
    return 1 / rate if source_includes_vat else rate


def price_id(part_no: str, quantity: int, settings: PriceTarget) -> str:
    return f"{part_no}@{settings.norce_price_list_code}/{quantity}"


def price_record(price: Price, settings: PriceTarget) -> CatalogueRecord:
    part_no = _part_no(price.part_no, PRICE_INVALID.code)
    if price.vat_rate is None and price.includes_vat != settings.target_prices_include_vat:
        raise SyncError(
            PRODUCT_VAT_MISSING.code, f"Article {part_no} has no VAT rate to convert its price with", permanent=True
        )
    sale = price.amount * vat_factor(
        price.vat_rate, source_includes_vat=price.includes_vat, target_includes_vat=settings.target_prices_include_vat
    )
    # A price including VAT is what the buyer pays: whole öre (a net price keeps four decimals,
    # so that the shop's own VAT brings it back to the ERP's gross price).
    places = 2 if settings.target_prices_include_vat else 4
    identity = {
        "PartNo": part_no,
        "PriceListCode": settings.norce_price_list_code,
        "QuantityBreak": price.from_quantity,
        "CurrencyCode": settings.currency,
    }
    return CatalogueRecord(
        method=connect.PRICES,
        source_id=price_id(part_no, price.from_quantity, settings),
        identity=identity,
        fields={"SkuPriceList.PriceSale": _number(sale, places), "SkuPriceList.IsActive": True},
        reference=part_no,
        label=f"{settings.norce_price_list_code} {_number(sale, places)}",
    )


# -- stock -------------------------------------------------------------------------------------
def stock_id(part_no: str, settings: StockTarget) -> str:
    return f"{part_no}@{settings.warehouse_code}/{settings.location_code}"


def stock_record(level: StockLevel, settings: StockTarget) -> CatalogueRecord:
    part_no = _part_no(level.part_no, STOCK_INVALID.code)
    value = level.quantity
    if value < 0 and settings.negative_as_zero:
        value = Decimal(0)
    identity = {"PartNo": part_no, "WarehouseCode": settings.warehouse_code, "LocationCode": settings.location_code}
    return CatalogueRecord(
        method=connect.ONHANDS,
        source_id=stock_id(part_no, settings),
        identity=identity,
        fields={"SkuOnhand.OnhandValue": _number(value), "SkuOnhand.IsActive": True},
        reference=part_no,
        label=f"{_number(value)} in stock",
    )


# -- customers ---------------------------------------------------------------------------------
def _address(address: Address) -> dict[str, Any]:
    return {
        "AddressLine1": address.line1,
        "AddressLine2": address.line2,
        "ZipCode": address.zip_code,
        "City": address.city,
        "CountryCode": address.country,
    }


def customer_record(customer: Account, settings: CustomerTarget) -> CatalogueRecord | None:
    """A private customer for ImportCustomers, a company for ImportCompanies (None: not sent)."""
    if not customer.active and not settings.send_inactive:
        return None
    code, name = customer.code, customer.name
    invoice = _address(customer.invoice_address)
    deliveries = [_address(a) for a in customer.delivery_addresses]
    if customer.kind == "company":
        fields: dict[str, Any] = {
            "Company.Code": code,
            "Company.Name": name,
            "Company.OrganizationNo": customer.organisation_number,
            "Company.EmailAddress": customer.email,
            "Company.PhoneNumber": customer.phone,
            "Company.IsActive": customer.active,
            "Company.InvoiceAddress": invoice,
            "Company.DeliveryAddresses": deliveries,
            "Company.VatNo": customer.vat_number,
        }
        return CatalogueRecord(
            method=connect.COMPANIES,
            source_id=code,
            identity={"Code": code},
            fields=fields,
            reference=code,
            label=name[:200],
        )
    first, _, last = name.partition(" ")
    fields = {
        "Customer.Code": code,
        "Customer.EmailAddress": customer.email,
        "Customer.FirstName": first,
        "Customer.LastName": last.strip(),
        "Customer.PhoneNumber": customer.phone,
        "Customer.CellPhoneNumber": customer.mobile,
        "Customer.IsActive": customer.active,
        "Customer.InvoiceAddress": invoice,
        "Customer.DeliveryAddresses": deliveries,
    }
    return CatalogueRecord(
        method=connect.CUSTOMERS,
        source_id=code,
        identity={"Type": 1, "Code": code},
        fields=fields,
        reference=code,
        label=name[:200],
    )


class NorceCatalogue:
    name = "Norce"
    # Codes a record gets from a job's outcome: its row rejected, skipped, or the whole job failed.
    row_rejected_code = VALIDATION.code
    row_ignored_code = ROW_IGNORED.code
    job_failed_code = JOB_FAILED.code
    restart_refused_code = JOB_RESTART_REFUSED.code

    def __init__(self, client: NorceClient) -> None:
        self.client = client

    @property
    def job_events(self) -> bool:
        """Whether Norce posts JobCompletedEvent to us (connector setting `job_events`)."""
        return bool((self.client.connector.settings or {}).get("job_events"))

    def use_priority(self, priority: bool) -> None:
        """Let this flow's calls use the share of the Connect limit kept for stock and statuses."""
        self.client.priority = priority

    def knows(self, method: str) -> bool:
        return method in connect.METHODS

    def send(self, method: str, payloads: list[dict[str, Any]], keys: set[str]) -> ImportAccepted:
        """Import the records (stored payloads) with exactly the fields in `keys`, as one job.

        A refusal that will not change (a 4xx other than 429, or a permanent error) raises a
        permanent SyncError (norce.import_rejected); anything else is transient."""
        items = [connect.build_item(payload, keys) for payload in payloads]
        header = connect.build_header(
            method,
            keys,
            account_id=self.client.account_id,
            full_file=False if method in connect.FULL_FILE_METHODS else None,
        )
        body = b"".join(connect.json_array_chunks(items))
        try:
            accepted = self.client.import_items(method, header, body)
        except SyncError as exc:
            if exc.permanent or (exc.status is not None and 400 <= exc.status < 500 and exc.status != 429):
                raise SyncError(
                    IMPORT_REJECTED.code,
                    f"Norce refused the {method} import: {exc.message}",
                    status=exc.status,
                    details=exc.details,
                    permanent=True,
                ) from exc
            raise
        return ImportAccepted(job_id=accepted.job_id, header=header, body=body, messages=accepted.messages)

    def job(self, job_id: str) -> JobOutcome:
        """Job/Get, and Job/GetLog when the job ended and something needs explaining."""
        dto = self.client.get_job(job_id)
        status_id = as_int(dto.get("StatusId"))
        finished = status_id in connect.FINISHED_JOB_STATUSES
        entries = self.client.get_job_log(job_id) if finished and jobs.needs_log(status_id, dto) else []
        return jobs.outcome(dto, entries)

    def restartable(self, status_id: int | None, created_at: datetime, now: datetime) -> tuple[bool, str]:
        if status_id not in connect.RESTARTABLE_JOB_STATUSES:
            return (
                False,
                "Norce restarts only succeeded or failed jobs; for rows that failed validation, "
                "correct the records and retry them.",
            )
        if created_at < now - timedelta(days=connect.RESTART_WINDOW_DAYS):
            return False, f"Norce keeps a job's payload for {connect.RESTART_WINDOW_DAYS} days; this job is older."
        return True, ""

    def restart(self, job_id: str) -> None:
        """Job/Restart: Norce runs the job again from its stored payload."""
        self.client.restart_job(job_id)

    # -- full files ------------------------------------------------------------------------------
    def spool_item(self, record: CatalogueRecord) -> dict[str, Any]:
        """The record as its import's JSON item, every field set (a full file sends them all)."""
        return connect.build_item(record, record.fields.keys())

    def full_file_methods(self, fields: Iterable[str]) -> list[str]:
        """The import methods a full file of records with these fields takes, in sending order."""
        levels = {key.split(".", 1)[0] for key in fields}
        return [method for method in connect.METHODS if levels & set(connect.METHOD_LEVELS[method])]

    def send_full_file(
        self, method: str, fields: Iterable[str], items: Callable[[], Iterable[dict[str, Any]]]
    ) -> ImportAccepted:
        """One streamed import of every item (FullFile where the method has it: Norce deactivates
        what the file leaves out). `items` is called for each attempt, so a retry streams again."""
        keys = [k for k in fields if k.split(".", 1)[0] in connect.METHOD_LEVELS[method]]
        header = connect.build_header(
            method,
            keys,
            account_id=self.client.account_id,
            full_file=True if method in connect.FULL_FILE_METHODS else None,
        )
        accepted = self.client.import_items(
            method, header, lambda: connect.json_array_chunks(items(), chunk_bytes=256 * 1024)
        )
        return ImportAccepted(job_id=accepted.job_id, header=header, body=b"", messages=accepted.messages)

    def active_products(self) -> Iterator[str]:
        """The part numbers of the SKUs Norce shows as active (not hidden or inactive)."""
        for sku in self.client.product_skus():
            if as_int(sku.get("StatusId") or 1) not in (4, 5):
                yield str(sku.get("PartNo"))

    def named_record(self, message: str) -> str:
        """The identifier a job message names ("Row 3 (PartNo ABC-1): …" → "ABC-1"), or ""."""
        found = jobs.NAMED_IDENTIFIER.search(message)
        return found.group(1).strip() if found else ""

    def record_id(self, data_type: str, key: str, quantity: int, settings: Any) -> str:
        if data_type == "price":
            return price_id(key, quantity, settings)
        if data_type == "stock":
            return stock_id(key, settings)
        return key

    def record(self, data_type: str, item: MasterRecord, settings: Any) -> CatalogueRecord | None:
        if isinstance(item, Product):
            return product_record(item, settings)
        if isinstance(item, Price):
            return price_record(item, settings)
        if isinstance(item, StockLevel):
            return stock_record(item, settings)
        return customer_record(item, settings)
