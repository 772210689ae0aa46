"""The company: /3/companyinformation, /3/settings/company, and the VAT rates, currencies
and accounts documents are checked against."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.errors import ApiError, Code
from simulators.fortnox.values import to_decimal

# A small BAS chart: enough for webshop sales, freight, fees and payments.
BAS_ACCOUNTS: dict[int, str] = {
    1510: "Kundfordringar",
    1580: "Fordringar för kontokort och kuponger",
    1930: "Företagskonto/checkkonto/affärskonto",
    2611: "Utgående moms på försäljning inom Sverige, 25 %",
    2621: "Utgående moms på försäljning inom Sverige, 12 %",
    2631: "Utgående moms på försäljning inom Sverige, 6 %",
    2641: "Debiterad ingående moms",
    3001: "Försäljning inom Sverige, 25 % moms",
    3002: "Försäljning inom Sverige, 12 % moms",
    3003: "Försäljning inom Sverige, 6 % moms",
    3004: "Försäljning inom Sverige, momsfri",
    3105: "Försäljning varor till land utanför EU",
    3106: "Försäljning varor till annat EU-land, momspliktig",
    3108: "Försäljning varor till annat EU-land, momsfri",
    3520: "Fakturerade frakter",
    3540: "Faktureringsavgifter",
    3731: "Lämnade kassarabatter",
    3740: "Öres- och kronutjämning",
    6570: "Bankkostnader",
}

SALES_ACCOUNT_BY_VAT = {25: 3001, 12: 3002, 6: 3003, 0: 3004}
CURRENCY_RATES: dict[str, Decimal] = {
    "SEK": Decimal("1"),
    "EUR": Decimal("11.45"),
    "NOK": Decimal("0.98"),
    "DKK": Decimal("1.54"),
    "USD": Decimal("10.52"),
}


class CompanyResource(FortnoxApi):
    """The company's information and settings, and the checks against its VAT rates, currencies and accounts."""

    def _company_information(self, request: Request) -> Response:
        return Response(
            body={
                "CompanyInformation": {
                    "Address": "Storgatan 1",
                    "City": "Stockholm",
                    "CompanyName": self.company_name,
                    "CountryCode": "SE",
                    "DatabaseNumber": self.tenant_id,
                    "OrganizationNumber": self.organisation_number,
                    "VisitAddress": "Storgatan 1",
                    "VisitCity": "Stockholm",
                    "VisitCountryCode": "SE",
                    "VisitZipCode": "111 22",
                    "ZipCode": "111 22",
                }
            }
        )

    def _company_settings(self, request: Request) -> Response:
        return Response(
            body={
                "CompanySettings": {
                    "Address": "Storgatan 1",
                    "BG": "123-4567",
                    "BIC": "ESSESESS",
                    "BranchCode": "",
                    "City": "Stockholm",
                    "ContactFirstName": "Anna",
                    "ContactLastName": "Berg",
                    "Country": "Sverige",
                    "CountryCode": "SE",
                    "DatabaseNumber": str(self.tenant_id),
                    "Domicile": "Stockholm",
                    "Email": "ekonomi@example.se",
                    "Fax": "",
                    "IBAN": "SE4550000000058398257466",
                    "Name": self.company_name,
                    "OrganizationNumber": self.organisation_number,
                    "PG": "",
                    "Phone1": "08-123 456 00",
                    "Phone2": "",
                    "TaxEnabled": True,
                    "VATNumber": "SE" + self.organisation_number.replace("-", "") + "01",
                    "VisitAddress": "Storgatan 1",
                    "VisitCity": "Stockholm",
                    "VisitCountry": "Sverige",
                    "VisitCountryCode": "SE",
                    "VisitName": self.company_name,
                    "VisitZipCode": "111 22",
                    "WWW": "https://www.example.se",
                    "ZipCode": "111 22",
                }
            }
        )

    def _check_currency(self, code: Any) -> None:
        if code is not None and str(code).upper() not in self.currencies:
            raise ApiError(400, f"Kunde inte hämta/hitta valuta ({code})", Code.CURRENCY_NOT_FOUND)

    def _check_vat(self, value: Any) -> int:
        rate = to_decimal(value, "VAT")
        if rate != rate.to_integral_value() or int(rate) not in self.vat_rates:
            raise ApiError(400, f"Kunde inte hämta/hitta moms ({value})", Code.VAT_NOT_FOUND)
        return int(rate)

    def _check_account(self, value: Any) -> int | None:
        if value in (None, "", 0):
            return None
        try:
            account = int(str(value))
        except ValueError:
            raise ApiError(400, f"Värdet måste vara numeriskt ({value})", Code.NOT_NUMERIC) from None
        if account not in self.accounts:
            raise ApiError(400, f"Kunde inte hitta konto ({account})", Code.ACCOUNT_NOT_FOUND)
        return account
