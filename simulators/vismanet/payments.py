"""Customer payments, applied to invoices with `paymentLines`.

    POST /v1/customerPayment                             PaymentUpdateDto (wrapped) → 201
    GET  /v1/customerPayment[/{paymentNumber}]
    POST /v1/customerPayment/{paymentNumber}/action/release   {"type": {"value": "Payment"}}

Releasing applies each line's `amountPaid` to its invoice: the balance drops, the invoice
is Closed at zero. The payment is Closed when it is fully applied, else Open.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.vismanet.api import VismaNetApi, plain
from simulators.vismanet.company import Company
from simulators.vismanet.errors import customer_not_found, not_found, validation
from simulators.vismanet.values import ZERO, ChangeFilter, parse_document_date, round_ore, to_bool, to_decimal, unwrap

PAYMENT_FIELDS = frozenset(
    {
        "type",
        "referenceNumber",
        "overrideNumberSeries",
        "hold",
        "applicationDate",
        "applicationPeriod",
        "paymentRef",
        "customer",
        "location",
        "paymentMethod",
        "cashAccount",
        "currency",
        "paymentAmount",
        "invoiceText",
        "branch",
        "paymentLines",
    }
)
PAYMENT_LINE_FIELDS = frozenset(
    {"operation", "documentType", "refNbr", "amountPaid", "cashDiscountTaken", "balanceWriteOff", "crossRate"}
)
FIRST_PAYMENT_NUMBER = 500001


class PaymentResource(VismaNetApi):
    """Customer payments of `VismaNetSimulator` (no flow of the product uses them yet)."""

    def _post_payment(self, request: Request, company: Company) -> Response:
        fields = self._wrapped_body(request)
        unknown = sorted(set(fields) - PAYMENT_FIELDS)
        if unknown:
            raise validation(f"The field '{unknown[0]}' is not a field of a customer payment")
        if fields.get("type", "Payment") != "Payment":
            raise validation("Only payments of type 'Payment' are supported")
        customer = str(fields.get("customer") or "")
        if customer not in company.customers:
            raise customer_not_found(customer)
        number = company.next_number("payment", FIRST_PAYMENT_NUMBER, taken=company.payments)
        hold = to_bool(fields.get("hold", False), "hold")
        lines = []
        for position, line in enumerate(fields.get("paymentLines", [])):
            name = f"paymentLines[{position}]"
            unknown = sorted(set(line) - PAYMENT_LINE_FIELDS)
            if unknown:
                raise validation(f"The field '{name}.{unknown[0]}' is not a field of a payment line")
            if line.get("operation") != "Insert":
                raise validation(f"'{name}.operation' must be Insert on a new payment")
            invoice = company.invoices.get(str(line.get("refNbr") or ""))
            if invoice is None or invoice["customer"]["number"] != customer:
                raise validation(f"'{name}': document '{line.get('refNbr')}' of customer '{customer}' not found")
            lines.append(
                {
                    "documentType": line.get("documentType", "Invoice"),
                    "refNbr": invoice["referenceNumber"],
                    "amountPaid": round_ore(
                        to_decimal(line.get("amountPaid", invoice["balance"]), f"{name}.amountPaid")
                    ),
                }
            )
        applied = sum((line["amountPaid"] for line in lines), ZERO)
        amount = round_ore(to_decimal(fields.get("paymentAmount", applied), "paymentAmount"))
        if applied > amount:
            raise validation("The amounts applied exceed the payment amount")
        today = self.clock().date()
        payment: dict[str, Any] = {
            "type": "Payment",
            "refNbr": number,
            "status": "Hold" if hold else "Balanced",
            "hold": hold,
            "customer": {"number": customer, "name": company.customers[customer]["name"]},
            "applicationDate": (
                parse_document_date(fields["applicationDate"], "applicationDate")
                if "applicationDate" in fields
                else today
            ),
            "paymentRef": fields.get("paymentRef"),
            "paymentMethod": {"id": fields.get("paymentMethod")},
            "cashAccount": fields.get("cashAccount"),
            "currency": fields.get("currency", company.currency),
            "paymentAmount": amount,
            "appliedToDocuments": applied,
            "unappliedBalance": amount,
            "paymentLines": lines,
        }
        self._stamp_record(company, payment, created=True)
        company.payments[number] = payment
        return self._created(f"/v1/customerPayment/{number}", payment)

    def _get_payment(self, request: Request, company: Company) -> Response:
        payment = self._payment(company, request.params["number"])
        return self._one(payment, plain(payment))

    def _list_payments(self, request: Request, company: Company) -> Response:
        changed = ChangeFilter(request.query, "lastModifiedDateTime")
        records = sorted(
            (p for p in company.payments.values() if changed.accepts(p["lastModifiedDateTime"])),
            key=lambda p: p["refNbr"],
        )
        return self._list(request, records, plain)

    def _release_payment(self, request: Request, company: Company) -> Response:
        payment = self._payment(company, request.params["number"])
        body = unwrap(self._plain_body(request)) if request.body.strip() else {}
        if body.get("type", "Payment") != "Payment":
            raise validation("Only payments of type 'Payment' can be released here")
        if payment["status"] != "Balanced":
            raise validation(f"Payment '{payment['refNbr']}' is {payment['status']} and cannot be released")
        for line in payment["paymentLines"]:
            invoice = company.invoices[line["refNbr"]]
            if invoice["status"] != "Open":
                raise validation(f"Document '{invoice['referenceNumber']}' is {invoice['status']}, not Open")
            if line["amountPaid"] > invoice["balance"]:
                raise validation(f"The amount paid exceeds the balance of document '{invoice['referenceNumber']}'")
        for line in payment["paymentLines"]:
            invoice = company.invoices[line["refNbr"]]
            invoice["balance"] -= line["amountPaid"]
            if invoice["balance"] == Decimal(0):
                invoice["status"] = "Closed"
            self._stamp_record(company, invoice)
            self.notify(company, "ArInvoice", "StatusChanged", invoice["referenceNumber"])
        payment["unappliedBalance"] = payment["paymentAmount"] - payment["appliedToDocuments"]
        payment["status"] = "Closed" if payment["unappliedBalance"] == 0 else "Open"
        self._stamp_record(company, payment)
        return self._action_done()

    @staticmethod
    def _payment(company: Company, number: str) -> dict[str, Any]:
        payment = company.payments.get(number)
        if payment is None:
            raise not_found("Customer payment", number)
        return payment
