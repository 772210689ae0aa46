"""Brygga's order records → Fortnox Invoice and Customer bodies, and the total check.

Pure and deterministic: the same order and settings always give the same body.
Money leaves as JSON numbers (int or float from the exact Decimal, which
round-trips to the same digits); quantities as strings, as the spec types them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bookkeeping.vat import check_line_vat, gross_unit_price, line_amounts, order_totals, quantize_ore, vat_from_gross
from connectors.fortnox.errors import ARTICLE_NOT_FOUND
from core.errors import FLOW_SETTINGS, ORDER_MISSING_DATA, SyncError
from core.records import Address, Order, OrderLine, Party
from integrations.flows.order_settings import OrderFlowSettings

# Invoice dates are Swedish bookkeeping dates, whatever the server's zone.
SWEDEN = ZoneInfo("Europe/Stockholm")
# Maximum lengths from the Fortnox OpenAPI spec (InvoiceSinglePayloadItem / CustomerSinglePayloadItem).
MAX_LENGTH = {
    "YourOrderNumber": 75,
    "ExternalInvoiceReference1": 80,
    "ExternalInvoiceReference2": 80,
    "YourReference": 50,
    "Remarks": 1024,
    "Description": 255,
    "Text": 1024,
    "ZipCode": 10,
    "Name": 1024,
}
FREIGHT_DESCRIPTION = "Frakt"
# Invoice `Country`/`DeliveryCountry` take a country *name* as Fortnox lists it
# (Swedish). Only names we are sure of are sent; for other countries the field is
# left out and Fortnox takes the country from the customer card.
COUNTRY_NAMES = {
    "SE": "Sverige",
    "NO": "Norge",
    "DK": "Danmark",
    "FI": "Finland",
    "IS": "Island",
    "DE": "Tyskland",
    "NL": "Nederländerna",
    "BE": "Belgien",
    "FR": "Frankrike",
    "ES": "Spanien",
    "IT": "Italien",
    "AT": "Österrike",
    "PL": "Polen",
    "EE": "Estland",
    "LV": "Lettland",
    "LT": "Litauen",
    "IE": "Irland",
    "GB": "Storbritannien",
    "CH": "Schweiz",
}


def order_reference(order: Order, settings: OrderFlowSettings) -> str:
    """The matching key written to the invoice: reference_prefix + order number."""
    return f"{settings.reference_prefix}{order.order_no}"


def invoice_payload(
    order: Order, *, customer_number: str, settings: OrderFlowSettings, known_articles: set[str] | None = None
) -> dict[str, Any]:
    """The body under ``{"Invoice": ...}`` for one order."""
    for line in order.lines:
        check_line_vat(line)
    payload: dict[str, Any] = {
        "CustomerNumber": customer_number,
        "Currency": (order.currency or settings.currency).upper(),
        "VATIncluded": settings.prices_include_vat,
    }
    invoice_date = _local_date(order.placed_at)
    if invoice_date:  # without a date Fortnox uses today's
        payload["InvoiceDate"] = invoice_date.isoformat()
    payload.update(_references(order, settings))
    if order.customer_reference.strip():
        payload["YourReference"] = _clip(order.customer_reference, "YourReference")
    if order.comment.strip():
        payload["Remarks"] = _clip(order.comment, "Remarks")
    if settings.terms_of_payment:
        payload["TermsOfPayment"] = settings.terms_of_payment
    payload.update(_address_fields(order.buyer, prefix="", name_key="CustomerName"))
    if order.buyer.phone.strip():
        payload["Phone1"] = order.buyer.phone.strip()
    if order.ship_to is not None:
        payload.update(_address_fields(order.ship_to, prefix="Delivery", name_key="DeliveryName"))
    payload["InvoiceRows"] = [
        invoice_row(line, order=order, settings=settings, known_articles=known_articles) for line in order.lines
    ]
    return payload


def invoice_row(
    line: OrderLine, *, order: Order, settings: OrderFlowSettings, known_articles: set[str] | None = None
) -> dict[str, Any]:
    """One InvoiceRow: an article row, or a text row booked on an account."""
    description = _clip(line.description, "Description")
    if line.kind == "freight":
        if settings.freight_article:
            head = {"ArticleNumber": settings.freight_article, "Description": description or FREIGHT_DESCRIPTION}
        else:
            head = _account_row(description or FREIGHT_DESCRIPTION, settings.freight_account)
    elif not line.part_no:
        # Rows without a part number (discounts, fees) are text rows on the sales account.
        head = _account_row(description or line.kind, settings.sales_account)
    elif known_articles is not None and line.part_no not in known_articles:
        head = _unknown_article_row(line, order, settings)
    else:
        head = {"ArticleNumber": line.part_no}
        if description:
            head["Description"] = description
    price = gross_unit_price(line) if settings.prices_include_vat else Decimal(line.unit_price)
    account = head.pop("AccountNumber", None)
    assert line.vat_rate is not None, "check_line_vat refuses a line without a VAT rate"
    row = {
        **head,
        "DeliveredQuantity": _quantity_text(line.quantity),
        "Price": _number(price),
        "VAT": int(line.vat_rate),
    }
    if account is not None:
        row["AccountNumber"] = account
    return row


def customer_payload(party: Party, currency: str) -> dict[str, Any]:
    """The body under ``{"Customer": ...}`` for a buyer; empty fields are left out."""
    name = party.display_name.strip()
    if not name:
        raise SyncError(
            ORDER_MISSING_DATA.code,
            "The buyer has no name: Fortnox needs one for the customer",
            details={"field": "buyer.name", "email": party.email},
        )
    address = party.address
    line1, line2 = _address_lines(address)
    fields: dict[str, Any] = {
        "Name": _clip(name, "Name"),
        "Type": "COMPANY" if party.kind == "company" else "PRIVATE",
        "Email": party.email.strip(),
        "OrganisationNumber": party.organisation_number.strip(),
        "VATNumber": party.vat_number.strip().replace(" ", "").upper(),
        "Address1": line1,
        "Address2": line2,
        "ZipCode": _clip(address.zip_code, "ZipCode"),
        "City": address.city.strip(),
        "CountryCode": address.country.strip().upper()[:2],
        "Phone1": party.phone.strip(),
        "Currency": currency.upper(),
    }
    contact = " ".join(p for p in (party.first_name, party.last_name) if p).strip()
    if party.kind == "company" and contact and contact != name:
        fields["YourReference"] = _clip(contact, "YourReference")
    return {key: value for key, value in fields.items() if value}


def invoice_matches_order(invoice: dict[str, Any], order: Order) -> tuple[bool, str]:
    """Whether Fortnox's computed totals agree with the order's, with an explanation.

    The gross (``Total`` less its öresavrundning ``RoundOff``) must equal the
    order's to the öre. VAT must equal the order's to the öre, or the VAT Fortnox
    itself derives from the rows we sent: Norce rounds VAT per unit (UnitVat ×
    Quantity) while Fortnox computes it from the row amounts (gross when
    VATIncluded), so the two may differ by rounding. Which rounding Fortnox uses
    (per row or per rate) is not documented; both are accepted. The explanation
    is also returned when the totals agree but VAT differs by such rounding.
    """
    totals = order_totals(order)
    total = quantize_ore(_decimal(invoice.get("Total")) - _decimal(invoice.get("RoundOff")))
    vat = quantize_ore(_decimal(invoice.get("TotalVAT")))
    currency = invoice.get("Currency") or order.currency
    prefix = f"Fortnox invoice {invoice.get('DocumentNumber') or '?'} for order {order.order_no}: "
    problems = []
    if total != totals.gross:
        problems.append(
            f"total {total} {currency} (before rounding) but the order's is {totals.gross} "
            f"(difference {total - totals.gross:+})"
        )
    derived = _derived_vat(order, gross=invoice.get("VATIncluded", True) is not False)
    if vat != totals.vat and vat not in derived:
        problems.append(f"VAT {vat} {currency} but the order's is {totals.vat} (difference {vat - totals.vat:+})")
    if problems:
        return False, prefix + "; ".join(problems)
    if vat != totals.vat:
        return True, (
            prefix + f"VAT {vat} {currency} differs from the order's {totals.vat} by "
            f"{vat - totals.vat:+} through rounding (Fortnox computes VAT from the row amounts)"
        )
    return True, ""


# -- helpers ------------------------------------------------------------------------
def _references(order: Order, settings: OrderFlowSettings) -> dict[str, str]:
    """YourOrderNumber and ExternalInvoiceReference1 always; the key also in `reference_field`."""
    key = order_reference(order, settings)
    refs = {"YourOrderNumber": _clip(order.order_no, "YourOrderNumber"), "ExternalInvoiceReference1": key}
    refs[settings.reference_field] = key
    for field, value in refs.items():
        limit = MAX_LENGTH.get(field)
        if value == key and limit and len(key) > limit:
            # Clipping the key would break the exact-match lookup; a person must shorten the prefix.
            raise SyncError(
                FLOW_SETTINGS.code,
                f"The reference {key!r} is longer than the {limit} characters "
                f"Fortnox allows in {field}; shorten 'reference_prefix'",
                details={"field": field},
            )
    return refs


def _derived_vat(order: Order, *, gross: bool) -> set[Decimal]:
    """VAT totals Fortnox may compute from our rows: rounded per row, or per rate."""
    per_row = Decimal("0.00")
    by_rate: dict[Decimal, Decimal] = {}
    for line in order.lines:
        amounts = line_amounts(line)
        rate = Decimal(line.vat_rate or 0)
        base = amounts.gross if gross else amounts.net
        per_row += _vat_of(base, rate, gross)
        by_rate[rate] = by_rate.get(rate, Decimal("0.00")) + base
    per_rate = sum((_vat_of(base, rate, gross) for rate, base in by_rate.items()), Decimal("0.00"))
    return {per_row, per_rate}


def _vat_of(amount: Decimal, rate: Decimal, gross: bool) -> Decimal:
    return vat_from_gross(amount, rate) if gross else quantize_ore(amount * rate / 100)


def _unknown_article_row(line: OrderLine, order: Order, settings: OrderFlowSettings) -> dict[str, Any]:
    if settings.unknown_article != "description_row":
        raise SyncError(
            ARTICLE_NOT_FOUND.code,
            f"Article {line.part_no!r} on order {order.order_no} (line {line.line_no}) does not exist in Fortnox",
            details={"part_no": line.part_no, "order_no": order.order_no, "line_no": line.line_no},
        )
    text = f"{line.part_no} {line.description}".strip()
    return _account_row(_clip(text, "Description"), settings.sales_account)


def _account_row(description: str, account: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {"Description": _clip(description, "Description")}
    if account:
        row["AccountNumber"] = int(account)
    return row


def _address_fields(party: Party, *, prefix: str, name_key: str) -> dict[str, str]:
    """The invoice's address fields for a party: the buyer (no prefix) or the consignee ("Delivery")."""
    line1, line2 = _address_lines(party.address)
    fields = {
        name_key: party.display_name.strip(),
        f"{prefix}Address1": line1,
        f"{prefix}Address2": line2,
        f"{prefix}ZipCode": party.address.zip_code.strip(),
        f"{prefix}City": party.address.city.strip(),
        f"{prefix}Country": COUNTRY_NAMES.get(party.address.country.strip().upper(), ""),
    }
    return {key: value for key, value in fields.items() if value}


def _address_lines(address: Address) -> tuple[str, str]:
    """Street lines; a c/o goes on line 2 when that is free."""
    line1, line2 = address.line1.strip(), address.line2.strip()
    care_of = address.care_of.strip()
    if care_of and not line2:
        line2 = care_of if care_of.lower().startswith("c/o") else f"c/o {care_of}"
    return _clip(line1, "Text"), _clip(line2, "Text")


def _local_date(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(SWEDEN)
    return moment.date()


def _clip(text: str, field: str) -> str:
    return (text or "").strip()[: MAX_LENGTH[field]].strip()


def _quantity_text(quantity: Decimal) -> str:
    """'2', '1.5', '100': no exponent, no trailing zeros."""
    text = format(Decimal(quantity).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _number(value: Decimal) -> int | float:
    """A JSON number for an exact Decimal: int when whole, else the float with the same digits."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _decimal(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    return Decimal(str(value))
