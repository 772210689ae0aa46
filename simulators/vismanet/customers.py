"""Customers, the organisation and its VAT codes.

GET  /v1/organization            the company (test connection)
GET  /v1/customer                list: name, corporateId, vatRegistrationId, email, status,
                                 lastModifiedDateTime(+Condition)
POST /v1/customer                CustomerUpdateDto (wrapped) → 201, number from the series unless `number` is given
GET  /v1/customer/{number}
PUT  /v1/customer/{number}       partial update → 204
GET  /v1/vat[/{vatId}]           VAT codes with their rate schedules
"""

from __future__ import annotations

from typing import Any

from simulators.base import Request, Response
from simulators.vismanet.api import VismaNetApi, plain
from simulators.vismanet.company import COUNTRIES, CUSTOMER_CLASSES, Company
from simulators.vismanet.errors import not_found, validation
from simulators.vismanet.values import ChangeFilter

CUSTOMER_STATUSES = ("Active", "OnHold", "CreditHold", "Inactive", "OneTime")
CUSTOMER_FIELDS = frozenset(
    {
        "number",
        "name",
        "status",
        "currencyId",
        "customerClassId",
        "vatRegistrationId",
        "corporateId",
        "mainAddress",
        "mainContact",
        "invoiceAddress",
        "invoiceContact",
        "deliveryAddress",
        "deliveryContact",
        "creditTermsId",
        "vatZoneId",
        "note",
        "accountReference",
        "overrideWithClassValues",
        "sendInvoicesByEmail",
        "printInvoices",
        "acceptAutoInvoices",
        "creditLimit",
    }
)
ADDRESS_FIELDS = frozenset(
    {"addressLine1", "addressLine2", "addressLine3", "postalCode", "city", "countryId", "county"}
)
CONTACT_FIELDS = frozenset({"name", "attention", "email", "web", "phone1", "phone2", "fax"})
FIRST_CUSTOMER_NUMBER = 10001


class CustomerResource(VismaNetApi):
    """Customer, organisation and VAT endpoints of `VismaNetSimulator`."""

    # -- Python side ----------------------------------------------------------------------------
    def seed_customers(self, customers: list[dict[str, Any]], tenant_id: str | None = None) -> list[str]:
        """Create customers from plain CustomerUpdateDto fields (unwrapped); returns their numbers."""
        with self.lock:
            company = self.company(tenant_id)
            return [self._create_customer(company, dict(fields))["number"] for fields in customers]

    # -- handlers ---------------------------------------------------------------------------------
    def _organization(self, request: Request, company: Company) -> Response:
        org = {
            "organizationId": 1,
            "organizationCd": company.organization_cd,
            "name": company.name,
            "corporateId": company.corporate_id,
            "currencyId": company.currency,
            "tenantId": company.tenant_id,
        }
        return Response(body=[org])

    def _list_customers(self, request: Request, company: Company) -> Response:
        query = request.query
        changed, created = ChangeFilter(query, "lastModifiedDateTime"), ChangeFilter(query, "createdDateTime")
        records = []
        for customer in company.customers.values():
            if "name" in query and query["name"].lower() not in customer["name"].lower():
                continue
            if "status" in query and customer["status"] != query["status"]:
                continue
            if "corporateId" in query and (customer.get("corporateId") or "") != query["corporateId"]:
                continue
            if "vatRegistrationId" in query and (customer.get("vatRegistrationId") or "") != query["vatRegistrationId"]:
                continue
            # An `email` filter on the main contact's address is assumed (confidence L).
            email = (customer["mainContact"].get("email") or "").lower()
            if "email" in query and email != query["email"].lower():
                continue
            if changed.accepts(customer["lastModifiedDateTime"]) and created.accepts(customer["createdDateTime"]):
                records.append(customer)
        records.sort(key=lambda c: c["number"])
        return self._list(request, records, plain)

    def _get_customer(self, request: Request, company: Company) -> Response:
        customer = self._customer(company, request.params["number"])
        return self._one(customer, plain(customer))

    def _post_customer(self, request: Request, company: Company) -> Response:
        customer = self._create_customer(company, self._wrapped_body(request))
        self.notify(company, "Customer", "Created", customer["number"])
        return self._created(f"/v1/customer/{customer['number']}", customer)

    def _put_customer(self, request: Request, company: Company) -> Response:
        customer = self._customer(company, request.params["number"])
        self._check_if_match(request, customer)
        fields = self._wrapped_body(request)
        if "number" in fields and fields["number"] != customer["number"]:
            raise validation("The field 'number' cannot be changed")
        self._apply_customer(company, customer, fields)
        self._stamp_record(company, customer)
        self.notify(company, "Customer", "Updated", customer["number"])
        return self._no_content(customer)

    def _list_vat(self, request: Request, company: Company) -> Response:
        records = [self._vat_body(company, code) for code in sorted(company.vat_codes)]
        return Response(body=self._with_metadata(records, len(records), len(records) or 1))

    def _get_vat(self, request: Request, company: Company) -> Response:
        code = request.params["vat_id"]
        if code not in company.vat_codes:
            raise not_found("VAT", code)
        return Response(body=self._vat_body(company, code))

    # -- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _vat_body(company: Company, code: str) -> dict[str, Any]:
        description, rate = company.vat_codes[code]
        return {
            "vatId": code,
            "description": description,
            "type": "Sales" if rate else "Exempt",
            "vatCategoryId": code,
            "schedules": [{"startDate": "2000-01-01T00:00:00", "vatRate": float(rate)}],
        }

    @staticmethod
    def _customer(company: Company, number: str) -> dict[str, Any]:
        customer = company.customers.get(number)
        if customer is None:
            raise not_found("Customer", number)
        return customer

    def _create_customer(self, company: Company, fields: dict[str, Any]) -> dict[str, Any]:
        if not str(fields.get("name") or "").strip():
            raise validation("The field 'name' is required")
        number = str(fields.get("number") or "").strip()
        if number and number in company.customers:
            raise validation(f"Customer '{number}' already exists")
        if not number:
            number = company.next_number("customer", FIRST_CUSTOMER_NUMBER, width=5, taken=company.customers)
        customer: dict[str, Any] = {
            "internalId": len(company.customers) + 1,
            "number": number,
            "name": "",
            "status": "Active",
            "mainAddress": {},
            "mainContact": {},
            "invoiceAddress": {},
            "invoiceContact": {},
            "deliveryAddress": {},
            "deliveryContact": {},
            "corporateId": None,
            "vatRegistrationId": None,
            "currencyId": company.currency,
            "customerClass": None,
            "creditTerms": {"id": "30", "description": "30 dagar netto"},
            "note": None,
        }
        self._apply_customer(company, customer, {k: v for k, v in fields.items() if k != "number"})
        self._stamp_record(company, customer, created=True)
        company.customers[number] = customer
        return customer

    def _apply_customer(self, company: Company, customer: dict[str, Any], fields: dict[str, Any]) -> None:
        unknown = sorted(set(fields) - CUSTOMER_FIELDS)
        if unknown:
            raise validation(f"The field '{unknown[0]}' is not a field of a customer")
        if "status" in fields and fields["status"] not in CUSTOMER_STATUSES:
            raise validation(f"Invalid value for 'status': '{fields['status']}'")
        if "name" in fields and not str(fields["name"] or "").strip():
            raise validation("The field 'name' is required")
        for key in ("name", "status", "corporateId", "vatRegistrationId", "currencyId", "note"):
            if key in fields:
                customer[key] = fields[key]
        if "customerClassId" in fields:
            class_id = fields["customerClassId"]
            if class_id not in CUSTOMER_CLASSES:
                raise validation(f"Customer class '{class_id}' not found")
            customer["customerClass"] = {"id": class_id, "description": CUSTOMER_CLASSES[class_id]}
        for key in ("mainAddress", "invoiceAddress", "deliveryAddress"):
            if key in fields:
                customer[key] = self._address(customer[key], fields[key], key)
        for key in ("mainContact", "invoiceContact", "deliveryContact"):
            if key in fields:
                customer[key] = self._contact(customer[key], fields[key], key)

    @staticmethod
    def _address(current: dict[str, Any], fields: Any, name: str) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise validation(f"The field '{name}' must be an address object")
        unknown = sorted(set(fields) - ADDRESS_FIELDS - {"overrideAddress"})
        if unknown:
            raise validation(f"The field '{name}.{unknown[0]}' is not a field of an address")
        address = dict(current)
        for key in ADDRESS_FIELDS - {"countryId"}:
            if key in fields:
                address[key] = fields[key]
        if "countryId" in fields:
            country = str(fields["countryId"] or "").upper()
            if country not in COUNTRIES:
                raise validation(f"Country '{fields['countryId']}' not found")
            address["country"] = {"id": country, "name": COUNTRIES[country]}
        return address

    @staticmethod
    def _contact(current: dict[str, Any], fields: Any, name: str) -> dict[str, Any]:
        if not isinstance(fields, dict):
            raise validation(f"The field '{name}' must be a contact object")
        unknown = sorted(set(fields) - CONTACT_FIELDS)
        if unknown:
            raise validation(f"The field '{name}.{unknown[0]}' is not a field of a contact")
        return {**current, **fields}
