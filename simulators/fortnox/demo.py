"""The demo's Fortnox data: the webshop catalogue as articles, and two customers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.company import SALES_ACCOUNT_BY_VAT
from simulators.fortnox.values import HUNDRED, round_ore
from simulators.norce.orders import DEMO_CATALOGUE
from simulators.numbers import ean_check_digit


class DemoData(FortnoxApi):
    """Seeding `FortnoxSimulator` for the demo."""

    def seed_demo(self) -> None:
        """A small Swedish webshop: ~40 articles at 25/12/6 % VAT, a freight article and two customers."""
        with self.lock:
            self.seed_articles(demo_articles())
            if "1" not in self.customers:
                self._create_customer(
                    {
                        "CustomerNumber": "1",
                        "Name": "Anna Svensson",
                        "Email": "anna@example.se",
                        "Address1": "Vasagatan 12",
                        "ZipCode": "411 24",
                        "City": "Göteborg",
                        "Type": "PRIVATE",
                    }
                )
            if "2" not in self.customers:
                self._create_customer(
                    {
                        "CustomerNumber": "2",
                        "Name": "Norrlands Kontor AB",
                        "OrganisationNumber": "556123-4567",
                        "Email": "faktura@norrlandskontor.se",
                        "Address1": "Storgatan 5",
                        "ZipCode": "903 26",
                        "City": "Umeå",
                        "Type": "COMPANY",
                    }
                )


def demo_articles() -> list[dict[str, Any]]:
    """The webshop's demo catalogue as Fortnox article objects (SalesPrice excluding VAT).

    The same catalogue the Norce simulator sells from, so demo orders name articles
    that exist here (the ERP is the system of record for articles).
    """
    articles: list[dict[str, Any]] = []
    for index, item in enumerate(DEMO_CATALOGUE):
        number_, description = item["part_no"], item["name"]
        gross, vat = Decimal(item["price_incl_vat"]), int(item["vat_rate"])
        service = number_.startswith(("SV-", "GC-")) or "nedladdning" in description
        ean_body = f"73{index + 100000:010d}"
        articles.append(
            {
                "ArticleNumber": number_,
                "Description": description,
                "SalesPrice": float(round_ore(gross * HUNDRED / (HUNDRED + vat))),
                "VAT": vat,
                "Type": "SERVICE" if service else "STOCK",
                "StockGoods": not service,
                "QuantityInStock": 50 + (index * 7) % 150,
                "WebshopArticle": True,
                "Unit": "st",
                "EAN": "" if service else ean_body + ean_check_digit(ean_body),
                "SalesAccount": SALES_ACCOUNT_BY_VAT[vat],
            }
        )
    articles.append(
        {
            "ArticleNumber": "FRAKT",
            "Description": "Frakt",
            "SalesPrice": 39.2,
            "VAT": 25,
            "Type": "SERVICE",
            "StockGoods": False,
            "WebshopArticle": False,
            "Unit": "st",
            "SalesAccount": 3520,
        }
    )
    return articles
