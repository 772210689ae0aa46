"""Brygga's life records → Norce Connect Order-service bodies, amounts as given."""

from __future__ import annotations

from decimal import Decimal

from connectors.norce.order_life_bodies import cancel_order, delivery_note, invoice
from core.records import Cancellation, DeliveredLine, Delivery, Invoiced, InvoicedLine

D = Decimal


def test_a_delivery_note_names_the_order_the_shipment_and_its_parcels():
    delivery = Delivery(
        document="SHP-77",
        order_reference="700001",
        erp_order="SO-12",
        delivered_on="2026-05-02",
        lines=(DeliveredLine("1000-42", D("2"), "Löparsko", row_number=1), DeliveredLine("2000-1", D("1.5"))),
        parcels=("00370712345678901234",),
        carrier="POSTNORD",
        complete=False,
    )
    assert delivery_note(delivery, order_no="SO-12") == {
        "OrderNo": "SO-12",
        "NoteNo": "SHP-77",
        "DeliveryDate": "2026-05-02T00:00:00",
        "DeliveryMode": "POSTNORD",
        "DeliveryNotePackages": [{"ParcelNumber": "00370712345678901234", "StatusId": 4}],
        "DeliveryNoteItems": [
            {"ItemNo": "1000-42", "Qty": 2, "RowNumber": 1, "Description": "Löparsko"},
            {"ItemNo": "2000-1", "Qty": 1.5},
        ],
    }


def test_an_invoice_carries_payment_vat_round_off_and_lines():
    invoiced = Invoiced(
        document="1042",
        order_reference="700001",
        erp_order="1042",
        invoice_date="2026-05-04",
        due_date="2026-06-03",
        currency="SEK",
        total=D("298.00"),
        vat=D("53.37"),
        lines=(
            InvoicedLine("SKU-1", "Tröja", D("1"), D("159.20"), D("39.80"), D("25")),
            InvoicedLine("", "Bok", D("1"), D("88.39"), D("10.61"), D("12")),
        ),
        round_off=D("0.40"),
    )
    body = invoice(invoiced, source_id="700001", suppress_psp_call=True)
    assert body["ClientOrderRef"] == 700001  # an int in the Order service
    assert body["Payment"] == {"Amount": 298, "CurrencyCode": "SEK"}
    assert (body["Vat"], body["InvoiceRoundOff"], body["SuppressPspCall"]) == (53.37, 0.4, True)
    assert body["InvoiceDate"] == "2026-05-04T00:00:00" and body["InvoiceDueDate"] == "2026-06-03T00:00:00"
    assert body["IsLastInvoiceForOrder"] is True
    assert body["Items"] == [
        {
            "LineNo": 1,
            "PartNo": "SKU-1",
            "Description": "Tröja",
            "Quantity": 1,
            "UnitPrice": 159.2,
            "UnitVat": 39.8,
            "VatRate": 25,
        },
        {"LineNo": 2, "Description": "Bok", "Quantity": 1, "UnitPrice": 88.39, "UnitVat": 10.61, "VatRate": 12},
    ]


def test_a_cancellation_names_no_payment_so_the_psp_is_left_alone():
    body = cancel_order(Cancellation("1042", "700001", "1042"), source_id="700001")
    assert body == {"ClientOrderRef": 700001, "ErpOrderNo": "1042"}
