"""An invoice's rows and totals, as Fortnox computes them (VATIncluded, per-row VAT rounded
to öre, freight and administration fee with their own VAT, optional rounding to whole kronor)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.company import SALES_ACCOUNT_BY_VAT
from simulators.fortnox.errors import ApiError, Code
from simulators.fortnox.values import HUNDRED, number, quantity_text, round_ore, to_decimal

INVOICE_ROW_READ_ONLY = frozenset(
    {"ContributionPercent", "ContributionValue", "PriceExcludingVAT", "Total", "TotalExcludingVAT"}
)
INVOICE_ROW_WRITABLE = frozenset(
    {
        "AccountNumber",
        "ArticleNumber",
        "Cost",
        "CostCenter",
        "DeliveredQuantity",
        "Description",
        "Discount",
        "DiscountType",
        "HouseWork",
        "HouseWorkHoursToReport",
        "HouseWorkType",
        "Price",
        "Project",
        "RowId",
        "StockPointCode",
        "Unit",
        "VAT",
        "VATCode",
    }
)


class InvoiceRows(FortnoxApi):
    """Invoice rows from a request (article defaults, VAT and account checks) and the amounts they add up to."""

    def _build_row(self, raw: Any, index: int, vat_included: bool) -> dict[str, Any]:
        """One invoice row: article defaults, VAT and account checks."""
        if not isinstance(raw, dict):
            raise ApiError(400, "Ingen eller felaktig typ av data. (InvoiceRows)", Code.EMPTY_BODY)
        data = self._fields(dict(raw), INVOICE_ROW_WRITABLE, INVOICE_ROW_READ_ONLY)
        article_number = str(data.get("ArticleNumber") or "").strip()
        article = None
        if article_number:
            article = self._find_article(article_number)
            if article is None:
                raise ApiError(400, "Kunde inte hitta artikel", Code.ARTICLE_NOT_FOUND_ON_ROW)
        vat = self._check_vat(data["VAT"] if data.get("VAT") is not None else (article or {}).get("VAT", 25))
        account = (
            self._check_account(data.get("AccountNumber"))
            or (article or {}).get("SalesAccount")
            or SALES_ACCOUNT_BY_VAT.get(vat, 3001)
        )
        # When no quantity is sent the row has none (a text row shows 0).
        quantity = to_decimal(data.get("DeliveredQuantity"), "DeliveredQuantity")
        if data.get("Price") is not None:
            price = to_decimal(data["Price"], "Price")
        elif article is not None:
            # Article prices are kept excluding VAT; with VATIncluded the row shows the gross price.
            price = to_decimal(article["SalesPrice"])
            if vat_included:
                price = round_ore(price * (HUNDRED + vat) / HUNDRED)
        else:
            price = Decimal(0)
        discount_type = str(data.get("DiscountType") or "PERCENT").upper()
        if discount_type not in ("AMOUNT", "PERCENT"):
            raise ApiError(400, f"Ogiltig rabattyp ({data.get('DiscountType')})", Code.INVALID_VALUE)
        return {
            "AccountNumber": account,
            "ArticleNumber": article_number,
            "CostCenter": data.get("CostCenter") or "",
            "DeliveredQuantity": quantity_text(quantity),
            "Description": data.get("Description") or (article["Description"] if article else ""),
            "Discount": number(to_decimal(data.get("Discount"), "Discount")),
            "DiscountType": discount_type,
            "HouseWork": bool(data.get("HouseWork", False)),
            "Price": number(price),
            "PriceExcludingVAT": 0,
            "Project": data.get("Project") or "",
            "RowId": index,
            "StockPointCode": data.get("StockPointCode"),
            "Total": 0,
            "TotalExcludingVAT": 0,
            "Unit": data.get("Unit") or (article["Unit"] if article else ""),
            "VAT": vat,
            "VATCode": data.get("VATCode"),
        }

    def _compute_totals(self, invoice: dict[str, Any]) -> None:
        """Row and header amounts as Fortnox computes them, in öre, half up.

        Reading used where the docs are silent: a row's Total follows the price mode
        (including VAT when VATIncluded); Net is the rows excluding VAT; Gross adds freight
        and administration fee excluding VAT; FreightVAT/AdministrationFeeVAT are amounts
        at `freight_vat_rate`; Total = Gross + TotalVAT + RoundOff.
        """
        vat_included = bool(invoice["VATIncluded"])
        net = total_vat = Decimal(0)
        for row in invoice["InvoiceRows"]:
            price = to_decimal(row["Price"])
            rate = Decimal(row["VAT"])
            amount = price * to_decimal(row["DeliveredQuantity"])
            discount = to_decimal(row["Discount"])
            if discount and row["DiscountType"] == "AMOUNT":
                amount -= discount  # an amount off the row as a whole (a reading; the docs are silent)
            elif discount:
                amount = amount * (HUNDRED - discount) / HUNDRED
            total = round_ore(amount)
            if vat_included:
                vat = round_ore(total * rate / (HUNDRED + rate))
                excluding = total - vat
                price_excluding = round_ore(price * HUNDRED / (HUNDRED + rate))
            else:
                vat = round_ore(total * rate / HUNDRED)
                excluding = total
                price_excluding = price
            row.update(
                {
                    "Total": number(total),
                    "TotalExcludingVAT": number(excluding),
                    "PriceExcludingVAT": number(price_excluding),
                }
            )
            net += excluding
            total_vat += vat
        fee_rate = Decimal(self.freight_vat_rate)
        fees_excluding = Decimal(0)
        for name in ("Freight", "AdministrationFee"):
            amount = round_ore(to_decimal(invoice[name]))
            vat = round_ore(amount * fee_rate / ((HUNDRED + fee_rate) if vat_included else HUNDRED))
            invoice[f"{name}VAT"] = number(vat)
            fees_excluding += amount - vat if vat_included else amount
            total_vat += vat
        gross = net + fees_excluding
        exact = gross + total_vat
        # Öresavrundning is a SEK concept; other currencies keep their exact total.
        if self.round_off_to_whole and invoice["Currency"] == "SEK":
            rounded = exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)
        else:
            rounded = exact
        paid = to_decimal(invoice["Total"]) - to_decimal(invoice["Balance"])
        invoice.update(
            {
                "Net": number(net),
                "Gross": number(gross),
                "TotalVAT": number(total_vat),
                "RoundOff": number(rounded - exact),
                "Total": number(rounded),
                "TotalToPay": number(rounded),
                "Balance": number(rounded - paid),
            }
        )
