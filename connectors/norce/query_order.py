"""A Norce Query 2.0 ``Orders/Orders`` item → Brygga's records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connectors.norce.mapping import (
    FEE,
    FREIGHT,
    ITEM_TYPE_GROUPS,
    ITEM_TYPES,
    PRODUCT,
    _datetime,
    _first_text,
    _items,
    _malformed,
    _number,
    _object,
    _order_ref,
    _require_object,
    _required_number,
    _text,
    _whole,
    company_numbers,
    enum_name,
    line_kind,
    looks_like_freight,
    make_party,
)
from core.records import Address, Order, OrderLine, Party

# Query 2.0 orders carry a CurrencyId (a row in Core/Currencies), not a code. The
# ids are tenant-specific: this default covers the common single-currency SEK
# shop; the Norce connector setting `currency_ids` ({"1": "SEK", "2": "EUR"})
# replaces it.
DEFAULT_CURRENCY_IDS: dict[int, str] = {1: "SEK"}

# Query rows may carry the SKU's type id (SkuType in the contracts): Freight 3,
# FreightStructure 36; Invoice 9 (invoice fee), EnvironmentalFee 20, PackingFee 21.
SKU_TYPE_KINDS: dict[int, str] = {3: FREIGHT, 36: FREIGHT, 9: FEE, 20: FEE, 21: FEE}


# --- Query 2.0 order -----------------------------------------------------------------------
def _currency_code(currency_id: int, currency_ids: Mapping[Any, str] | None) -> str:
    """The ISO code for a Query CurrencyId; "" when the table does not know it."""
    table = DEFAULT_CURRENCY_IDS if currency_ids is None else currency_ids
    codes = {str(k).strip(): str(v).strip().upper() for k, v in table.items()}
    return codes.get(str(currency_id), "")


def _query_country(node: dict[str, Any], country_ids: Mapping[Any, str] | None) -> str:
    """ISO country code: CountryCode/Country when present, else CountryId via `country_ids`."""
    code = _first_text(node, "countrycode", "country")
    if code:
        return code.upper()
    country_id = _text(node, "countryid")
    if country_id and country_ids:
        table = {str(k): str(v).upper() for k, v in country_ids.items()}
        return table.get(country_id, "")
    return ""


ROLE_FIELDS = {"buyer": "Buyer", "payer": "Payer", "shipto": "ShipTo"}


def _split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


def _query_party(
    order: dict[str, Any], role: str, node: dict[str, Any], country_ids: Mapping[Any, str] | None
) -> Party:
    """A Party from a Query order address (Buyer/Payer/ShipTo) plus the order's role ids.

    A company is recognised by the order's `{role}CompanyId/Code` or by company
    fields on the address (CompanyCode/CompanyName/OrganizationNumber: the 2.0
    spelling is unverified); then Name is the company and Attention the contact.
    Without an organisation number on the order it stays empty here (it lives on
    the company in Customers/Companies).
    """
    field = ROLE_FIELDS[role]
    company_code = _text(node, "companycode") or _text(order, f"{role}companycode")
    company_name = _text(node, "companyname")
    is_company = bool(company_code or company_name or _text(order, f"{role}companyid"))
    name = _text(node, "name", f"{field}.Name")
    contact = _text(node, "attention", f"{field}.Attention") if is_company else name
    first, last = _split_name(contact)
    return make_party(
        company=is_company,
        name=(company_name or name) if is_company else name,
        first_name=first,
        last_name=last,
        email=_text(node, "emailaddress", f"{field}.EmailAddress") or _text(node, "email", f"{field}.Email"),
        phone=_first_text(node, "phonenumber", "shippingphonenumber"),
        numbers=company_numbers(node, field),
        customer_code=company_code or _text(order, f"{role}customercode"),
        address=Address(
            line1=_text(node, "line1", f"{field}.Line1"),
            line2=_text(node, "line2", f"{field}.Line2"),
            zip_code=_text(node, "zipcode", f"{field}.ZipCode"),
            city=_text(node, "city", f"{field}.City"),
            country=_query_country(node, country_ids),
            care_of=_text(node, "careof", f"{field}.CareOf"),
        ),
    )


def _query_line(item: Any, index: int, freight_part_nos: set[str]) -> OrderLine:
    field = f"Items[{index}]"
    if not isinstance(item, dict):
        raise _malformed(field, f"must be an object, got {type(item).__name__}")
    part_no = _text(item, "partno", f"{field}.PartNo")
    description = _text(item, "productname", f"{field}.ProductName") or part_no
    quantity = _required_number(item, "qtyordered", f"{field}.QtyOrdered")
    unit_price = _number(item, "pricesale", f"{field}.PriceSale")
    if unit_price is None:
        line_amount = _number(item, "lineamount", f"{field}.LineAmount")
        if line_amount is None or not quantity:
            raise _malformed(f"{field}.PriceSale", "is missing")
        unit_price = line_amount / quantity
    sku_type = _whole(item, "skutypeid", f"{field}.SkuTypeId")
    if part_no.upper() in freight_part_nos:
        kind = FREIGHT
    elif item.get("type") not in (None, ""):
        item_type = enum_name(item.get("type"), ITEM_TYPES, f"{field}.Type")
        type_group = enum_name(item.get("typegroup"), ITEM_TYPE_GROUPS, f"{field}.TypeGroup")
        kind = line_kind(item_type, type_group, codes=(part_no,), description=description)
    elif sku_type in SKU_TYPE_KINDS:
        kind = SKU_TYPE_KINDS[sku_type]
    else:
        # Documented Query rows carry no type: shipping is an ordinary row with a
        # tenant-specific PartNo, recognised by the configured list or its code.
        kind = FREIGHT if looks_like_freight(part_no) else PRODUCT
    line_no = _whole(item, "linenumber", f"{field}.LineNumber")
    return OrderLine(
        line_no=line_no if line_no is not None else index + 1,
        kind=kind,
        part_no=part_no,
        description=description,
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=_number(item, "vatrate", f"{field}.VatRate"),
    )


def order_from_query(
    order: Any,
    *,
    currency_ids: Mapping[Any, str] | None = None,
    country_ids: Mapping[Any, str] | None = None,
    freight_part_nos: Iterable[str] = (),
) -> Order:
    """Read a Query 2.0 ``Orders/Orders`` item expanded with Items, Buyer, Payer and ShipTo.

    PriceSale is the unit price ex VAT after discounts; Query rows carry no unit
    VAT (the flow computes it from VatRate). `currency_ids` / `country_ids` map
    Norce's tenant-specific ids to ISO codes (connector settings).
    """
    data = _require_object(order)
    order_no = _order_ref(data.get("orderno"), "OrderNo")
    # The dedupe key must equal the push's and the event's ClientOrderRef, which
    # is the basket (quotation) id. Query's OrderNo is that same id unless the
    # ERP's order number replaced it after confirmation, so a ClientOrderRef or
    # QuotationId on the Query order wins over OrderNo.
    source_id = (
        _order_ref(data.get("clientorderref"), "ClientOrderRef")
        or _order_ref(data.get("quotationid"), "QuotationId")
        or order_no
    )
    if not source_id:
        raise _malformed("OrderNo", "is missing")
    freight_codes = {p.strip().upper() for p in freight_part_nos}
    lines = [_query_line(item, i, freight_codes) for i, item in enumerate(_items(data))]
    currency = _text(data, "currencycode", "CurrencyCode").upper()
    if not currency:
        currency_id = _whole(data, "currencyid", "CurrencyId")
        currency = _currency_code(currency_id, currency_ids) if currency_id is not None else ""
    payer = _object(data, "payer", "Payer")
    buyer = (
        _query_party(data, "payer", payer, country_ids)
        if payer
        else _query_party(data, "buyer", _object(data, "buyer", "Buyer"), country_ids)
    )
    ship_to = _object(data, "shipto", "ShipTo")
    return Order(
        source_id=source_id,
        order_no=order_no or source_id,
        currency=currency,
        buyer=buyer,
        lines=lines,
        placed_at=_datetime(data, "orderdate", "OrderDate") or _datetime(data, "created", "Created"),
        ship_to=_query_party(data, "shipto", ship_to, country_ids) if ship_to else None,
        # 2.0 spelling of the delivery mark / delivery method is unverified; both readings are tried.
        customer_reference=_first_text(data, "customerorderreference", "customerorderref"),
        delivery_method=_first_text(data, "deliverymethodcode", "deliverymode"),
        application_id=_text(data, "applicationid", "ApplicationId"),
    )
