"""Customers: /3/customers[/{CustomerNumber}] (GET list/one, POST, PUT, DELETE)."""

from __future__ import annotations

from typing import Any

from simulators.base import Request, Response
from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.catalogue import generated_customer
from simulators.fortnox.errors import ApiError, Code

CUSTOMER_WRITABLE = frozenset(
    {
        "Active",
        "Address1",
        "Address2",
        "City",
        "Comments",
        "CostCenter",
        "Country",
        "CountryCode",
        "Currency",
        "CustomerNumber",
        "DefaultDeliveryTypes",
        "DefaultTemplates",
        "DeliveryAddress1",
        "DeliveryAddress2",
        "DeliveryCity",
        "DeliveryCountry",
        "DeliveryCountryCode",
        "DeliveryFax",
        "DeliveryName",
        "DeliveryPhone1",
        "DeliveryPhone2",
        "DeliveryZipCode",
        "Email",
        "EmailInvoice",
        "EmailInvoiceBCC",
        "EmailInvoiceCC",
        "EmailOffer",
        "EmailOfferBCC",
        "EmailOfferCC",
        "EmailOrder",
        "EmailOrderBCC",
        "EmailOrderCC",
        "ExternalReference",
        "Fax",
        "GLN",
        "GLNDelivery",
        "InvoiceAdministrationFee",
        "InvoiceDiscount",
        "InvoiceFreight",
        "InvoiceRemark",
        "Name",
        "OrganisationNumber",
        "OurReference",
        "Phone1",
        "Phone2",
        "PriceList",
        "Project",
        "SalesAccount",
        "ShowPriceVATIncluded",
        "TermsOfDelivery",
        "TermsOfPayment",
        "Type",
        "VATNumber",
        "VATType",
        "VisitingAddress",
        "VisitingCity",
        "VisitingCountry",
        "VisitingCountryCode",
        "VisitingZipCode",
        "WWW",
        "WayOfDelivery",
        "YourReference",
        "ZipCode",
    }
)
CUSTOMER_READ_ONLY = frozenset({"@url"})

CUSTOMER_SEARCH = {
    "customernumber": "CustomerNumber",
    "name": "Name",
    "email": "Email",
    "organisationnumber": "OrganisationNumber",
    "zipcode": "ZipCode",
    "city": "City",
    "phone": "Phone1",
    "gln": "GLN",
    "glndelivery": "GLNDelivery",
}
CUSTOMER_SORT = {"customernumber": "CustomerNumber", "name": "Name"}


class CustomerResource(FortnoxApi):
    """The customer register (deleted customer numbers stay taken)."""

    def add_customer(self, name: str, **fields: Any) -> dict[str, Any]:
        """Create a customer as POST /3/customers would; returns the stored record."""
        with self.lock:
            return self._create_customer({"Name": name, **fields})

    def seed_generated_customers(self, count: int, *, companies_share: float = 0.3, seed: int = 1) -> list[str]:
        """Create `count` customers (private and COMPANY, some inactive), numbered after the
        highest numeric customer number; returns their numbers."""
        with self.lock:
            taken = [int(n) for n in set(self.customers) | self.reserved_customer_numbers if n.isdigit()]
            first = max(taken, default=0) + 1
            numbers = []
            for serial in range(first, first + int(count)):
                fields = generated_customer(serial, seed, companies_share)
                numbers.append(self._create_customer({"CustomerNumber": str(serial), **fields})["CustomerNumber"])
            return numbers

    def _customer_body(self, customer: dict[str, Any]) -> dict[str, Any]:
        return {"@url": self._url(f"/3/customers/{customer['CustomerNumber']}"), **customer}

    def _customer(self, number_: str) -> dict[str, Any]:
        customer = self.customers.get(number_)
        if customer is None:
            raise ApiError(404, "Kan inte hitta kunden.", Code.CUSTOMER_NOT_FOUND_404)
        return customer

    def _list_customers(self, request: Request) -> Response:
        records = list(self.customers.values())
        state = request.query.get("filter", "")
        if state:
            if state not in ("active", "inactive"):
                raise ApiError(400, f"Ogiltig parameter i anropet. (filter={state})", Code.INVALID_PARAMETER)
            records = [c for c in records if c["Active"] == (state == "active")]
        page, meta = self._list(
            request, "customers", records, search=CUSTOMER_SEARCH, sort=CUSTOMER_SORT, key_field="CustomerNumber"
        )
        return Response(body={"Customers": [self._customer_body(c) for c in page], "MetaInformation": meta})

    def _post_customer(self, request: Request) -> Response:
        data = self._payload(request, "Customer", CUSTOMER_WRITABLE, CUSTOMER_READ_ONLY)
        return Response(status=201, body={"Customer": self._customer_body(self._create_customer(data))})

    def _get_customer(self, request: Request) -> Response:
        return Response(body={"Customer": self._customer_body(self._customer(request.params["number"]))})

    def _put_customer(self, request: Request) -> Response:
        customer = self._customer(request.params["number"])
        data = self._payload(request, "Customer", CUSTOMER_WRITABLE, CUSTOMER_READ_ONLY)
        if "CustomerNumber" in data and str(data.pop("CustomerNumber")) != customer["CustomerNumber"]:
            raise ApiError(400, "Kundnumret kan inte ändras.", Code.INVALID_VALUE)
        if "Name" in data and not str(data["Name"] or "").strip():
            raise ApiError(400, "Kundnamn måste anges.", Code.NAME_REQUIRED)
        self._check_currency(data.get("Currency"))
        customer.update(data)
        self._touch("customers", customer["CustomerNumber"])
        return Response(body={"Customer": self._customer_body(customer)})

    def _delete_customer(self, request: Request) -> Response:
        customer = self._customer(request.params["number"])
        del self.customers[customer["CustomerNumber"]]
        self.reserved_customer_numbers.add(customer["CustomerNumber"])
        return Response(status=204)

    def _create_customer(self, data: dict[str, Any]) -> dict[str, Any]:
        data = self._fields(dict(data), CUSTOMER_WRITABLE, CUSTOMER_READ_ONLY)
        if not str(data.get("Name") or "").strip():
            raise ApiError(400, "Kundnamn måste anges.", Code.NAME_REQUIRED)
        number_ = str(data.get("CustomerNumber") or "").strip()
        if number_:
            if number_ in self.customers or number_ in self.reserved_customer_numbers:
                raise ApiError(
                    400,
                    f"Kundnummer {number_} används redan. Kundnumret har redan använts men blivit raderat.",
                    Code.CUSTOMER_NUMBER_USED,
                )
        else:
            number_ = self._next_number(set(self.customers) | self.reserved_customer_numbers)
        self._check_currency(data.get("Currency"))
        customer: dict[str, Any] = {
            "Active": True,
            "Address1": "",
            "Address2": "",
            "City": "",
            "Comments": "",
            "CostCenter": "",
            "Country": "Sverige",
            "CountryCode": "SE",
            "Currency": "SEK",
            "CustomerNumber": number_,
            "DeliveryAddress1": "",
            "DeliveryAddress2": "",
            "DeliveryCity": "",
            "DeliveryCountry": "",
            "DeliveryCountryCode": "",
            "DeliveryName": "",
            "DeliveryZipCode": "",
            "Email": "",
            "EmailInvoice": "",
            "ExternalReference": "",
            "Name": "",
            "OrganisationNumber": "",
            "OurReference": "",
            "Phone1": "",
            "Phone2": "",
            "PriceList": "A",
            "Project": "",
            "SalesAccount": None,
            "ShowPriceVATIncluded": False,
            "TermsOfDelivery": "",
            "TermsOfPayment": "30",
            "Type": "PRIVATE",
            "VATNumber": "",
            "VATType": "SEVAT",
            "WayOfDelivery": "",
            "YourReference": "",
            "ZipCode": "",
        }
        customer.update(data)
        customer["CustomerNumber"] = number_
        self.customers[number_] = customer
        self._touch("customers", number_)
        return customer
