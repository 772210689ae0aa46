"""Customer invoices and credit notes.

    POST   /v2/customerinvoice                      CustomerInvoiceUpdateDto (wrapped) → 201
    GET    /v1/customerinvoice                      list: externalReference, customerRefNumber, status, customer,
                                                    documentType, released, documentDate(+Condition),
                                                    lastModifiedDateTime(+Condition), createdDateTime(+Condition)
    GET    /v1/customerinvoice/{invoiceNumber}
    PUT    /v1/customerinvoice/{invoiceNumber}      unreleased documents only → 204
    DELETE /v1/customerinvoice/{invoiceNumber}      unreleased documents only → 204
    POST   /v1/customerinvoice/{invoiceNumber}/action/release
    POST   /v1/customerinvoice/{invoiceNumber}/action/reverse   {"returnCreditNote": true} → a credit note
    GET    /v1/customerCreditNote[/{number}], POST /v1/customerCreditNote/{number}/action/release

States: created with hold=false → Balanced, hold=true → Hold; release → Open; paid (or
credited) to a zero balance → Closed; Voided (by the simulator's control only).

Amounts, computed as a Visma.net (Acumatica-based) company with "document" VAT
calculation does it (assumption agreed with the connector, confidence L):

* A line's unit price EXCLUDES VAT (AR documents are entered net of VAT, confidence M).
  Line amount = round(quantity × unitPrice) − discount, where the discount is
  ``discountAmountInCurrency`` if given, else round(quantity × unitPrice × discountPercent / 100);
  ``manualAmountInCurrency`` replaces the computed amount.
* VAT is computed ONCE PER DOCUMENT PER VAT CODE, not per line: taxableAmount = the sum
  of the amounts of the lines with that code, vatAmount = round(taxableAmount × rate / 100).
  They are listed in ``taxDetails``.
* ``taxDetailLines`` on a create or update (TaxDetailUpdateDto: taxId, taxableAmount,
  vatAmount) states the VAT amount of a code by hand, as a user may on the document's VAT tab:
  that vatAmount replaces the computed one. The code must be on one of the document's lines,
  and a taxableAmount, if given, must equal the sum of that code's lines (Visma.net documents
  no tolerance; this reading, confidence L, is the strict one). A later update of the lines
  keeps the stated amounts; a credit note made by reversing the invoice copies them.
* detailTotal = Σ line amounts; vatTotal = Σ vatAmount; amount = detailTotal + vatTotal.
  With whole-unit rounding switched on for the company (off by default), amount is rounded
  to whole kronor and the difference is ``roundingDiff``.

Every round is half up to öre (0.01) on Decimal; nothing passes through float.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.vismanet.api import VismaNetApi, plain
from simulators.vismanet.company import Company
from simulators.vismanet.errors import ApiError, Fault, customer_not_found, item_not_found, not_found, validation
from simulators.vismanet.values import (
    HUNDRED,
    ZERO,
    ChangeFilter,
    parse_document_date,
    round_ore,
    to_bool,
    to_decimal,
)

CURRENCIES = frozenset({"SEK", "EUR", "NOK", "DKK", "USD"})
INVOICE_FIELDS = frozenset(
    {
        "customerNumber",
        "documentDate",
        "documentDueDate",
        "origInvoiceDate",
        "cashDiscountDate",
        "currencyId",
        "exchangeRate",
        "externalReference",
        "customerRefNumber",
        "paymentReference",
        "invoiceText",
        "hold",
        "referenceNumber",
        "overrideNumberSeries",
        "creditTermsId",
        "paymentMethodId",
        "cashAccount",
        "locationId",
        "branchNumber",
        "postPeriod",
        "financialPeriod",
        "note",
        "salesperson",
        "contact",
        "billingAddress",
        "invoiceContact",
        "sendToAutoInvoice",
        "dontPrint",
        "dontEmail",
        "invoiceLines",
        "taxDetailLines",
    }
)
TAX_DETAIL_FIELDS = frozenset({"taxId", "taxableAmount", "vatAmount", "expenseAmount"})
LINE_FIELDS = frozenset(
    {
        "operation",
        "lineNumber",
        "inventoryNumber",
        "description",
        "quantity",
        "unitPriceInCurrency",
        "manualAmountInCurrency",
        "vatCodeId",
        "accountNumber",
        "uom",
        "discountPercent",
        "discountAmountInCurrency",
        "discountCode",
        "manualDiscount",
        "subaccount",
        "note",
        "branchNumber",
    }
)
UNRELEASED = ("Hold", "Balanced")
FIRST_INVOICE_NUMBER = 100001
PAYMENT_DAYS = 30


def whole(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


class InvoiceResource(VismaNetApi):
    """Customer invoices and credit notes of `VismaNetSimulator`."""

    def void_invoice(self, number: str, tenant_id: str | None = None) -> None:
        """Void a document (the ERP user's doing): status Voided, balance 0."""
        with self.lock:
            company = self.company(tenant_id)
            invoice = self._invoice(company, number)
            invoice.update(status="Voided", balance=ZERO)
            self._stamp_record(company, invoice)
            self.notify(company, "ArInvoice", "StatusChanged", number)

    # -- handlers ---------------------------------------------------------------------------------
    def _post_invoice(self, request: Request, company: Company) -> Response:
        invoice = self._create_invoice(company, self._wrapped_body(request))
        self.notify(company, "ArInvoice", "StatusChanged", invoice["referenceNumber"])
        return self._created(f"/v1/customerinvoice/{invoice['referenceNumber']}", invoice)

    def _list_invoices(self, request: Request, company: Company, document_type: str = "") -> Response:
        query = request.query
        filters = [ChangeFilter(query, n) for n in ("lastModifiedDateTime", "createdDateTime", "documentDate")]
        released = query.get("released", "").lower()
        document_type = document_type or query.get("documentType", "")
        records = []
        for invoice in company.invoices.values():
            values = (
                invoice["lastModifiedDateTime"],
                invoice["createdDateTime"],
                datetime.combine(invoice["documentDate"], datetime.min.time()),
            )
            if not all(f.accepts(v) for f, v in zip(filters, values)):
                continue
            if document_type and invoice["documentType"] != document_type:
                continue
            if any(
                name in query and (value or "") != query[name]
                for name, value in (
                    ("externalReference", invoice["externalReference"]),
                    ("customerRefNumber", invoice["customerRefNumber"]),
                    ("status", invoice["status"]),
                    ("customer", invoice["customer"]["number"]),
                )
            ):
                continue
            if released in ("true", "false") and (invoice["status"] not in UNRELEASED) != (released == "true"):
                continue
            records.append(invoice)
        records.sort(key=lambda i: i["referenceNumber"])
        return self._list(request, records, self._invoice_body)

    def _list_credit_notes(self, request: Request, company: Company) -> Response:
        return self._list_invoices(request, company, "CreditNote")

    def _get_invoice(self, request: Request, company: Company) -> Response:
        invoice = self._invoice(company, request.params["number"])
        return self._one(invoice, self._invoice_body(invoice))

    def _get_credit_note(self, request: Request, company: Company) -> Response:
        invoice = self._invoice(company, request.params["number"], "CreditNote")
        return self._one(invoice, self._invoice_body(invoice))

    def _put_invoice(self, request: Request, company: Company) -> Response:
        invoice = self._invoice(company, request.params["number"])
        self._check_if_match(request, invoice)
        fields = self._wrapped_body(request)
        if invoice["status"] not in UNRELEASED:
            raise validation(f"Document '{invoice['referenceNumber']}' is {invoice['status']} and cannot be changed")
        for key in ("referenceNumber", "overrideNumberSeries", "customerNumber"):
            if key in fields and fields[key] != invoice.get(key, invoice["customer"]["number"]):
                raise validation(f"The field '{key}' cannot be changed on an existing document")
        self._apply_header(company, invoice, fields)
        self._apply_lines(company, invoice, fields.get("invoiceLines", []), creating=False)
        self._apply_tax_details(invoice, fields.get("taxDetailLines"))
        self._compute_totals(company, invoice)
        self._stamp_record(company, invoice)
        return self._no_content(invoice)

    def _delete_invoice(self, request: Request, company: Company) -> Response:
        invoice = self._invoice(company, request.params["number"])
        self._check_if_match(request, invoice)
        if invoice["status"] not in UNRELEASED:
            raise validation(
                f"Document '{invoice['referenceNumber']}' is {invoice['status']}: only unreleased documents can be "
                "deleted (credit it instead)"
            )
        del company.invoices[invoice["referenceNumber"]]
        return self._no_content()

    def _invoice_action(self, request: Request, company: Company) -> Response:
        action = request.params["action"].lower()
        kind = "CreditNote" if "creditnote" in request.path.lower() else ""
        invoice = self._invoice(company, request.params["number"], kind)
        self._check_if_match(request, invoice)
        if action == "release":
            self._release(company, invoice)
            return self._action_done()
        if action == "reverse":
            body = request.json() or {}
            if not isinstance(body, dict):
                raise validation("The body of reverse must be an object")
            credit_note = self._reverse(company, invoice)
            return self._action_done({"referenceNumber": credit_note["referenceNumber"]})
        raise not_found("Action", action)

    # -- documents --------------------------------------------------------------------------------
    @staticmethod
    def _invoice(company: Company, number: str, document_type: str = "") -> dict[str, Any]:
        invoice = company.invoices.get(number)
        if invoice is None or (document_type and invoice["documentType"] != document_type):
            raise not_found("Customer invoice" if document_type != "CreditNote" else "Credit note", number)
        return invoice

    def _create_invoice(
        self,
        company: Company,
        fields: dict[str, Any],
        *,
        document_type: str = "Invoice",
        so_refs: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        unknown = sorted(set(fields) - INVOICE_FIELDS)
        if unknown:
            raise validation(f"The field '{unknown[0]}' is not a field of a customer invoice")
        number_ = str(fields.get("customerNumber") or "").strip()
        if not number_:
            raise validation("The field 'customerNumber' is required")
        customer = company.customers.get(number_)
        if customer is None:
            raise customer_not_found(number_)
        if customer["status"] == "Inactive":
            raise validation(f"Customer '{number_}' is inactive")
        if to_bool(fields.get("overrideNumberSeries", False), "overrideNumberSeries"):
            reference = str(fields.get("referenceNumber") or "").strip()
            if not reference:
                raise validation("The field 'referenceNumber' is required with overrideNumberSeries")
            if reference in company.invoices:
                raise validation(f"Document '{reference}' already exists")
        else:
            reference = company.next_number("invoice", FIRST_INVOICE_NUMBER, taken=company.invoices)
        today = self.clock().date()
        invoice: dict[str, Any] = {
            "referenceNumber": reference,
            "documentType": document_type,
            "status": "Balanced",
            "hold": False,
            "customer": {"number": customer["number"], "name": customer["name"]},
            "documentDate": today,
            "documentDueDate": today + timedelta(days=PAYMENT_DAYS),
            "financialPeriod": today.strftime("%Y%m"),
            "currencyId": company.currency,
            "exchangeRate": Decimal(1),
            "externalReference": None,
            "customerRefNumber": None,
            "paymentReference": None,
            "invoiceText": None,
            "note": None,
            "branchNumber": {"number": next(iter(sorted(company.branches)))},
            "invoiceLines": [],
            "taxDetails": [],
            "origInvoiceNumber": None,
        }
        if "documentDate" in fields and "documentDueDate" not in fields:
            due = parse_document_date(fields["documentDate"], "documentDate") + timedelta(days=PAYMENT_DAYS)
            invoice["documentDueDate"] = due
        self._apply_header(company, invoice, fields)
        self._apply_lines(company, invoice, fields.get("invoiceLines", []), creating=True, so_refs=so_refs)
        self._apply_tax_details(invoice, fields.get("taxDetailLines"))
        self._compute_totals(company, invoice)
        self._stamp_record(company, invoice, created=True)
        company.invoices[reference] = invoice
        return invoice

    def _apply_header(self, company: Company, invoice: dict[str, Any], fields: dict[str, Any]) -> None:
        for key in ("externalReference", "customerRefNumber", "paymentReference", "invoiceText", "note"):
            if key in fields:
                invoice[key] = None if fields[key] is None else str(fields[key])
        for key in ("documentDate", "documentDueDate"):
            if key in fields:
                invoice[key] = parse_document_date(fields[key], key)
        if "documentDate" in fields:
            invoice["financialPeriod"] = invoice["documentDate"].strftime("%Y%m")
        if fields.get("financialPeriod"):
            invoice["financialPeriod"] = self._period(str(fields["financialPeriod"]), "financialPeriod", yyyymm=True)
        if fields.get("postPeriod"):
            invoice["financialPeriod"] = self._period(str(fields["postPeriod"]), "postPeriod", yyyymm=False)
        period = invoice["financialPeriod"]
        if period in company.closed_periods:
            raise ApiError(400, f"Financial period '{period[4:]}{period[:4]}' is closed", Fault.PERIOD_CLOSED)
        if "currencyId" in fields:
            currency = str(fields["currencyId"] or "").upper()
            if currency not in CURRENCIES:
                raise validation(f"Currency '{fields['currencyId']}' not found")
            invoice["currencyId"] = currency
        if "branchNumber" in fields:
            branch = str(fields["branchNumber"] or "")
            if branch not in company.branches:
                raise ApiError(400, f"Branch '{branch}' not found", Fault.BRANCH_INVALID)
            invoice["branchNumber"] = {"number": branch}
        if "hold" in fields:
            invoice["hold"] = to_bool(fields["hold"], "hold")
            invoice["status"] = "Hold" if invoice["hold"] else "Balanced"

    @staticmethod
    def _period(value: str, field: str, *, yyyymm: bool) -> str:
        """A period as YYYYMM from `financialPeriod` (YYYYMM) or `postPeriod` (MMYYYY)."""
        if len(value) != 6 or not value.isdigit():
            raise validation(f"Invalid value for '{field}': '{value}'")
        period = value if yyyymm else value[2:] + value[:2]
        if not 1 <= int(period[4:]) <= 12:
            raise validation(f"Invalid value for '{field}': '{value}'")
        return period

    def _apply_lines(
        self,
        company: Company,
        invoice: dict[str, Any],
        lines: list[dict[str, Any]],
        *,
        creating: bool,
        so_refs: list[dict[str, str]] | None = None,
    ) -> None:
        for position, fields in enumerate(lines):
            name = f"invoiceLines[{position}]"
            unknown = sorted(set(fields) - LINE_FIELDS)
            if unknown:
                raise validation(f"The field '{name}.{unknown[0]}' is not a field of an invoice line")
            operation = fields.get("operation")
            if operation is None:
                raise validation(f"The field '{name}.operation' is required (Insert, Update or Delete)")
            existing = None
            if operation in ("Update", "Delete"):
                if creating:
                    raise validation(f"'{name}.operation' must be Insert on a new document")
                line_number = fields.get("lineNumber")
                existing = next((x for x in invoice["invoiceLines"] if str(x["lineNumber"]) == str(line_number)), None)
                if existing is None:
                    raise validation(f"Line '{line_number}' not found on document '{invoice['referenceNumber']}'")
                if operation == "Delete":
                    invoice["invoiceLines"].remove(existing)
                    continue
            line = self._line(company, fields, existing, name)
            if existing is None:
                # Line numbers are never reused, also after a Delete (the document keeps a counter).
                used = invoice.get("_line_counter", 0)
                used = max([used, *(x["lineNumber"] for x in invoice["invoiceLines"])])
                invoice["_line_counter"] = line["lineNumber"] = used + 1
                line.update(so_refs[position] if so_refs else {})
                invoice["invoiceLines"].append(line)

    def _line(
        self, company: Company, fields: dict[str, Any], existing: dict[str, Any] | None, name: str
    ) -> dict[str, Any]:
        line = existing or {
            "inventoryNumber": None,
            "description": "",
            "quantity": Decimal(1),
            "unitPriceInCurrency": ZERO,
            "discountPercent": ZERO,
            "discountAmountInCurrency": None,
            "manualAmountInCurrency": None,
            "vatCode": None,
            "uom": "STK",
            "accountNumber": "3001",
            "soOrderType": None,
            "soOrderNbr": None,
            "soShipmentNbr": None,
            "lineType": "GI",
        }
        item = None
        if "inventoryNumber" in fields and fields["inventoryNumber"]:
            number = str(fields["inventoryNumber"])
            item = self._item(company, number)
            if item is None:
                raise item_not_found(number)
            if item["status"] in ("Inactive", "NoSales", "MarkedForDeletion"):
                raise validation(f"Inventory item '{number}' has status {item['status']} and cannot be sold")
            line["inventoryNumber"] = number
            line["uom"] = item["salesUnit"]
            if existing is None:
                line["description"] = item["description"]
                line["unitPriceInCurrency"] = self.base_price(company, item)
                line["vatCode"] = item["vatCode"]
        for key in ("quantity", "unitPriceInCurrency", "discountPercent"):
            if key in fields:
                line[key] = to_decimal(fields[key], f"{name}.{key}")
        for key in ("discountAmountInCurrency", "manualAmountInCurrency"):
            if key in fields:
                line[key] = None if fields[key] is None else to_decimal(fields[key], f"{name}.{key}")
        for key in ("description", "uom", "accountNumber", "note"):
            if key in fields:
                line[key] = fields[key]
        if "vatCodeId" in fields:
            line["vatCode"] = str(fields["vatCodeId"] or "")
        code = line["vatCode"]
        if not code or code not in company.vat_codes:
            raise ApiError(400, f"VAT code '{code or ''}' not found ({name}.vatCodeId)", Fault.VAT_INVALID)
        if line["quantity"] < 0 or not ZERO <= line["discountPercent"] <= HUNDRED:
            raise validation(f"'{name}': the quantity must not be negative, the discount 0-100 %")
        return line

    @staticmethod
    def _apply_tax_details(invoice: dict[str, Any], details: Any) -> None:
        """Remember the VAT amounts (and taxable amounts) stated per code; checked by _compute_totals."""
        if details is None:
            return
        if not isinstance(details, list):
            raise validation("The field 'taxDetailLines' must be a list")
        stated: dict[str, Decimal] = {}
        taxable: dict[str, Decimal] = {}
        for position, fields in enumerate(details):
            name = f"taxDetailLines[{position}]"
            if not isinstance(fields, dict):
                raise validation(f"'{name}' must be an object")
            unknown = sorted(set(fields) - TAX_DETAIL_FIELDS)
            if unknown:
                raise validation(f"The field '{name}.{unknown[0]}' is not a field of a VAT detail line")
            code = str(fields.get("taxId") or "")
            if not code:
                raise validation(f"The field '{name}.taxId' is required")
            if code in stated:
                raise validation(f"VAT code '{code}' is stated twice in taxDetailLines")
            if fields.get("vatAmount") is None:
                raise validation(f"The field '{name}.vatAmount' is required")
            stated[code] = round_ore(to_decimal(fields["vatAmount"], f"{name}.vatAmount"))
            if fields.get("taxableAmount") is not None:
                taxable[code] = round_ore(to_decimal(fields["taxableAmount"], f"{name}.taxableAmount"))
        invoice["_vat_amounts"] = stated
        invoice["_taxable_amounts"] = taxable

    def _compute_totals(self, company: Company, invoice: dict[str, Any]) -> None:
        """Line amounts, VAT per document per VAT code, totals (see the module docstring)."""
        taxable: dict[str, Decimal] = {}
        detail_total = discount_total = ZERO
        for line in invoice["invoiceLines"]:
            gross = round_ore(line["quantity"] * line["unitPriceInCurrency"])
            if line["discountAmountInCurrency"] is not None:
                discount = round_ore(line["discountAmountInCurrency"])
            else:
                discount = round_ore(gross * line["discountPercent"] / HUNDRED)
            amount = line["manualAmountInCurrency"] if line["manualAmountInCurrency"] is not None else gross - discount
            line["discountAmountInCurrencyComputed"] = discount
            line["amountInCurrency"] = round_ore(amount)
            detail_total += line["amountInCurrency"]
            discount_total += discount
            taxable[line["vatCode"]] = taxable.get(line["vatCode"], ZERO) + line["amountInCurrency"]
        stated: dict[str, Decimal] = invoice.get("_vat_amounts", {})
        strays = sorted(set(stated) - set(taxable))
        if strays:
            raise validation(f"VAT code '{strays[0]}' in taxDetailLines is on none of the document's lines")
        for code, amount in invoice.get("_taxable_amounts", {}).items():
            if amount != taxable[code]:
                raise validation(
                    f"The taxable amount {amount} of VAT code '{code}' differs from its lines' sum {taxable[code]}"
                )
        details = []
        for code in sorted(taxable):
            rate = company.vat_rate(code) or ZERO
            computed = round_ore(taxable[code] * rate / HUNDRED)
            details.append(
                {
                    "vatId": {"id": code, "description": company.vat_codes[code][0]},
                    "vatRate": rate,
                    "taxableAmount": taxable[code],
                    "vatAmount": stated.get(code, computed),
                }
            )
        vat_total = sum((d["vatAmount"] for d in details), ZERO)
        amount = detail_total + vat_total
        rounding = ZERO
        if company.round_to_whole:
            rounding = whole(amount) - amount
            amount += rounding
        invoice.update(
            taxDetails=details,
            detailTotal=detail_total,
            discountTotal=discount_total,
            vatTotal=vat_total,
            roundingDiff=rounding,
            amount=amount,
            balance=amount,
        )

    def _release(self, company: Company, invoice: dict[str, Any]) -> None:
        number, status = invoice["referenceNumber"], invoice["status"]
        if status == "Hold":
            raise validation(f"Document '{number}' is on hold and cannot be released")
        if status != "Balanced":
            raise validation(f"Document '{number}' is {status} and cannot be released")
        invoice["status"] = "Open"
        if invoice["documentType"] == "CreditNote" and invoice["origInvoiceNumber"]:
            # The credit note of a reversal is applied to the invoice it reverses (assumption, L).
            original = company.invoices.get(invoice["origInvoiceNumber"])
            if original is not None and original["status"] == "Open":
                applied = min(original["balance"], invoice["balance"])
                original["balance"] -= applied
                invoice["balance"] -= applied
                if original["balance"] == 0:
                    original["status"] = "Closed"
                self._stamp_record(company, original)
                self.notify(company, "ArInvoice", "StatusChanged", original["referenceNumber"])
        if invoice["balance"] == 0:
            invoice["status"] = "Closed"
        self._stamp_record(company, invoice)
        self.notify(company, "ArInvoice", "StatusChanged", number)

    def _reverse(self, company: Company, invoice: dict[str, Any]) -> dict[str, Any]:
        number = invoice["referenceNumber"]
        if invoice["documentType"] != "Invoice" or invoice["status"] not in ("Open", "Closed"):
            raise validation(f"Document '{number}' is {invoice['status']}: only released invoices can be reversed")
        if any(
            d["origInvoiceNumber"] == number and d["status"] != "Voided"
            for d in company.invoices.values()
            if d["documentType"] == "CreditNote"
        ):
            raise validation(f"Invoice '{number}' has already been reversed")
        reference = company.next_number("invoice", FIRST_INVOICE_NUMBER, taken=company.invoices)
        credit = {
            **{k: v for k, v in invoice.items() if not k.startswith("_")},
            "referenceNumber": reference,
            "documentType": "CreditNote",
            "status": "Balanced",
            "hold": False,
            "documentDate": self.clock().date(),
            "financialPeriod": self.clock().strftime("%Y%m"),
            "origInvoiceNumber": number,
            "invoiceLines": [dict(line) for line in invoice["invoiceLines"]],
            "_vat_amounts": dict(invoice.get("_vat_amounts", {})),
            "_taxable_amounts": dict(invoice.get("_taxable_amounts", {})),
        }
        if credit["financialPeriod"] in company.closed_periods:
            period = credit["financialPeriod"]
            raise ApiError(400, f"Financial period '{period[4:]}{period[:4]}' is closed", Fault.PERIOD_CLOSED)
        self._compute_totals(company, credit)
        self._stamp_record(company, credit, created=True)
        company.invoices[reference] = credit
        self.notify(company, "ArInvoice", "StatusChanged", reference)
        return credit

    @staticmethod
    def _invoice_body(invoice: dict[str, Any]) -> dict[str, Any]:
        lines = []
        for line in invoice["invoiceLines"]:
            lines.append(
                {
                    "lineNumber": line["lineNumber"],
                    "inventoryNumber": line["inventoryNumber"],
                    "description": line["description"],
                    "quantity": line["quantity"],
                    "uom": line["uom"],
                    "unitPriceInCurrency": line["unitPriceInCurrency"],
                    "unitPrice": line["unitPriceInCurrency"],
                    "discountPercent": line["discountPercent"],
                    "discountAmountInCurrency": line["discountAmountInCurrencyComputed"],
                    "amountInCurrency": line["amountInCurrency"],
                    "amount": line["amountInCurrency"],
                    "vatCode": {"id": line["vatCode"]},
                    "accountNumber": line["accountNumber"],
                    "soOrderType": line["soOrderType"],
                    "soOrderNbr": line["soOrderNbr"],
                    "soShipmentNbr": line["soShipmentNbr"],
                    "lineType": line["lineType"],
                }
            )
        body = {k: v for k, v in invoice.items() if k not in ("invoiceLines", "financialPeriod")}
        body["financialPeriod"] = invoice["financialPeriod"]
        body["invoiceLines"] = lines
        for key in ("amount", "balance", "vatTotal", "detailTotal", "discountTotal"):
            body[f"{key}InCurrency"] = invoice[key]
        return plain(body)
