"""Brygga's booked orders → Fortnox Invoice and Customer bodies; Fortnox invoices → Brygga's.

Pure and deterministic: the same booked order and terms always give the same body.
Money leaves as JSON numbers (int or float from the exact Decimal, which
round-trips to the same digits); quantities as strings, as the spec types them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fortnox.errors import ARTICLE_NOT_FOUND
from core.errors import FLOW_SETTINGS, ORDER_MISSING_DATA, SyncError
from core.records import Address, BookedLine, BookedOrder, Invoice, InvoiceTerms, Order, OrderLine, Party

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
# The invoice fields an order's matching key may go in (exactly-once lookup, and later payout
# matching). YourOrderNumber and ExternalInvoiceReference1 always carry the order number.
REFERENCE_FIELDS = ("ExternalInvoiceReference1", "ExternalInvoiceReference2", "YourOrderNumber")
DEFAULT_REFERENCE_FIELD = REFERENCE_FIELDS[0]
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


def invoice_payload(
    booked: BookedOrder, *, customer_number: str, terms: InvoiceTerms, known_articles: set[str] | None = None
) -> dict[str, Any]:
    """The body under ``{"Invoice": ...}`` for one booked order."""
    order = booked.order
    payload: dict[str, Any] = {
        "CustomerNumber": customer_number,
        "Currency": (order.currency or terms.currency).upper(),
        "VATIncluded": booked.prices_include_vat,
    }
    invoice_date = _local_date(order.placed_at)
    if invoice_date:  # without a date Fortnox uses today's
        payload["InvoiceDate"] = invoice_date.isoformat()
    payload.update(_references(order, terms))
    if order.customer_reference.strip():
        payload["YourReference"] = _clip(order.customer_reference, "YourReference")
    if order.comment.strip():
        payload["Remarks"] = _clip(order.comment, "Remarks")
    if terms.terms_of_payment:
        payload["TermsOfPayment"] = terms.terms_of_payment
    payload.update(_address_fields(order.buyer, prefix="", name_key="CustomerName"))
    if order.buyer.phone.strip():
        payload["Phone1"] = order.buyer.phone.strip()
    if order.ship_to is not None:
        payload.update(_address_fields(order.ship_to, prefix="Delivery", name_key="DeliveryName"))
    payload["InvoiceRows"] = [
        invoice_row(row, order=order, terms=terms, known_articles=known_articles) for row in booked.lines
    ]
    return payload


def invoice_row(
    row: BookedLine, *, order: Order, terms: InvoiceTerms, known_articles: set[str] | None = None
) -> dict[str, Any]:
    """One InvoiceRow: an article row, or a text row booked on an account."""
    line = row.line
    description = _clip(line.description, "Description")
    if line.kind == "freight":
        if terms.freight_article:
            head = {"ArticleNumber": terms.freight_article, "Description": description or FREIGHT_DESCRIPTION}
        else:
            head = _account_row(description or FREIGHT_DESCRIPTION, terms.freight_account)
    elif not line.part_no:
        # Rows without a part number (discounts, fees) are text rows on the sales account.
        head = _account_row(description or line.kind, terms.sales_account)
    elif known_articles is not None and line.part_no not in known_articles:
        head = _unknown_article_row(line, order, terms)
    else:
        head = {"ArticleNumber": line.part_no}
        if description:
            head["Description"] = description
    account = head.pop("AccountNumber", None)
    fields = {
        **head,
        "DeliveredQuantity": _quantity_text(line.quantity),
        "Price": _number(row.price),
        "VAT": int(row.vat_rate),
    }
    if account is not None:
        fields["AccountNumber"] = account
    return fields


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


def invoice_from_fortnox(item: dict[str, Any], *, reference_field: str) -> Invoice:
    """Brygga's view of a Fortnox invoice (a list item or a whole invoice)."""
    total = item.get("Total")
    vat = item.get("TotalVAT")
    return Invoice(
        number=str(item.get("DocumentNumber") or ""),
        reference=str(item.get(reference_field) or "").strip(),
        live=invoice_is_live(item),
        booked=truthy(item.get("Booked")),
        date=str(item.get("InvoiceDate") or ""),
        customer_name=str(item.get("CustomerName") or ""),
        currency=str(item.get("Currency") or ""),
        total=None if total in (None, "") else _decimal(total),
        round_off=_decimal(item.get("RoundOff")),
        vat=None if vat in (None, "") else _decimal(vat),
        vat_included=item.get("VATIncluded", True) is not False,
    )


def invoice_is_live(invoice: dict[str, Any]) -> bool:
    """Whether an invoice still stands: not cancelled, not a credit note, not credited.

    Unset document references read "0" in Fortnox, so "0" and "" both mean none."""
    if truthy(invoice.get("Cancelled")) or truthy(invoice.get("Credit")):
        return False
    return str(invoice.get("CreditInvoiceReference") or "0").strip() in ("", "0")


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


# -- helpers ------------------------------------------------------------------------
def _references(order: Order, terms: InvoiceTerms) -> dict[str, str]:
    """YourOrderNumber and ExternalInvoiceReference1 always; the key also in the reference field."""
    key = terms.reference
    refs = {"YourOrderNumber": _clip(order.order_no, "YourOrderNumber"), "ExternalInvoiceReference1": key}
    refs[terms.reference_field or DEFAULT_REFERENCE_FIELD] = key
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


def _unknown_article_row(line: OrderLine, order: Order, terms: InvoiceTerms) -> dict[str, Any]:
    if terms.unknown_article != "description_row":
        raise SyncError(
            ARTICLE_NOT_FOUND.code,
            f"Article {line.part_no!r} on order {order.order_no} (line {line.line_no}) does not exist in Fortnox",
            details={"part_no": line.part_no, "order_no": order.order_no, "line_no": line.line_no},
        )
    text = f"{line.part_no} {line.description}".strip()
    return _account_row(_clip(text, "Description"), terms.sales_account)


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
