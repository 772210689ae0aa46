"""Swedish VAT arithmetic on Brygga's order records. Pure Decimal, no I/O.

Amounts are rounded to whole öre (2 decimals, half up) per line, the way Norce
computes a row: net = UnitPrice × Quantity and VAT = UnitVat × Quantity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from core.errors import ORDER_MISSING_VAT, SyncError, register
from core.records import Order, OrderLine

ORE = Decimal("0.01")
HUNDRED = Decimal(100)
SWEDISH_VAT_RATES = (25, 12, 6, 0)

VAT_RATE_UNKNOWN = register(
    "bookkeeping.vat_rate_unknown",
    "An order line has a VAT rate that is not a Swedish rate",
    "Swedish VAT is 25, 12, 6 or 0 %. Correct the product's VAT rate (or the VAT setup of the sales area) in "
    "Norce, then retry the record.",
)


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class OrderTotals:
    net: Decimal
    vat: Decimal
    gross: Decimal
    # rate → (net, vat), highest rate first
    vat_by_rate: dict[Decimal, tuple[Decimal, Decimal]] = field(default_factory=dict)


def quantize_ore(x: Decimal | int | str) -> Decimal:
    """Round to öre (2 decimals, half up): 10.605 → 10.61, -10.605 → -10.61."""
    return Decimal(x).quantize(ORE, rounding=ROUND_HALF_UP)


def rate_key(rate: Decimal | int) -> Decimal:
    """A rate in canonical form: Decimal('25.00') → Decimal('25')."""
    rate = Decimal(rate)
    return rate.quantize(Decimal(1)) if rate == rate.to_integral_value() else rate.normalize()


def check_line_vat(line: OrderLine) -> None:
    """Raise when the line has no VAT rate or one that is not Swedish."""
    where = f"line {line.line_no} ({line.part_no or line.description or line.kind})"
    if line.vat_rate is None:
        raise SyncError(ORDER_MISSING_VAT.code, f"Order {where} has no VAT rate", details={"line_no": line.line_no})
    if Decimal(line.vat_rate) not in {Decimal(r) for r in SWEDISH_VAT_RATES}:
        raise SyncError(
            VAT_RATE_UNKNOWN.code,
            f"Order {where} has VAT rate {rate_key(line.vat_rate)} %, which is not a Swedish rate",
            details={"line_no": line.line_no, "vat_rate": str(line.vat_rate)},
        )


def unit_vat(line: OrderLine) -> Decimal:
    """VAT per unit: Norce's UnitVat when given, else computed (unrounded) from the rate."""
    if line.unit_vat is not None:
        return Decimal(line.unit_vat)
    rate = line.vat_rate
    if rate is None:
        check_line_vat(line)  # raises order.missing_vat
        raise AssertionError("check_line_vat accepted a line without a VAT rate")
    return Decimal(line.unit_price) * Decimal(rate) / HUNDRED


def gross_unit_price(line: OrderLine) -> Decimal:
    """Unit price including VAT, exact (not rounded): unit_price + unit VAT."""
    return Decimal(line.unit_price) + unit_vat(line)


def line_amounts(line: OrderLine) -> LineAmounts:
    """A row's net, VAT and gross, each in whole öre."""
    quantity = Decimal(line.quantity)
    net = quantize_ore(Decimal(line.unit_price) * quantity)
    vat = quantize_ore(unit_vat(line) * quantity)
    return LineAmounts(net=net, vat=vat, gross=net + vat)


def order_totals(order: Order) -> OrderTotals:
    """The order's net, VAT and gross as sums of its rounded rows, and per VAT rate."""
    return totals_of(order.lines)


def totals_of(lines: Iterable[OrderLine]) -> OrderTotals:
    by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
    net = vat = Decimal("0.00")
    for line in lines:
        amounts = line_amounts(line)
        net += amounts.net
        vat += amounts.vat
        # A line with UnitVat but no rate is booked under the rate its numbers imply.
        rate = rate_key(line.vat_rate) if line.vat_rate is not None else _implied_rate(line)
        rate_net, rate_vat = by_rate.get(rate, (Decimal("0.00"), Decimal("0.00")))
        by_rate[rate] = (rate_net + amounts.net, rate_vat + amounts.vat)
    ordered = dict(sorted(by_rate.items(), key=lambda item: item[0], reverse=True))
    return OrderTotals(net=net, vat=vat, gross=net + vat, vat_by_rate=ordered)


def vat_from_gross(gross: Decimal | int | str, rate: Decimal | int) -> Decimal:
    """The VAT part of a gross amount, in öre: 99 at 12 % → 10.61."""
    rate = Decimal(rate)
    return quantize_ore(Decimal(gross) * rate / (HUNDRED + rate))


def _implied_rate(line: OrderLine) -> Decimal:
    price = Decimal(line.unit_price)
    if not price:
        return Decimal(0)
    return rate_key((unit_vat(line) * HUNDRED / price).quantize(Decimal(1), rounding=ROUND_HALF_UP))
