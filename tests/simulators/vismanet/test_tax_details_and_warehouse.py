"""VAT amounts stated per code (taxDetailLines) over HTTP, and the demo's warehouse shipping and
invoicing open sales orders. Expected amounts are worked out here by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from simulators.vismanet.server import VismaNetSimulator
from simulators.vismanet.warehouse import Warehouse
from tests.simulators.vismanet.test_documents import create_invoice, dec, line, order_body, w


def tax(code: str, vat, taxable=None) -> dict:
    fields = {"taxId": w(code), "vatAmount": w(vat)}
    if taxable is not None:
        fields["taxableAmount"] = w(taxable)
    return fields


def test_a_stated_vat_amount_replaces_the_computed_one(api) -> None:
    # Three 25 % lines of 10.02 = 30.06: computed once per document 7.515 → 7.52; the buyer was
    # charged 2.51 per unit (per-unit rounding), 7.53 — stated, it is the invoice's VAT.
    lines = [line("KO-5001", 1, "10.02"), line("KO-5002", 1, "10.02"), line("HB-5101", 1, "10.02")]
    number = create_invoice(api, lines)
    assert dec(api("GET", f"/v1/customerinvoice/{number}"))["vatTotal"] == Decimal("7.52")

    body = {"customerNumber": w("10001"), "invoiceLines": lines, "taxDetailLines": [tax("MP1", 7.53, 30.06)]}
    answer = api("POST", "/v2/customerinvoice", body)
    assert answer.status_code == 201, answer.text
    invoice = dec(api("GET", answer.headers["Location"].split(api.sim.url)[1]))
    assert [(d["vatId"]["id"], d["taxableAmount"], d["vatAmount"]) for d in invoice["taxDetails"]] == [
        ("MP1", Decimal("30.06"), Decimal("7.53"))
    ]
    assert (invoice["vatTotal"], invoice["amount"]) == (Decimal("7.53"), Decimal("37.59"))


def test_stated_amounts_are_kept_on_an_update_and_copied_to_the_reversing_credit_note(api) -> None:
    body = {
        "customerNumber": w("10001"),
        "invoiceLines": [line("KO-5001", 3, "10.02")],  # 30.06 at 25 %: computed 7.52
        "taxDetailLines": [tax("MP1", "7.53")],
    }
    location = api("POST", "/v2/customerinvoice", body).headers["Location"].split(api.sim.url)[1]
    number = location.rsplit("/", 1)[1]
    etag = api("GET", location).headers["ETag"]
    assert api("PUT", location, {"invoiceText": w("Webshop order 7")}, headers={"If-Match": etag}).status_code == 204
    assert dec(api("GET", location))["vatTotal"] == Decimal("7.53")
    assert api("POST", f"{location}/action/release", {}).status_code == 200
    assert api("POST", f"{location}/action/reverse", {"returnCreditNote": True}).status_code == 200
    (credit,) = [i for i in api("GET", "/v1/customerCreditNote").json() if i.get("origInvoiceNumber") == number]
    assert (Decimal(str(credit["vatTotal"])), Decimal(str(credit["amount"]))) == (Decimal("7.53"), Decimal("37.59"))


def test_a_stated_amount_must_name_a_code_of_the_lines_and_their_taxable_sum(api) -> None:
    lines = [line("KO-5001", 1, "10.02")]
    stray = api(
        "POST",
        "/v2/customerinvoice",
        {"customerNumber": w("10001"), "invoiceLines": lines, "taxDetailLines": [tax("MP2", "1.20")]},
    )
    assert stray.status_code == 400 and "MP2" in stray.json()["ExceptionMessage"]
    wrong = api(
        "POST",
        "/v2/customerinvoice",
        {"customerNumber": w("10001"), "invoiceLines": lines, "taxDetailLines": [tax("MP1", "2.51", "10.00")]},
    )
    assert wrong.status_code == 400 and "10.02" in wrong.json()["ExceptionMessage"]
    unknown = api(
        "POST",
        "/v2/customerinvoice",
        {
            "customerNumber": w("10001"),
            "invoiceLines": lines,
            "taxDetailLines": [{**tax("MP1", "2.51"), "rate": w(25)}],
        },
    )
    assert unknown.status_code == 400 and "taxDetailLines[0].rate" in unknown.json()["ExceptionMessage"]


def test_the_warehouse_ships_open_orders_once_and_invoices_what_it_shipped(sim: VismaNetSimulator, api) -> None:
    assert api("POST", "/api/v3/salesorders", order_body()).status_code == 201
    services_only = order_body(customerRefNo="KEY-2", orderLines=[{"inventoryId": "FRAKT", "quantity": 1}])
    assert api("POST", "/api/v3/salesorders", services_only).status_code == 201
    warehouse = Warehouse(sim, ship_after=60, invoice_after=60)

    warehouse.round()
    assert warehouse.shipped == []  # not yet a minute old
    with sim.lock:
        for order in sim.sales_orders.values():
            order["createdDateTime"] -= timedelta(seconds=61)
    warehouse.round()
    (shipment_nbr,) = warehouse.shipped  # the order with stock lines; the freight-only one stays
    shipment = api("GET", f"/v1/shipment/{shipment_nbr}").json()
    assert shipment["status"] == "Confirmed"
    (parcel,) = shipment["shipmentPackageLines"]
    assert parcel["trackingNumber"] == shipment["customStr1"]
    assert len(parcel["trackingNumber"]) == 20 and parcel["trackingNumber"].startswith("00")
    assert api("GET", "/api/v3/salesorders/SO/000002").json()["status"] == "Open"
    assert warehouse.invoiced == []  # shipped just now

    with sim.lock:
        sim.shipments[shipment_nbr]["lastModifiedDateTime"] -= timedelta(seconds=61)
    warehouse.round()
    warehouse.round()
    (invoice_nbr,) = warehouse.invoiced
    invoice = dec(api("GET", f"/v1/customerinvoice/{invoice_nbr}"))
    # 2 × 103.20 + 39.20 = 245.60 at 25 % → 61.40; 45.50 at 12 % → 5.46
    assert (invoice["amount"], invoice["status"]) == (Decimal("357.96"), "Open")
    assert warehouse.shipped == [shipment_nbr]  # nothing shipped twice
    assert api("GET", "/api/v3/salesorders/SO/000001").json()["status"] == "Invoiced"
