"""The Norce simulator's Order service: bodies read as Norce binds them, 400s with a reason,
per-order delivery notes, invoices and cancellations, duplicates counted, lost answers."""

from __future__ import annotations

import pytest
import requests

from simulators.norce.server import NorceSimulator
from tests.simulators.norce.test_server import api, running_sim, sim  # noqa: F401 - fixtures

CONNECT = "/commerce/connect/4.0/Order/"


def post(sim: NorceSimulator, api: requests.Session, method: str, body: dict) -> requests.Response:
    return api.post(sim.url + CONNECT + method, json=body, timeout=5)


def confirmed(sim: NorceSimulator, erp_no: str) -> dict:
    order = sim.place_order()
    order["ErpOrderNo"] = order["OrderNo"] = erp_no
    return order


@pytest.mark.parametrize("items_key", ["DeliveryNoteItems", "DeliverynoteItems", "deliveryNoteItems"])
def test_a_delivery_note_binds_every_spelling_and_sets_the_status(sim, api, items_key):
    order = confirmed(sim, "SO-1")
    products = [i for i in order["Items"] if i.get("Type") not in ("Freight", 3)]
    half = [{"ItemNo": products[0]["PartNo"], "Qty": 0.5, "RowNumber": products[0]["LineNo"]}]
    body = {
        "OrderNo": "SO-1",
        "NoteNo": "DN-1",
        "DeliveryDate": "2026-05-02T00:00:00",
        items_key: half,
        "DeliveryNotePackages": [{"ParcelNumber": "0037", "StatusId": "Delivered"}],
    }
    assert post(sim, api, "CreateDeliveryNote", body).status_code == 200
    (note,) = order["_delivery_notes"]
    assert note["Items"][0]["ItemNo"] == products[0]["PartNo"] and note["Packages"][0]["StatusId"] == 4
    assert order["StatusId"] == 8  # PartlyDelivered
    rest = [{"ItemNo": i["PartNo"], "Qty": i["Quantity"]} for i in products]
    assert post(sim, api, "CreateDeliveryNote", dict(body, NoteNo="DN-2", **{items_key: rest})).status_code == 200
    assert order["StatusId"] == 4  # Delivered once every product went
    assert [n["NoteNo"] for n in order["_delivery_notes"]] == ["DN-1", "DN-2"]


@pytest.mark.parametrize(
    ("method", "body", "reason"),
    [
        ("CreateDeliveryNote", {"NoteNo": "DN-1"}, "OrderNo: is required"),
        (
            "CreateDeliveryNote",
            {"OrderNo": "SO-1", "DeliveryNoteItems": [{"ItemNo": "X", "Qty": "två"}]},
            "DeliveryNoteItems[0].Qty: 'två' is not a number",
        ),
        (
            "CreateDeliveryNote",
            {"OrderNo": "SO-1", "DeliveryNotePackages": [{"ParcelNumber": "1", "StatusId": "Lost"}]},
            "DeliveryNotePackages[0].StatusId",
        ),
        ("CreateDeliveryNote", {"OrderNo": "nope"}, "Order not found"),
        ("CreateInvoice", {"ClientOrderRef": "abc", "InvoiceNo": "1"}, "ClientOrderRef: 'abc' is not an integer"),
        ("CreateInvoice", {"InvoiceNo": "1", "Items": [{"PartNo": "A", "Quantity": 1}]}, "Items[0].UnitPrice"),
        ("CreateInvoice", {"InvoiceNo": "1", "SuppressPspCall": "yes"}, "SuppressPspCall"),
        ("CreateInvoice", {"InvoiceNo": "1", "Payment": {"Amount": "x"}}, "Payment.Amount"),
        ("CancelOrder", {"ClientOrderRef": 1.5}, "ClientOrderRef"),
    ],
)
def test_bad_bodies_get_a_400_naming_the_field(sim, api, method, body, reason):
    confirmed(sim, "SO-1")
    answer = post(sim, api, method, body)
    assert answer.status_code == 400
    assert reason in answer.json()["Description"]
    assert sim.delivery_notes == sim.invoices == sim.cancellations == []


def test_invoices_set_invoiced_count_duplicates_and_capture_unless_suppressed(sim, api):
    order = confirmed(sim, "1001")
    ref = int(order["ClientOrderRef"])
    body = {
        "ClientOrderRef": ref,
        "InvoiceNo": "1001",
        "Payment": {"Amount": 199},
        "SuppressPspCall": True,
        "Items": [{"PartNo": "A", "Quantity": 1, "UnitPrice": 159.2, "UnitVat": 39.8, "VatRate": 25}],
    }
    assert post(sim, api, "CreateInvoice", body).status_code == 200
    assert order["StatusId"] == 5 and sim.psp_captures == [] and sim.duplicate_documents == []
    assert (
        post(sim, api, "CreateInvoice", dict(body, ClientOrderRef=str(ref), SuppressPspCall=False)).status_code == 200
    )
    assert [d["number"] for d in sim.duplicate_documents] == ["1001"]
    assert [c["invoice_no"] for c in sim.psp_captures] == ["1001"]
    assert order["_invoices"] == ["1001", "1001"]
    partial = confirmed(sim, "1002")
    body = {"ClientOrderRef": int(partial["ClientOrderRef"]), "InvoiceNo": "1002", "IsLastInvoiceForOrder": False}
    assert post(sim, api, "CreateInvoice", body).status_code == 200
    assert partial["StatusId"] != 5


def test_an_answer_lost_after_commit(sim, api):
    order = confirmed(sim, "1003")
    sim.fail_after_commit = 1
    ref = int(order["ClientOrderRef"])
    assert post(sim, api, "CancelOrder", {"ClientOrderRef": ref}).status_code == 503
    assert order["StatusId"] == 6 and len(sim.cancellations) == 1 and sim.lost_answers == 1
    assert post(sim, api, "CancelOrder", {"ClientOrderRef": ref}).status_code == 200
    assert [d["kind"] for d in sim.duplicate_documents] == ["cancellation"]
    assert sim.state_summary()["duplicate_documents"] == 1


def test_server_errors_can_be_switched_on_for_the_order_service(sim, api):
    confirmed(sim, "1004")
    sim.faults.update({"error_5xx_rate": 1.0, "paths": [CONNECT]})
    assert post(sim, api, "CreateInvoice", {"InvoiceNo": "1004"}).status_code in (500, 502, 503)
    assert sim.invoices == []
