from decimal import Decimal

import pytest

from bookkeeping import vat
from core.errors import CATALOGUE, SyncError
from core.records import Order, OrderLine, Party

D = Decimal


def line(no=1, *, price="100.00", qty="1", rate="25", unit_vat=None, kind="product", part_no="SKU"):
    return OrderLine(
        line_no=no,
        kind=kind,
        part_no=part_no,
        description="Item",
        quantity=D(qty),
        unit_price=D(price),
        vat_rate=None if rate is None else D(rate),
        unit_vat=None if unit_vat is None else D(unit_vat),
    )


@pytest.mark.parametrize(
    "value, expected",
    [
        ("10.605", "10.61"),
        ("10.604", "10.60"),
        ("-10.605", "-10.61"),
        ("0.005", "0.01"),
        ("2", "2.00"),
        ("88.392857", "88.39"),
        ("10.607143", "10.61"),
    ],
)
def test_quantize_ore_rounds_half_up_to_two_decimals(value, expected):
    result = vat.quantize_ore(D(value))
    assert result == D(expected)
    assert result.as_tuple().exponent == -2


def test_line_amounts_use_unit_vat_times_quantity():
    # Norce's rule: row VAT = UnitVat × Quantity (not net × rate).
    amounts = vat.line_amounts(line(price="88.39", unit_vat="10.61", qty="3", rate="12"))
    assert amounts == vat.LineAmounts(net=D("265.17"), vat=D("31.83"), gross=D("297.00"))


def test_line_amounts_compute_vat_from_rate_when_unit_vat_missing():
    amounts = vat.line_amounts(line(price="88.39", qty="3", rate="12"))
    # 265.17 × 12 % = 31.8204 → 31.82
    assert amounts == vat.LineAmounts(net=D("265.17"), vat=D("31.82"), gross=D("296.99"))


def test_line_amounts_round_each_part_to_ore():
    amounts = vat.line_amounts(line(price="0.333", unit_vat="0.0833", qty="1"))
    assert amounts == vat.LineAmounts(net=D("0.33"), vat=D("0.08"), gross=D("0.41"))


def test_gross_unit_price_with_and_without_unit_vat():
    assert vat.gross_unit_price(line(price="88.39", unit_vat="10.61", rate="12")) == D("99.00")
    assert vat.gross_unit_price(line(price="80", rate="25")) == D("100")
    assert vat.gross_unit_price(line(price="88.39", rate="12")) == D("98.9968")  # exact, not rounded


def test_vat_from_gross():
    assert vat.vat_from_gross(D("99"), 12) == D("10.61")
    assert vat.vat_from_gross(D("125"), 25) == D("25.00")
    assert vat.vat_from_gross(D("106"), 6) == D("6.00")
    assert vat.vat_from_gross(D("50"), 0) == D("0.00")


def test_order_totals_sum_rounded_rows_and_split_by_rate():
    order = Order(
        source_id="1",
        order_no="1",
        currency="SEK",
        buyer=Party(name="A"),
        lines=[
            line(1, price="88.39", unit_vat="10.61", qty="2", rate="12"),
            line(2, price="80.00", unit_vat="20.00", qty="1", rate="25"),
            line(3, price="94.34", unit_vat="5.66", qty="1", rate="6"),
            line(4, price="-40.00", unit_vat="-10.00", qty="1", rate="25.00", part_no=""),
        ],
    )
    totals = vat.order_totals(order)
    assert totals.net == D("311.12")
    assert totals.vat == D("36.88")
    assert totals.gross == D("348.00")
    assert list(totals.vat_by_rate) == [D(25), D(12), D(6)]
    assert totals.vat_by_rate[D(25)] == (D("40.00"), D("10.00"))
    assert totals.vat_by_rate[D(12)] == (D("176.78"), D("21.22"))
    assert totals.vat_by_rate[D(6)] == (D("94.34"), D("5.66"))


def test_check_line_vat_accepts_swedish_rates():
    for rate in vat.SWEDISH_VAT_RATES:
        vat.check_line_vat(line(rate=str(rate)))
    vat.check_line_vat(line(rate="25.00"))


def test_check_line_vat_missing_rate():
    with pytest.raises(SyncError) as caught:
        vat.check_line_vat(line(rate=None, part_no="ABC-1"))
    assert caught.value.code == "order.missing_vat"
    assert "ABC-1" in caught.value.message
    assert caught.value.permanent


def test_check_line_vat_unknown_rate_is_registered():
    assert "bookkeeping.vat_rate_unknown" in CATALOGUE
    with pytest.raises(SyncError) as caught:
        vat.check_line_vat(line(rate="19"))
    assert caught.value.code == "bookkeeping.vat_rate_unknown"
    assert "19" in caught.value.message
    assert caught.value.hint


def test_line_amounts_without_rate_or_unit_vat_raise_missing_vat():
    with pytest.raises(SyncError) as caught:
        vat.line_amounts(line(rate=None))
    assert caught.value.code == "order.missing_vat"
