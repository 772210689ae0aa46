"""The demo company's data and the generated catalogue.

The inventory holds every part number of the webshop's demo catalogue
(`simulators.norce.orders.DEMO_CATALOGUE`, so demo orders name items that exist here)
plus ``FRAKT``, a non-stock freight item; Base prices net of VAT and stock in MAIN.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.norce.orders import DEMO_CATALOGUE
from simulators.numbers import ean_check_digit, luhn_digit
from simulators.vismanet.catalogue import Segment
from simulators.vismanet.company import DEFAULT_WAREHOUSE
from simulators.vismanet.customers import CustomerResource
from simulators.vismanet.prices import PriceResource
from simulators.vismanet.values import HUNDRED, round_ore

FREIGHT_ITEM = "FRAKT"
PEOPLE = (
    ("Anna Svensson", "Vasagatan 12", "411 24", "Göteborg"),
    ("Erik Johansson", "Storgatan 3", "111 51", "Stockholm"),
    ("Maria Karlsson", "Kungsgatan 40", "753 21", "Uppsala"),
    ("Lars Nilsson", "Drottninggatan 8", "211 41", "Malmö"),
    ("Karin Eriksson", "Skolgatan 15", "903 25", "Umeå"),
    ("Johan Larsson", "Parkvägen 2", "582 20", "Linköping"),
    ("Sara Olsson", "Strandvägen 19", "621 55", "Visby"),
    ("Per Persson", "Hamngatan 7", "972 31", "Luleå"),
    ("Elin Gustafsson", "Nygatan 21", "702 10", "Örebro"),
    ("Oskar Pettersson", "Kyrkogatan 4", "722 14", "Västerås"),
    ("Frida Lindberg", "Järnvägsgatan 11", "553 15", "Jönköping"),
    ("Nils Berg", "Södra vägen 30", "222 29", "Lund"),
)
COMPANIES = (
    ("Norrlands Kontor AB", "Storgatan 5", "903 26", "Umeå"),
    ("Västkust Design AB", "Hamngatan 2", "411 14", "Göteborg"),
    ("Mälardalens Bygg AB", "Industrivägen 9", "722 33", "Västerås"),
    ("Skånska Café AB", "Lilla Torg 1", "211 34", "Malmö"),
    ("Fjäll Hotell AB", "Fjällvägen 4", "972 41", "Luleå"),
    ("Sjöstads Konsult AB", "Hammarby allé 60", "120 63", "Stockholm"),
    ("Gröna Trädgård AB", "Odlarvägen 12", "753 34", "Uppsala"),
    ("Granit Handel AB", "Stenhuggargatan 3", "582 73", "Linköping"),
)


def demo_items() -> list[dict[str, Any]]:
    """The demo catalogue as plain item fields (defaultPrice net of VAT, rounded half up to öre)."""
    items = []
    for index, article in enumerate(DEMO_CATALOGUE):
        number, name = article["part_no"], article["name"]
        gross, rate = Decimal(article["price_incl_vat"]), int(article["vat_rate"])
        service = number.startswith(("SV-", "GC-")) or "nedladdning" in name
        ean_body = f"73{index + 100000:010d}"
        items.append(
            {
                "inventoryNumber": number,
                "description": name,
                "type": "ServiceItem" if service else "FinishedGoodItem",
                "vatRate": rate,
                "defaultPrice": round_ore(gross * HUNDRED / (HUNDRED + rate)),
                "ean": "" if service else ean_body + ean_check_digit(ean_body),
                **({} if service else {"onHand": 50 + (index * 7) % 150, "warehouse": DEFAULT_WAREHOUSE}),
            }
        )
    items.append(
        {
            "inventoryNumber": FREIGHT_ITEM,
            "description": "Frakt",
            "type": "NonStockItem",
            "vatRate": 25,
            "defaultPrice": Decimal("39.20"),
            "ean": "",
        }
    )
    return items


def demo_customers() -> list[dict[str, Any]]:
    """Twenty customers: twelve private buyers and eight companies."""
    customers: list[dict[str, Any]] = []
    for name, street, postal, city in PEOPLE:
        email = name.lower().replace(" ", ".").translate(str.maketrans("åäöé", "aaoe")) + "@example.se"
        customers.append(
            {
                "name": name,
                "customerClassId": "WEB",
                "mainAddress": {"addressLine1": street, "postalCode": postal, "city": city, "countryId": "SE"},
                "mainContact": {"name": name, "email": email, "phone1": "070-123 45 67"},
            }
        )
    for serial, (name, street, postal, city) in enumerate(COMPANIES):
        body = f"55{6100000 + serial * 1237:07d}"
        corporate = f"{body[:6]}-{body[6:]}{luhn_digit(body)}"
        slug = name.split()[0].lower().translate(str.maketrans("åäö", "aao"))
        customers.append(
            {
                "name": name,
                "customerClassId": "B2B",
                "corporateId": corporate,
                "vatRegistrationId": f"SE{corporate.replace('-', '')}01",
                "mainAddress": {"addressLine1": street, "postalCode": postal, "city": city, "countryId": "SE"},
                "mainContact": {"name": name, "email": f"faktura@{slug}.example.se", "phone1": "08-123 456"},
            }
        )
    return customers


class DemoData(CustomerResource, PriceResource):
    """Seeding `VismaNetSimulator`."""

    def seed_demo(self, tenant_id: str | None = None) -> None:
        """A Swedish webshop company: VAT codes, twenty customers, the demo inventory with prices and stock."""
        with self.lock:
            company = self.company(tenant_id)
            if not company.customers:
                self.seed_customers(demo_customers(), tenant_id=company.tenant_id)
            self.seed_inventory(demo_items(), tenant_id=company.tenant_id)

    def seed_generated(
        self,
        n: int,
        *,
        prefix: str = "G",
        start: int = 1,
        seed: int = 1,
        warehouse: str = DEFAULT_WAREHOUSE,
        tenant_id: str | None = None,
    ) -> dict[str, Any]:
        """`n` generated items (up to 1,000,000), computed on demand; returns the first and last number."""
        with self.lock:
            company = self.company(tenant_id)
            segment = Segment(prefix, start, n, seed, warehouse, self._seed_moment())
            first, last = segment.number(0), segment.number(n - 1)
            for other in company.segments:
                if not (last < other.number(0) or first > other.number(other.count - 1)):
                    raise ValueError(f"generated numbers {first}..{last} overlap an existing catalogue")
            if any(segment.index_of(number) is not None for number in company.inventory):
                raise ValueError(f"generated numbers {first}..{last} include a stored item's number")
            company.segments.append(segment)
            return {"first": first, "last": last, "count": n}

    def _seed_moment(self) -> datetime:
        return self.clock()
