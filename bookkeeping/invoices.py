"""An order booked once: every line checked and its amounts computed, for any ERP to format,
and the ERP's invoice checked against it afterwards. Pure Decimal, no I/O."""

from __future__ import annotations

from decimal import Decimal

from bookkeeping.vat import check_line_vat, gross_unit_price, line_amounts, quantize_ore, vat_from_gross
from core.records import BookedLine, BookedOrder, Invoice, Order

ZERO = Decimal("0.00")


def book_order(order: Order, *, prices_include_vat: bool) -> BookedOrder:
    """Check every line's VAT (raises SyncError naming the line) and compute each row and the totals."""
    lines = []
    for line in order.lines:
        check_line_vat(line)
        assert line.vat_rate is not None  # check_line_vat refuses a line without one
        amounts = line_amounts(line)
        price = gross_unit_price(line) if prices_include_vat else Decimal(line.unit_price)
        lines.append(
            BookedLine(
                line=line,
                vat_rate=Decimal(line.vat_rate),
                price=price,
                net=amounts.net,
                vat=amounts.vat,
                gross=amounts.gross,
            )
        )
    net = sum((row.net for row in lines), ZERO)
    vat = sum((row.vat for row in lines), ZERO)
    return BookedOrder(
        order=order, prices_include_vat=prices_include_vat, lines=tuple(lines), net=net, vat=vat, gross=net + vat
    )


def check_invoice(booked: BookedOrder, invoice: Invoice, *, erp: str) -> tuple[bool, str]:
    """Whether the ERP's computed totals agree with the order's, with an explanation.

    The gross (the invoice's total less its öresavrundning) must equal the order's to the
    öre. VAT must equal the order's to the öre, or the VAT the ERP itself derives from the
    rows it was sent: Norce rounds VAT per unit (UnitVat × Quantity) while an ERP computes
    it from the row amounts (gross when prices include VAT), so the two may differ by
    rounding. Whether the ERP rounds per row or per rate is not documented; both are
    accepted. The explanation is also returned when the totals agree but VAT differs by
    such rounding. An invoice read without totals passes unexplained.
    """
    if invoice.total is None:
        return True, ""
    order = booked.order
    total = quantize_ore(invoice.total - invoice.round_off)
    vat = quantize_ore(invoice.vat if invoice.vat is not None else ZERO)
    currency = invoice.currency or order.currency
    document = "sales order" if invoice.kind == "order" else "invoice"
    prefix = f"{erp} {document} {invoice.number or '?'} for order {order.order_no}: "
    problems = []
    if total != booked.gross:
        problems.append(
            f"total {total} {currency} (before rounding) but the order's is {booked.gross} "
            f"(difference {total - booked.gross:+})"
        )
    if vat != booked.vat and vat not in derived_vat(booked, gross=invoice.vat_included):
        problems.append(f"VAT {vat} {currency} but the order's is {booked.vat} (difference {vat - booked.vat:+})")
    if problems:
        return False, prefix + "; ".join(problems)
    if vat != booked.vat:
        return True, (
            prefix + f"VAT {vat} {currency} differs from the order's {booked.vat} by "
            f"{vat - booked.vat:+} through rounding ({erp} computes VAT from the row amounts)"
        )
    return True, ""


def derived_vat(booked: BookedOrder, *, gross: bool) -> set[Decimal]:
    """VAT totals an ERP may compute from the rows: rounded per row, or per rate."""
    per_row = ZERO
    by_rate: dict[Decimal, Decimal] = {}
    for row in booked.lines:
        base = row.gross if gross else row.net
        per_row += _vat_of(base, row.vat_rate, gross)
        by_rate[row.vat_rate] = by_rate.get(row.vat_rate, ZERO) + base
    per_rate = sum((_vat_of(base, rate, gross) for rate, base in by_rate.items()), ZERO)
    return {per_row, per_rate}


def _vat_of(amount: Decimal, rate: Decimal, gross: bool) -> Decimal:
    return vat_from_gross(amount, rate) if gross else quantize_ore(amount * rate / 100)
