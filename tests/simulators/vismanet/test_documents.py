"""Invoices, credit notes, payments, V3 sales orders, shipments and webhooks over HTTP.

Expected amounts are worked out here by hand from the inputs, not with the simulator's code."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from simulators.vismanet.server import DEFAULT_TENANT_ID, VismaNetSimulator


def w(value):
    return {"value": value}


def line(item: str, quantity, price=None, vat=None, **extra) -> dict:
    fields = {"operation": "Insert", "inventoryNumber": w(item), "quantity": w(quantity)}
    if price is not None:
        fields["unitPriceInCurrency"] = w(price)
    if vat is not None:
        fields["vatCodeId"] = w(vat)
    fields.update({k: w(v) for k, v in extra.items()})
    return fields


def create_invoice(api, lines: list[dict], **header) -> str:
    body = {"customerNumber": w("10001"), **{k: w(v) for k, v in header.items()}, "invoiceLines": lines}
    answer = api("POST", "/v2/customerinvoice", body)
    assert answer.status_code == 201, answer.text
    return answer.headers["Location"].rsplit("/", 1)[1]


def dec(response):
    return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)


# -- invoices ----------------------------------------------------------------------------------


def test_vat_is_computed_once_per_document_per_vat_code(api) -> None:
    # Three 25 % lines of 10.02: per line 2.505 → 2.51 each (7.53); per document 30.06 × 0.25 = 7.515 → 7.52.
    number = create_invoice(
        api,
        [line("KO-5001", 1, "10.02"), line("KO-5002", 1, "10.02"), line("HB-5101", 1, "10.02")]
        + [line("KF-7001", 3, "33.33", "MP2"), line("FRAKT", 1, "39.20")],
        externalReference="N-100",
    )
    invoice = dec(api("GET", f"/v1/customerinvoice/{number}"))
    # 25 %: 30.06 + 39.20 = 69.26 → VAT 17.315 → 17.32; 12 %: 99.99 → 11.9988 → 12.00
    details = {d["vatId"]["id"]: (d["taxableAmount"], d["vatAmount"]) for d in invoice["taxDetails"]}
    assert details == {"MP1": (Decimal("69.26"), Decimal("17.32")), "MP2": (Decimal("99.99"), Decimal("12.0"))}
    assert invoice["detailTotal"] == Decimal("169.25")
    assert invoice["vatTotal"] == Decimal("29.32")
    assert invoice["amount"] == Decimal("198.57") == invoice["balance"]
    assert invoice["status"] == "Balanced" and invoice["documentType"] == "Invoice"
    assert invoice["externalReference"] == "N-100"


def test_line_defaults_discounts_and_whole_krona_rounding(sim: VismaNetSimulator, api) -> None:
    sim.company().round_to_whole = True
    # KO-5001 costs 129 incl. 25 % → 103.20 net. 3 × 103.20 = 309.60, 10 % off = 30.96 → 278.64.
    number = create_invoice(api, [line("KO-5001", 3, discountPercent=10)])
    invoice = dec(api("GET", f"/v1/customerinvoice/{number}"))
    [row] = invoice["invoiceLines"]
    assert (row["unitPriceInCurrency"], row["amountInCurrency"], row["vatCode"]["id"]) == (
        Decimal("103.2"),
        Decimal("278.64"),
        "MP1",
    )
    # VAT 69.66; 348.30 → 348, roundingDiff −0.30
    assert (invoice["vatTotal"], invoice["amount"], invoice["roundingDiff"]) == (
        Decimal("69.66"),
        Decimal("348"),
        Decimal("-0.3"),
    )


@pytest.mark.parametrize(
    ("body", "code", "text"),
    [
        ({"customerNumber": w("99999")}, "10001", "Customer '99999' not found"),
        ({"invoiceLines": [line("NOPE", 1)]}, "10002", "Inventory item 'NOPE' not found"),
        ({"invoiceLines": [line("KO-5001", 1, vat="MP9")]}, "10003", "VAT code 'MP9'"),
        ({"branchNumber": w("9")}, "10004", "Branch '9'"),
        ({"unknownField": w(1)}, "10006", "unknownField"),
    ],
)
def test_invoice_validation_errors(api, body: dict, code: str, text: str) -> None:
    answer = api("POST", "/v2/customerinvoice", {"customerNumber": w("10001"), **body})
    assert answer.status_code == 400
    assert answer.json()["ExceptionFaultCode"] == code and text in answer.json()["ExceptionMessage"]


def test_closed_financial_period(sim: VismaNetSimulator, api) -> None:
    sim.company().closed_periods.add("202601")
    answer = api("POST", "/v2/customerinvoice", {"customerNumber": w("10001"), "documentDate": w("2026-01-15")})
    assert answer.status_code == 400 and answer.json()["ExceptionFaultCode"] == "10005"
    assert answer.json()["ExceptionMessage"] == "Financial period '012026' is closed"


def test_hold_release_and_states(api) -> None:
    number = create_invoice(api, [line("KO-5001", 1)], hold=True)
    assert api("GET", f"/v1/customerinvoice/{number}").json()["status"] == "Hold"
    refused = api("POST", f"/v1/customerinvoice/{number}/action/release", {})
    assert refused.status_code == 400 and "hold" in refused.json()["ExceptionMessage"]
    assert api("PUT", f"/v1/customerinvoice/{number}", {"hold": w(False)}).status_code == 204
    released = api("POST", f"/v1/customerinvoice/{number}/action/release", {})
    assert released.status_code == 200
    assert released.json()["actionResult"] == "Done" and released.json()["errorInfo"] is None
    assert api("GET", f"/v1/customerinvoice/{number}").json()["status"] == "Open"
    assert api("POST", f"/v1/customerinvoice/{number}/action/release", {}).status_code == 400
    assert api("PUT", f"/v1/customerinvoice/{number}", {"note": w("x")}).status_code == 400


def test_put_lines_update_insert_delete(api) -> None:
    number = create_invoice(api, [line("KO-5001", 1, "100"), line("KO-5002", 1, "50")])
    answer = api(
        "PUT",
        f"/v1/customerinvoice/{number}",
        {
            "invoiceLines": [
                {"operation": "Update", "lineNumber": w(1), "quantity": w(2)},
                {"operation": "Delete", "lineNumber": w(2)},
                line("FRAKT", 1, "40"),
            ]
        },
    )
    assert answer.status_code == 204
    invoice = dec(api("GET", f"/v1/customerinvoice/{number}"))
    assert [(x["lineNumber"], x["amountInCurrency"]) for x in invoice["invoiceLines"]] == [
        (1, Decimal("200")),
        (3, Decimal("40")),
    ]
    assert invoice["amount"] == Decimal("300")  # 240 + 25 %


def test_delete_only_unreleased_and_reverse_makes_a_credit_note(api) -> None:
    draft = create_invoice(api, [line("KO-5001", 1)])
    assert api("DELETE", f"/v1/customerinvoice/{draft}").status_code == 204
    assert api("GET", f"/v1/customerinvoice/{draft}").status_code == 404
    number = create_invoice(api, [line("KO-5001", 2, "100")])
    assert api("POST", f"/v1/customerinvoice/{number}/action/reverse", {"returnCreditNote": True}).status_code == 400
    api("POST", f"/v1/customerinvoice/{number}/action/release", {})
    assert api("DELETE", f"/v1/customerinvoice/{number}").status_code == 400
    reversed_ = api("POST", f"/v1/customerinvoice/{number}/action/reverse", {"returnCreditNote": True}).json()
    credit = reversed_["referenceNumber"]
    note = dec(api("GET", f"/v1/customerCreditNote/{credit}"))
    assert (note["documentType"], note["status"], note["amount"], note["origInvoiceNumber"]) == (
        "CreditNote",
        "Balanced",
        Decimal("250"),
        number,
    )
    assert api("POST", f"/v1/customerinvoice/{number}/action/reverse", {"returnCreditNote": True}).status_code == 400
    assert api("POST", f"/v1/customerCreditNote/{credit}/action/release", {}).status_code == 200
    assert api("GET", f"/v1/customerinvoice/{number}").json()["status"] == "Closed"
    notes = api("GET", "/v1/customerinvoice", documentType="CreditNote").json()
    assert [n["referenceNumber"] for n in notes] == [credit]


def test_invoice_list_filters(api) -> None:
    first = create_invoice(api, [line("KO-5001", 1)], externalReference="ORDER-1", customerRefNumber="1")
    create_invoice(api, [line("KO-5001", 1)], externalReference="ORDER-2")
    found = api("GET", "/v1/customerinvoice", externalReference="ORDER-1").json()
    assert [i["referenceNumber"] for i in found] == [first]
    assert found[0]["metadata"]["totalCount"] == 1
    assert len(api("GET", "/v1/customerinvoice", status="Balanced").json()) == 2
    assert api("GET", "/v1/customerinvoice", customerRefNumber="1").json()[0]["referenceNumber"] == first


def test_payment_release_closes_the_invoice(api) -> None:
    number = create_invoice(api, [line("KO-5001", 1, "100")])
    api("POST", f"/v1/customerinvoice/{number}/action/release", {})
    payment = {
        "type": w("Payment"),
        "customer": w("10001"),
        "paymentAmount": w(125),
        "paymentLines": [
            {"operation": "Insert", "documentType": w("Invoice"), "refNbr": w(number), "amountPaid": w(50)}
        ],
    }
    created = api("POST", "/v1/customerPayment", payment)
    assert created.status_code == 201
    first = created.headers["Location"].rsplit("/", 1)[1]
    assert api("POST", f"/v1/customerPayment/{first}/action/release", {"type": w("Payment")}).status_code == 200
    invoice = dec(api("GET", f"/v1/customerinvoice/{number}"))
    assert (invoice["status"], invoice["balance"]) == ("Open", Decimal("75"))
    payment["paymentLines"][0]["amountPaid"] = w(75)
    second = api("POST", "/v1/customerPayment", payment).headers["Location"].rsplit("/", 1)[1]
    api("POST", f"/v1/customerPayment/{second}/action/release", {"type": w("Payment")})
    invoice = dec(api("GET", f"/v1/customerinvoice/{number}"))
    assert (invoice["status"], invoice["balance"]) == ("Closed", Decimal("0"))
    assert api("GET", f"/v1/customerPayment/{first}").json()["status"] == "Open"  # 75 left unapplied


# -- SalesOrders V3 -----------------------------------------------------------------------------


def order_body(**extra) -> dict:
    return {
        "type": "SO",
        "customer": {"id": "10001"},
        "customerRefNo": "KEY-1",
        "customerOrder": "1001",
        "currency": "SEK",
        "date": "2026-05-04",
        "orderLines": [
            {"inventoryId": "KO-5001", "quantity": 2, "unitPrice": 103.2, "vatCodeId": "MP1", "warehouseId": "MAIN"},
            {"inventoryId": "KF-7001", "quantity": 1, "unitPrice": 45.5, "vatCodeId": "MP2"},
            {"inventoryId": "FRAKT", "quantity": 1, "unitPrice": 39.2, "vatCodeId": "MP1"},
        ],
        **extra,
    }


def test_v3_create_get_and_lines(sim: VismaNetSimulator, api) -> None:
    created = api("POST", "/api/v3/salesorders", order_body())
    assert created.status_code == 201 and created.content == b""
    assert created.headers["Location"] == f"{sim.url}/api/v3/SalesOrders/SO/000001"
    order = api("GET", "/api/v3/salesorders/SO/000001")
    assert order.headers["ETag"] == created.headers["ETag"]
    body = dec(order)
    # 206.40 + 39.20 = 245.60 at 25 % → 61.40; 45.50 at 12 % → 5.46
    assert (body["vatTotal"], body["orderTotal"], body["status"]) == (Decimal("66.86"), Decimal("357.96"), "Open")
    lines = api("GET", "/api/v3/salesorders/SO/000001/lines").json()["value"]
    assert [x["inventory"]["id"] for x in lines] == ["KO-5001", "KF-7001", "FRAKT"]


def test_v3_is_plain_json_and_validates(api) -> None:
    wrapped = api("POST", "/api/v3/salesorders", {**order_body(), "customer": {"value": {"id": "10001"}}})
    assert wrapped.status_code == 400
    bad_item = order_body(orderLines=[{"inventoryId": "NOPE", "quantity": 1}])
    assert api("POST", "/api/v3/salesorders", bad_item).json()["ExceptionFaultCode"] == "10002"
    bad_customer = order_body(customer={"id": "404"})
    assert api("POST", "/api/v3/salesorders", bad_customer).json()["ExceptionFaultCode"] == "10001"


def test_v3_list_is_zero_based_with_value_and_total_count(api) -> None:
    for key in ("A", "B", "C"):
        api("POST", "/api/v3/salesorders", order_body(customerRefNo=key))
    first = api("GET", "/api/v3/SalesOrders", pageIndex=0, pageSize=2).json()
    second = api("GET", "/api/v3/SalesOrders", pageIndex=1, pageSize=2).json()
    assert first["totalCount"] == 3 and [o["customerRefNo"] for o in first["value"]] == ["A", "B"]
    assert [o["customerRefNo"] for o in second["value"]] == ["C"]
    found = api("GET", "/api/v3/SalesOrders", filter="customerRefNo eq 'B'").json()
    assert [o["id"] for o in found["value"]] == ["000002"]
    assert api("GET", "/api/v3/SalesOrders", filter="customerRefNo like 'B'").status_code == 400


def test_v3_patch_requires_if_match(sim: VismaNetSimulator, api) -> None:
    api("POST", "/api/v3/salesorders", order_body())
    etag = api("GET", "/api/v3/salesorders/SO/000001").headers["ETag"]
    assert api("PATCH", "/api/v3/salesorders/SO/000001", {"description": "x"}).status_code == 428
    ok = api("PATCH", "/api/v3/salesorders/SO/000001", {"description": "x"}, headers={"If-Match": etag})
    assert ok.status_code == 204 and ok.headers["ETag"] != etag
    stale = api("PATCH", "/api/v3/salesorders/SO/000001", {"description": "y"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert sim.sales_orders["SO/000001"]["description"] == "x"


# -- shipments -----------------------------------------------------------------------------------


def test_shipment_over_the_api_open_confirmed(sim: VismaNetSimulator, api) -> None:
    api("POST", "/api/v3/salesorders", order_body())
    before = sim.on_hand("KO-5001")
    created = api("POST", "/v1/shipment", {"customer": w("10001"), "shipVia": w("POSTNORD"), "customStr1": w("TRK1")})
    number = created.headers["Location"].rsplit("/", 1)[1]
    wrapped = api(
        "POST", f"/v1/shipment/{number}/action/addSOOrder", {"orderType": w("SO"), "orderNumber": w("000001")}
    )
    assert wrapped.status_code == 400
    added = api("POST", f"/v1/shipment/{number}/action/addSOOrder", {"orderType": "SO", "orderNumber": "000001"})
    assert added.status_code == 204
    shipment = api("GET", f"/v1/shipment/{number}").json()
    assert shipment["status"] == "Open"
    # Only stock lines are shipped: the book (6 %) and the tea are stock, freight is not.
    assert [(x["inventoryNumber"], x["shippedQty"]) for x in shipment["shipmentDetailLines"]] == [
        ("KO-5001", 2),
        ("KF-7001", 1),
    ]
    assert api("GET", "/api/v3/salesorders/SO/000001").json()["status"] == "Shipping"
    confirmed = api("POST", f"/v1/shipment/{number}/action/confirmShipment", {})
    assert confirmed.json()["actionResult"] == "Done"
    assert api("GET", f"/v1/shipment/{number}").json()["status"] == "Confirmed"
    assert sim.on_hand("KO-5001") == before - 2
    assert api("GET", "/api/v3/salesorders/SO/000001").json()["status"] == "Completed"
    assert [s["shipmentNumber"] for s in api("GET", "/v1/shipment", status="Confirmed").json()] == [number]


def test_ship_and_invoice_an_order_as_the_warehouse(sim: VismaNetSimulator, api) -> None:
    api("POST", "/api/v3/salesorders", order_body())
    partial = sim.ship_order("SO", "000001", {1: 1}, tracking="PN123")
    shipment = api("GET", f"/v1/shipment/{partial}").json()
    assert shipment["shipmentPackageLines"][0]["trackingNumber"] == "PN123" and shipment["customStr1"] == "PN123"
    assert shipment["shipVia"]["id"] == "POSTNORD"
    assert api("GET", "/api/v3/salesorders/SO/000001").json()["status"] == "Open"
    invoice_nbr = sim.invoice_shipment(partial)
    invoice = dec(api("GET", f"/v1/customerinvoice/{invoice_nbr}"))
    # First invoice: 1 × KO-5001 (103.20) + freight 39.20 = 142.40 at 25 % → 35.60
    assert [(x["inventoryNumber"], x["soOrderNbr"], x["soShipmentNbr"]) for x in invoice["invoiceLines"]] == [
        ("KO-5001", "000001", partial),
        ("FRAKT", "000001", partial),
    ]
    assert (invoice["amount"], invoice["status"]) == (Decimal("178"), "Open")
    assert (invoice["externalReference"], invoice["customerRefNumber"]) == ("KEY-1", "1001")
    rest = sim.ship_order("SO", "000001")
    assert api("GET", "/api/v3/salesorders/SO/000001").json()["status"] == "Completed"
    second = dec(api("GET", f"/v1/customerinvoice/{sim.invoice_shipment(rest)}"))
    # 103.20 at 25 % → 25.80; 45.50 at 12 % → 5.46
    assert second["amount"] == Decimal("179.96")
    assert api("GET", "/api/v3/salesorders/SO/000001").json()["status"] == "Invoiced"
    assert api("GET", f"/v1/shipment/{rest}").json()["status"] == "Invoiced"


def test_cancel_order_and_void_invoice(sim: VismaNetSimulator, api) -> None:
    api("POST", "/api/v3/salesorders", order_body())
    sim.cancel_sales_order("SO", "000001")
    assert api("GET", "/api/v3/salesorders/SO/000001").json()["status"] == "Cancelled"
    number = create_invoice(api, [line("KO-5001", 1)])
    sim.void_invoice(number)
    assert api("GET", f"/v1/customerinvoice/{number}").json()["status"] == "Voided"


# -- webhooks ------------------------------------------------------------------------------------


def test_webhooks_are_thin_notifications_with_the_secret_in_the_url(sim: VismaNetSimulator, api, receiver) -> None:
    sim.configure_webhooks(receiver.url, secret="s3cret")
    api("POST", "/v1/customer", {"name": w("Ny Kund")})
    api("POST", "/api/v3/salesorders", order_body())
    sim.wait_for_webhooks()
    events = sorted((p["body"]["event"], p["body"]["id"]) for p in receiver.posts)
    assert events == [("Customer.Created", "10021"), ("SALESORDER_CREATED", "SO/000001")]
    post = receiver.posts[0]
    assert post["path"] == "/hooks/visma?token=s3cret"
    assert post["body"]["tenantId"] == DEFAULT_TENANT_ID
    assert set(post["body"]) == {"notificationId", "tenantId", "event", "entity", "id", "timestamp"}
    feedback = {"notificationId": post["body"]["notificationId"], "source": "brygga", "isSuccess": True}
    assert api("POST", "/v1/webhooknotificationfeedback", feedback).status_code == 201


def test_webhook_deliveries_are_retried(sim: VismaNetSimulator, api, receiver) -> None:
    receiver.statuses = [500, 503]
    sim.configure_webhooks(receiver.url)
    api("PUT", "/v1/customer/10001", {"note": w("x")})
    sim.wait_for_webhooks()
    assert len(receiver.posts) == 3
    assert sim.webhook_deliveries[0]["attempts"] == 3 and sim.webhook_deliveries[0]["delivered"] == 1


def test_webhook_faults_lose_and_duplicate(sim: VismaNetSimulator, api, receiver) -> None:
    sim.configure_webhooks(receiver.url)
    sim.lose_webhooks = 1
    sim.duplicate_webhooks = 1
    api("PUT", "/v1/customer/10001", {"note": w("lost")})
    api("PUT", "/v1/customer/10002", {"note": w("twice")})
    api("PUT", "/v1/customer/10003", {"note": w("once")})
    sim.wait_for_webhooks()
    ids = sorted(p["body"]["id"] for p in receiver.posts)
    assert ids == ["10002", "10002", "10003"]
    twice = [p["body"]["notificationId"] for p in receiver.posts if p["body"]["id"] == "10002"]
    assert twice[0] == twice[1]
