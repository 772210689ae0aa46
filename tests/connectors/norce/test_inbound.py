"""Norce's inbound webhooks, without HTTP: authentication, what a body means, the answers."""

from __future__ import annotations

import base64

import pytest

from connectors.norce.inbound import EVENTS, ORDERS
from core.errors import SyncError
from core.inbound import ACCEPTED, DUPLICATE, IGNORED, Ignored, InboundOrder, JobCompleted, OrderEvent, Outcome
from tests.integrations.test_receiver import order_request

CREDENTIALS = {"receiver_username": "norce", "receiver_password": "pw", "event_secret": "s3cret"}


def basic(user_password: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(user_password).decode()}


def test_the_receiver_authenticates_by_basic_auth_with_the_receiver_credentials():
    assert ORDERS.authenticated(basic(b"norce:pw"), CREDENTIALS)
    assert not ORDERS.authenticated(basic(b"norce:s3cret"), CREDENTIALS)
    assert not ORDERS.authenticated({}, CREDENTIALS)
    assert not ORDERS.authenticated(basic(b"norce:"), {"receiver_username": "norce"})


def test_the_event_webhook_authenticates_by_its_secret_header():
    assert EVENTS.authenticated({"X-Brygga-Secret": "s3cret"}, CREDENTIALS)
    assert not EVENTS.authenticated({"X-Brygga-Secret": "pw"}, CREDENTIALS)
    assert not EVENTS.authenticated({}, {})


def test_the_receiver_reads_an_order_request_into_an_order_and_its_payload():
    body = order_request("700123")
    received = ORDERS.read(body)
    assert isinstance(received, InboundOrder) and received.payload is body
    assert received.order.source_id == "700123" and received.order.buyer.display_name == "Anna Svensson"
    with pytest.raises(SyncError, match="ClientOrderRef"):
        ORDERS.read({"Items": []})


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"ClientOrderRef": 700200}, OrderEvent("700200")),
        ({"JobId": " 42 "}, JobCompleted("42")),
        ({"JobId": 5, "StatusId": 2}, JobCompleted("5")),
        ({"JobId": 5, "ClientOrderRef": "700201"}, OrderEvent("700201")),
        ({"Something": "else"}, Ignored("ClientOrderRef: is missing")),
    ],
)
def test_the_event_webhook_reads_what_an_event_means(body, expected):
    assert EVENTS.read(body) == expected


@pytest.mark.parametrize("job_id", [True, None, {"id": 1}, 1.5])
def test_an_event_with_a_job_id_of_the_wrong_type_cannot_be_used(job_id):
    with pytest.raises(SyncError, match="JobId: must be text or a whole number"):
        EVENTS.read({"JobId": job_id})


def test_the_receiver_answers_norces_order_response():
    order = ORDERS.read(order_request())
    assert ORDERS.answer(Outcome(ACCEPTED, order)) == {
        "StatusCode": "OK",
        "Description": "Received",
        "HasErpOrderNo": False,
        "ErpOrderNo": None,
    }
    assert ORDERS.answer(Outcome(DUPLICATE, order))["Description"] == "Already received"
    invoiced = ORDERS.answer(Outcome(DUPLICATE, order, invoice="1042"))
    assert invoiced["Description"] == "Already invoiced (Fortnox invoice 1042)" and not invoiced["HasErpOrderNo"]
    refused = ORDERS.refusal(400, "x" * 500)
    assert refused["StatusCode"] == "Failed" and len(refused["Description"]) == 300


def test_the_event_webhook_answers_plain_json():
    assert EVENTS.answer(Outcome(DUPLICATE, OrderEvent("7"))) == {"status": "duplicate", "ClientOrderRef": "7"}
    assert EVENTS.answer(Outcome(IGNORED, JobCompleted("J" * 500)))["JobId"] == "J" * 99 + "…"
    assert EVENTS.answer(Outcome(IGNORED, Ignored("no\x00pe"))) == {"status": "ignored", "reason": "no\\u0000pe"}
    assert EVENTS.refusal(401, EVENTS.unauthenticated) == {"error": "missing or wrong X-Brygga-Secret header"}
