"""Invoices: /3/invoices[/{DocumentNumber}] (GET list/one, POST, PUT) and the actions
PUT .../bookkeep|cancel|credit|externalprint (rows and totals: `simulators.fortnox.invoice_rows`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from simulators.base import Request, Response
from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.errors import ApiError, Code
from simulators.fortnox.values import number, parse_day, quantity_text, to_decimal
from simulators.numbers import luhn_digit

INVOICE_READ_ONLY = frozenset(
    {
        "@url",
        "@urlTaxReductionList",
        "AccountingMethod",
        "AdministrationFeeVAT",
        "Balance",
        "BasisTaxReduction",
        "Booked",
        "Cancelled",
        "ContractReference",
        "ContributionPercent",
        "ContributionValue",
        "Credit",
        "FinalPayDate",
        "FreightVAT",
        "Gross",
        "HouseWork",
        "InvoicePeriodEnd",
        "InvoicePeriodReference",
        "InvoicePeriodStart",
        "InvoiceReference",
        "LastRemindDate",
        "Net",
        "NoxFinans",
        "OfferReference",
        "OrderReference",
        "OrganisationNumber",
        "Reminders",
        "RoundOff",
        "Sent",
        "TaxReduction",
        "TimeBasisReference",
        "Total",
        "TotalToPay",
        "TotalVAT",
        "VoucherNumber",
        "VoucherSeries",
        "VoucherYear",
        "WarehouseReady",
    }
)

INVOICE_WRITABLE = frozenset(
    {
        "AdministrationFee",
        "Address1",
        "Address2",
        "City",
        "Comments",
        "CostCenter",
        "Country",
        "CreditInvoiceReference",
        "Currency",
        "CurrencyRate",
        "CurrencyUnit",
        "CustomerName",
        "CustomerNumber",
        "DeliveryAddress1",
        "DeliveryAddress2",
        "DeliveryCity",
        "DeliveryCountry",
        "DeliveryDate",
        "DeliveryName",
        "DeliveryZipCode",
        "DocumentNumber",
        "DueDate",
        "EDIInformation",
        "EUQuarterlyReport",
        "EmailInformation",
        "ExternalInvoiceReference1",
        "ExternalInvoiceReference2",
        "Freight",
        "InvoiceDate",
        "InvoiceRows",
        "InvoiceType",
        "Labels",
        "Language",
        "NotCompleted",
        "OCR",
        "OurReference",
        "OutboundDate",
        "PaymentWay",
        "Phone1",
        "Phone2",
        "PriceList",
        "PrintTemplate",
        "Project",
        "Remarks",
        "TaxReductionType",
        "TermsOfDelivery",
        "TermsOfPayment",
        "VATIncluded",
        "WayOfDelivery",
        "YourOrderNumber",
        "YourReference",
        "ZipCode",
    }
)

INVOICE_SEARCH = {
    "customernumber": "CustomerNumber",
    "customername": "CustomerName",
    "documentnumber": "DocumentNumber",
    "ocr": "OCR",
    "yourreference": "YourReference",
    "ourreference": "OurReference",
    "yourordernumber": "YourOrderNumber",
    "externalinvoicereference1": "ExternalInvoiceReference1",
    "externalinvoicereference2": "ExternalInvoiceReference2",
    "currency": "Currency",
    "costcenter": "CostCenter",
    "project": "Project",
}
INVOICE_SORT = {
    "customername": "CustomerName",
    "customernumber": "CustomerNumber",
    "documentnumber": "DocumentNumber",
    "invoicedate": "InvoiceDate",
    "ocr": "OCR",
    "total": "Total",
}


class InvoiceResource(FortnoxApi):
    """Invoices and their credit notes, with the timing faults of an invoice POST."""

    def pay_invoice(self, document_number: str, amount: Any = None, *, pay_date: date | None = None) -> dict[str, Any]:
        """Register a booked payment (the whole balance by default); sets FinalPayDate at zero balance."""
        with self.lock:
            invoice = self._invoice(str(document_number))
            paid = to_decimal(invoice["Balance"] if amount is None else amount)
            balance = to_decimal(invoice["Balance"]) - paid
            invoice["Balance"] = number(balance)
            if balance == 0:
                invoice["FinalPayDate"] = (pay_date or self.clock().date()).isoformat()
            self._touch("invoices", invoice["DocumentNumber"])
            return invoice

    def _held(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Delay successful answers by `hold_after_create` seconds, outside the state lock."""

        def wrapped(request: Request) -> Response:
            response = handler(request)
            if response.status < 300 and self.hold_after_create:
                time.sleep(self.hold_after_create)
            return response

        return wrapped

    def _committed_late(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """Hold an invoice POST `commit_late` seconds before it is handled (committed), outside the lock."""

        def wrapped(request: Request) -> Response:
            with self.lock:
                delay = self.commit_late
                if delay and self.commit_late_posts > 0:
                    self.commit_late_posts -= 1
                    if self.commit_late_posts == 0:
                        self.commit_late = 0.0
                if delay:
                    self.late_commits += 1
            if delay:
                time.sleep(delay)
            return handler(request)

        return wrapped

    def _invoice(self, number_: str) -> dict[str, Any]:
        invoice = self.invoices.get(number_)
        if invoice is None:
            raise ApiError(404, "Kan inte hitta fakturan.", Code.INVOICE_NOT_FOUND)
        return invoice

    def _list_invoices(self, request: Request) -> Response:
        records = list(self.invoices.values())
        state = request.query.get("filter", "")
        today = self.clock().date().isoformat()
        filters: dict[str, Callable[[dict[str, Any]], bool]] = {
            "cancelled": lambda i: i["Cancelled"],
            "fullypaid": lambda i: not i["Cancelled"] and i["Booked"] and i["Balance"] == 0,
            "unpaid": lambda i: not i["Cancelled"] and i["Balance"] != 0,
            "unpaidoverdue": lambda i: not i["Cancelled"] and i["Balance"] != 0 and i["DueDate"] < today,
            "unbooked": lambda i: not i["Cancelled"] and not i["Booked"],
        }
        if state:
            if state not in filters:
                raise ApiError(400, f"Ogiltig parameter i anropet. (filter={state})", Code.INVALID_PARAMETER)
            records = [i for i in records if filters[state](i)]
        if request.query.get("fromdate"):
            start = parse_day(request.query["fromdate"], "fromdate").isoformat()
            records = [i for i in records if i["InvoiceDate"] >= start]
        if request.query.get("todate"):
            end = parse_day(request.query["todate"], "todate").isoformat()
            records = [i for i in records if i["InvoiceDate"] <= end]
        page, meta = self._list(
            request, "invoices", records, search=INVOICE_SEARCH, sort=INVOICE_SORT, key_field="DocumentNumber"
        )
        items = [self._invoice_body(invoice, rows=False) for invoice in page]
        return Response(body={"Invoices": items, "MetaInformation": meta})

    def _get_invoice(self, request: Request) -> Response:
        return Response(body={"Invoice": self._invoice_body(self._invoice(request.params["number"]))})

    def _post_invoice(self, request: Request) -> Response:
        data = self._payload(request, "Invoice", INVOICE_WRITABLE, INVOICE_READ_ONLY)
        invoice = self._create_invoice(data)
        if self.fail_after_create > 0:
            # "Created, but the answer was lost": the invoice exists, the client sees a 503.
            self.fail_after_create -= 1
            self.lost_responses += 1
            return self.error_response(503, "Service Unavailable", Code.SYSTEM_EXCEPTION)
        return Response(status=201, body={"Invoice": self._invoice_body(invoice)})

    def _put_invoice(self, request: Request) -> Response:
        invoice = self._invoice(request.params["number"])
        data = self._payload(request, "Invoice", INVOICE_WRITABLE, INVOICE_READ_ONLY)
        if invoice["Booked"]:
            raise ApiError(400, "Fakturan är bokförd och kan inte ändras.", Code.DOCUMENT_LOCKED)
        if invoice["Cancelled"]:
            raise ApiError(400, "Fakturan är makulerad och kan inte ändras.", Code.DOCUMENT_LOCKED)
        if "DocumentNumber" in data and str(data.pop("DocumentNumber")) != invoice["DocumentNumber"]:
            raise ApiError(400, "Dokumentnumret kan inte ändras.", Code.INVALID_VALUE)
        updated = dict(invoice)
        self._apply_invoice_fields(updated, data)
        self._compute_totals(updated)
        invoice.clear()
        invoice.update(updated)
        self._touch("invoices", invoice["DocumentNumber"])
        return Response(body={"Invoice": self._invoice_body(invoice)})

    def _invoice_action(self, request: Request) -> Response:
        invoice = self._invoice(request.params["number"])
        action = request.params["action"].lower()
        if invoice["Cancelled"]:
            raise ApiError(400, "Fakturan är makulerad.", Code.ACTION_NOT_ALLOWED)
        if action == "bookkeep":
            if invoice["Booked"]:
                raise ApiError(400, "Fakturan är redan bokförd.", Code.ACTION_NOT_ALLOWED)
            self._voucher_number += 1
            invoice.update(
                {
                    "Booked": True,
                    "VoucherSeries": "B",
                    "VoucherNumber": self._voucher_number,
                    "VoucherYear": int(invoice["InvoiceDate"][:4]),
                }
            )
        elif action == "cancel":
            if invoice["Booked"]:
                raise ApiError(
                    400, "En bokförd faktura kan inte makuleras; kreditera den i stället.", Code.ACTION_NOT_ALLOWED
                )
            invoice["Cancelled"] = True
        elif action == "credit":
            # Crediting is modelled for booked invoices only (public clients book first). The
            # answer is the original invoice, whose CreditInvoiceReference names the credit note.
            if not invoice["Booked"]:
                raise ApiError(400, "Endast bokförda fakturor kan krediteras.", Code.ACTION_NOT_ALLOWED)
            if invoice["Credit"] == "true" or invoice["CreditInvoiceReference"] not in ("", "0"):
                raise ApiError(400, "Fakturan är redan krediterad.", Code.ACTION_NOT_ALLOWED)
            credit = self._create_credit(invoice)
            invoice["CreditInvoiceReference"] = credit["DocumentNumber"]
        elif action == "externalprint":
            invoice["Sent"] = True
        self._touch("invoices", invoice["DocumentNumber"])
        return Response(body={"Invoice": self._invoice_body(invoice)})

    def _invoice_body(self, invoice: dict[str, Any], *, rows: bool = True) -> dict[str, Any]:
        """An invoice as answered: links first; list items carry no rows."""
        number_ = invoice["DocumentNumber"]
        body = {
            "@url": self._url(f"/3/invoices/{number_}"),
            "@urlTaxReductionList": self._url(f"/3/taxreductions?filter=invoices&referencenumber={number_}"),
            **{k: v for k, v in invoice.items() if k != "InvoiceRows"},
        }
        if rows:
            body["InvoiceRows"] = [dict(row) for row in invoice["InvoiceRows"]]
        return body

    def _create_invoice(self, data: dict[str, Any]) -> dict[str, Any]:
        if not str(data.get("CustomerNumber") or "").strip():
            raise ApiError(400, "Kunde inte hämta/hitta kund (kundnummer)", Code.CUSTOMER_NOT_FOUND)
        number_ = str(data.pop("DocumentNumber", "") or "").strip()
        if number_ and number_ in self.invoices:
            raise ApiError(400, f"Dokumentnummer {number_} används redan.", Code.NUMBER_USED)
        number_ = number_ or self._next_number(self.invoices)
        today = self.clock().date().isoformat()
        invoice: dict[str, Any] = {
            "AccountingMethod": "ACCRUAL",
            "Address1": "",
            "Address2": "",
            "AdministrationFee": 0,
            "AdministrationFeeVAT": 0,
            "Balance": 0,
            "BasisTaxReduction": 0,
            "Booked": False,
            "Cancelled": False,
            "City": "",
            "Comments": "",
            "ContractReference": 0,
            "CostCenter": "",
            "Country": "",
            # Unset references read "0" on real documents, so a truthiness check is not enough.
            "Credit": "false",
            "CreditInvoiceReference": "0",
            "Currency": "",
            "CurrencyRate": 1,
            "CurrencyUnit": 1,
            "CustomerName": "",
            "CustomerNumber": "",
            "DeliveryAddress1": "",
            "DeliveryAddress2": "",
            "DeliveryCity": "",
            "DeliveryCountry": "",
            "DeliveryDate": None,
            "DeliveryName": "",
            "DeliveryZipCode": "",
            "DocumentNumber": number_,
            "DueDate": "",
            "EUQuarterlyReport": False,
            "ExternalInvoiceReference1": "",
            "ExternalInvoiceReference2": "",
            "FinalPayDate": None,
            "Freight": 0,
            "FreightVAT": 0,
            "Gross": 0,
            "HouseWork": False,
            "InvoiceDate": today,
            "InvoiceReference": "0",
            "InvoiceRows": [],
            "InvoiceType": "INVOICE",
            "Labels": [],
            "Language": "SV",
            "LastRemindDate": None,
            "Net": 0,
            "NotCompleted": False,
            "NoxFinans": False,
            "OCR": number_ + luhn_digit(number_) if number_.isdigit() else "",
            "OfferReference": "0",
            "OrderReference": "0",
            "OrganisationNumber": "",
            "OurReference": "",
            "OutboundDate": None,
            "PaymentWay": "",
            "Phone1": "",
            "Phone2": "",
            "PriceList": "A",
            "PrintTemplate": "",
            "Project": "",
            "Remarks": "",
            "Reminders": 0,
            "RoundOff": 0,
            "Sent": False,
            "TaxReduction": None,
            "TaxReductionType": "none",
            "TermsOfDelivery": "",
            "TermsOfPayment": "",
            "Total": 0,
            "TotalToPay": 0,
            "TotalVAT": 0,
            "VATIncluded": False,
            "VoucherNumber": None,
            "VoucherSeries": None,
            "VoucherYear": None,
            "WarehouseReady": False,
            "WayOfDelivery": "",
            "YourOrderNumber": "",
            "YourReference": "",
            "ZipCode": "",
        }
        self._apply_invoice_fields(invoice, data, new=True)
        self._compute_totals(invoice)
        invoice["Balance"] = invoice["Total"]
        self.invoices[number_] = invoice
        self._touch("invoices", number_)
        return invoice

    def _apply_invoice_fields(self, invoice: dict[str, Any], data: dict[str, Any], *, new: bool = False) -> None:
        """Validate and apply writable header fields and (when sent) rows. Raises ApiError."""
        customer_number = str(data.get("CustomerNumber", invoice["CustomerNumber"]) or "")
        customer = self.customers.get(customer_number)
        if customer is None:
            raise ApiError(400, "Kunde inte hämta/hitta kund (kundnummer)", Code.CUSTOMER_NOT_FOUND)
        if new or customer_number != invoice["CustomerNumber"]:
            # Name, address and terms come from the customer; values sent in the body win.
            invoice.update(
                {
                    "CustomerNumber": customer_number,
                    "CustomerName": customer["Name"],
                    "Address1": customer["Address1"],
                    "Address2": customer["Address2"],
                    "City": customer["City"],
                    "ZipCode": customer["ZipCode"],
                    "Country": customer["Country"],
                    "Phone1": customer["Phone1"],
                    "Phone2": customer["Phone2"],
                    "OrganisationNumber": customer["OrganisationNumber"],
                    "DeliveryName": customer["DeliveryName"],
                    "DeliveryAddress1": customer["DeliveryAddress1"],
                    "DeliveryAddress2": customer["DeliveryAddress2"],
                    "DeliveryCity": customer["DeliveryCity"],
                    "DeliveryZipCode": customer["DeliveryZipCode"],
                    "DeliveryCountry": customer["DeliveryCountry"],
                    "YourReference": customer["YourReference"],
                    "OurReference": customer["OurReference"],
                    "TermsOfPayment": customer["TermsOfPayment"],
                    "WayOfDelivery": customer["WayOfDelivery"],
                    "TermsOfDelivery": customer["TermsOfDelivery"],
                }
            )
            if new:
                invoice["Currency"] = customer.get("Currency") or "SEK"
        rows = data.pop("InvoiceRows", None)
        for name in ("Freight", "AdministrationFee", "CurrencyRate"):
            if name in data:
                data[name] = number(to_decimal(data[name], name))
        if "Currency" in data:
            self._check_currency(data["Currency"])
            data["Currency"] = str(data["Currency"]).upper()
        for name in ("InvoiceDate", "DueDate", "DeliveryDate", "OutboundDate"):
            if data.get(name):
                data[name] = parse_day(data[name], name).isoformat()
        if "InvoiceType" in data and data["InvoiceType"] not in (
            "INVOICE",
            "AGREEMENTINVOICE",
            "INTRESTINVOICE",
            "SUMMARYINVOICE",
            "CASHINVOICE",
        ):
            raise ApiError(400, f"Ogiltig fakturatyp ({data['InvoiceType']})", Code.INVALID_VALUE)
        for name in ("YourOrderNumber", "ExternalInvoiceReference1", "ExternalInvoiceReference2"):
            if name in data:
                data[name] = "" if data[name] is None else str(data[name])
        invoice.update(data)
        if (new or "Currency" in data) and "CurrencyRate" not in data:
            invoice["CurrencyRate"] = number(self.currencies[invoice["Currency"]])
        if not invoice["DueDate"] or (new and "DueDate" not in data):
            days = int(invoice["TermsOfPayment"]) if str(invoice["TermsOfPayment"]).isdigit() else 30
            invoice["DueDate"] = (date.fromisoformat(invoice["InvoiceDate"]) + timedelta(days=days)).isoformat()
        if rows is not None:
            if not isinstance(rows, list):
                raise ApiError(400, "Ingen eller felaktig typ av data. (InvoiceRows)", Code.EMPTY_BODY)
            invoice["InvoiceRows"] = [
                self._build_row(raw, index, invoice["VATIncluded"]) for index, raw in enumerate(rows, start=1)
            ]

    def _create_credit(self, original: dict[str, Any]) -> dict[str, Any]:
        """The credit note for `original`: same rows with negated quantities, linked both ways."""
        number_ = self._next_number(self.invoices)
        credit = json.loads(json.dumps(original))
        for row in credit["InvoiceRows"]:
            row["DeliveredQuantity"] = quantity_text(-to_decimal(row["DeliveredQuantity"]))
        for name in ("Freight", "AdministrationFee"):
            credit[name] = number(-to_decimal(credit[name]))
        credit.update(
            {
                "DocumentNumber": number_,
                "OCR": number_ + luhn_digit(number_),
                "Booked": False,
                "Cancelled": False,
                "Sent": False,
                "Credit": "true",
                "CreditInvoiceReference": original["DocumentNumber"],
                "InvoiceDate": self.clock().date().isoformat(),
                "FinalPayDate": None,
                "VoucherNumber": None,
                "VoucherSeries": None,
                "VoucherYear": None,
                "Total": 0,
                "Balance": 0,
            }
        )
        credit["DueDate"] = credit["InvoiceDate"]
        self._compute_totals(credit)
        self.invoices[number_] = credit
        self._touch("invoices", number_)
        return credit
