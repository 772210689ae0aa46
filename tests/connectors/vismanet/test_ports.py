"""The invoice target, master-data source and fulfilment source over the fake HTTP edge."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bookkeeping.invoices import book_order, check_invoice
from connectors.vismanet.fulfilment import VismaNetFulfilment
from connectors.vismanet.invoices import VismaNetInvoices
from connectors.vismanet.master import VismaNetMasterData
from core.errors import SyncError
from core.records import Delivery, Invoiced, InvoiceTerms, Order, OrderLine, Party, Price, Product, StockLevel
from tests.conftest import customer_settings, price_settings, product_settings, stock_settings
from tests.connectors.vismanet.fake_http import API, VAT, body_of, ipp, query


def order() -> Order:
    lines = [
        OrderLine(1, "product", "KA-1", "Kaffe", Decimal(2), Decimal("88.39"), Decimal(12), Decimal("10.61")),
        OrderLine(2, "freight", "FRAKT", "Frakt", Decimal(1), Decimal("39.20"), Decimal(25), Decimal("9.80")),
    ]
    return Order("W1", "1", "SEK", Party(email="a@example.se", name="Anna"), lines, placed_at=datetime.now(UTC))


TERMS = InvoiceTerms(reference="W1", reference_field="", currency="SEK", freight_article="FRAKT")


def created_invoice(status="Open") -> dict:
    # 2 × 88.39 + 39.20 = 215.98 net; VAT as stated: 21.22 + 9.80 = 31.02; total 247.00 = 2 × 99 + 49
    return {
        "referenceNumber": "000123",
        "documentType": "Invoice",
        "status": status,
        "amount": 247.00,
        "vatTotal": 31.02,
        "detailTotal": 215.98,
        "externalReference": "W1",
        "currencyId": "SEK",
    }


def test_an_invoice_is_created_released_and_read_back_equal_to_the_order(client, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    fake.on("POST", "/v2/customerinvoice", (201, None, {"Location": f"{API}/v1/customerinvoice/000123"}))
    fake.on("GET", "/v1/customerinvoice/000123", (200, created_invoice(), {"ETag": '"e1"'}))
    fake.on("POST", "/v1/customerinvoice/000123/action/release", (200, {"actionId": "1", "actionResult": "Done"}))
    booked = book_order(order(), prices_include_vat=True)
    created = VismaNetInvoices(client).create_invoice(booked=booked, customer="10001", terms=TERMS)
    assert created.invoice.number == "000123" and created.invoice.booked
    assert created.invoice.total == Decimal("247.00") == booked.gross
    assert check_invoice(booked, created.invoice, erp="Visma.net") == (True, "")
    sent = body_of(fake.calls("POST", "/v2/customerinvoice")[0])
    assert sent["externalReference"] == {"value": "W1"}
    assert sent["invoiceLines"][0]["unitPriceInCurrency"] == {"value": 88.39}
    assert sent["invoiceLines"][0]["vatCodeId"] == {"value": "MP2"}
    assert fake.calls("POST", "/v1/customerinvoice/000123/action/release")[0].headers["If-Match"] == '"e1"'


def test_an_unknown_item_is_retried_as_an_account_line_with_a_warning(client, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    fake.on(
        "POST",
        "/v2/customerinvoice",
        (400, ipp("10002", "Inventory item 'KA-1' not found")),
        (201, None, {"Location": f"{API}/v1/customerinvoice/000124"}),
    )
    fake.on("GET", "/v1/inventory/KA-1", (404, ipp("10404", "not found")))
    fake.on("GET", "/v1/customerinvoice/000124", (200, created_invoice("Balanced")))
    booked = book_order(order(), prices_include_vat=True)
    terms = InvoiceTerms(
        reference="W1",
        reference_field="",
        currency="SEK",
        freight_article="FRAKT",
        unknown_article="description_row",
        release=False,
    )
    created = VismaNetInvoices(client).create_invoice(booked=booked, customer="1", terms=terms)
    assert created.warnings[0][0] == "vismanet.inventory_item_not_found" and "KA-1" in created.warnings[0][1]
    second = body_of(fake.calls("POST", "/v2/customerinvoice")[1])
    assert "inventoryNumber" not in second["invoiceLines"][0]
    with pytest.raises(SyncError) as caught:
        fake.on("POST", "/v2/customerinvoice", (400, ipp("10002", "Inventory item 'KA-1' not found")))
        VismaNetInvoices(client).create_invoice(booked=booked, customer="1", terms=TERMS)
    assert caught.value.details["missing_articles"] == ["KA-1"]


def test_live_invoices_are_exact_hits_without_voided_credit_notes_or_what_they_reverse(client, fake):
    items = [
        {"referenceNumber": "5", "externalReference": "W1", "status": "Open", "documentType": "Invoice", "amount": 10},
        {"referenceNumber": "3", "externalReference": "W1", "status": "Open", "documentType": "Invoice", "amount": 20},
        {"referenceNumber": "4", "externalReference": "W1", "status": "Voided", "documentType": "Invoice"},
        {"referenceNumber": "6", "externalReference": "W10", "status": "Open", "documentType": "Invoice"},
        {
            "referenceNumber": "7",
            "externalReference": "W1",
            "status": "Open",
            "documentType": "CreditNote",
            "amount": 10,
        },
        {
            "referenceNumber": "8",
            "externalReference": "W1",
            "status": "Balanced",
            "documentType": "Invoice",
            "amount": 10,
        },
    ]
    fake.on("GET", "/v1/customerinvoice", (200, items))
    found = VismaNetInvoices(client).live_invoices(reference="W1", reference_field="")
    assert [i.number for i in found] == ["3", "8"]  # 5 reversed by credit note 7 (same amount, first)
    assert query(fake.calls("GET", "/v1/customerinvoice")[0])["externalReference"] == "W1"


def test_customers_are_found_exactly_by_email_and_corporate_id(client, fake):
    fake.on(
        "GET",
        "/v1/customer",
        (
            200,
            [
                {"number": "3", "status": "Inactive", "mainContact": {"email": "Anna@example.se"}, "corporateId": ""},
                {
                    "number": "9",
                    "status": "Active",
                    "mainContact": {"email": "anna@example.se"},
                    "corporateId": "556700-1122",
                },
                {"number": "2", "status": "Active", "mainContact": {"email": "xanna@example.se"}},
            ],
        ),
    )
    target = VismaNetInvoices(client)
    assert target.find_customer(match="email", value="ANNA@example.se ") == "9"
    assert target.find_customer(match="organisation_number", value="5567001122") == "9"
    assert query(fake.calls("GET", "/v1/customer")[-1])["corporateId"] == "5567001122"


def test_check_terms_knows_both_documents_and_the_reference_fields(client):
    target = VismaNetInvoices(client)
    target.check_terms(TERMS)
    for bad in ({"document": "quote"}, {"reference_field": "YourOrderNumber"}):
        with pytest.raises(SyncError):
            target.check_terms(InvoiceTerms(**{**TERMS.__dict__, **bad}))


def test_credit_reverses_and_cancel_deletes(client, fake):
    fake.on("GET", "/v1/customerinvoice/000123", (200, created_invoice(), {"ETag": '"e"'}))
    fake.on(
        "POST",
        "/v1/customerinvoice/000123/action/reverse",
        (200, {"actionResult": "Done", "referenceNumber": "000200"}),
    )
    fake.on("DELETE", "/v1/customerinvoice/000123", (204, None))
    target = VismaNetInvoices(client)
    assert target.credit_invoice("000123") == "000200"
    assert body_of(fake.calls("POST", "/v1/customerinvoice/000123/action/reverse")[0]) == {"returnCreditNote": True}
    target.cancel_invoice("000123")
    assert fake.calls("DELETE", "/v1/customerinvoice/000123")[0].headers["If-Match"] == '"e"'


ITEMS = [
    {
        "inventoryNumber": "KA-1",
        "description": "Kaffe 500 g",
        "status": "Active",
        "type": "FinishedGoodItem",
        "vatCode": {"id": "MP2"},
        "salesUnit": "ST",
        "crossReferences": [{"alternateType": "Barcode", "alternateID": "7310000000017"}],
        "warehouseDetails": [
            {"warehouse": {"id": "MAIN"}, "quantityOnHand": 14, "available": 12},
            {"warehouse": {"id": "WEB"}, "quantityOnHand": 3, "available": 3},
        ],
        "metadata": {"totalCount": 3, "maxPageSize": 5000},
    },
    {
        "inventoryNumber": "IN-1",
        "description": "Inslagning",
        "status": "Active",
        "type": "ServiceItem",
        "vatCode": {"id": "MP1"},
    },
    {
        "inventoryNumber": "XX-1",
        "description": "Trasig",
        "status": "Active",
        "type": "FinishedGoodItem",
        "vatCode": {"id": "ZZ"},
    },
]


def test_inventory_items_become_products_and_a_bad_vat_code_fails_that_item_only(client, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    fake.on("GET", "/v1/inventory", (200, ITEMS))
    pages = list(VismaNetMasterData(client).pages("product", product_settings()))
    assert [(p.number, p.total_pages) for p in pages] == [(1, 1)]
    items = {i.key: i for i in pages[0].items}
    coffee = items["KA-1"].record
    assert isinstance(coffee, Product) and coffee.vat_rate == Decimal(12) and coffee.ean == "7310000000017"
    assert coffee.stock_item and not items["IN-1"].record.stock_item
    assert items["XX-1"].error.code == "product.vat_missing"


def test_stock_is_summed_over_the_chosen_warehouses_and_services_have_none(client, fake):
    fake.on("GET", "/v1/inventory", (200, ITEMS))
    source = VismaNetMasterData(client)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    items = {i.key: i for p in source.pages("stock", stock_settings(), since=since) for i in p.items}
    assert items["KA-1"].record == StockLevel("KA-1", Decimal(15))
    assert items["IN-1"].record is None and items["IN-1"].error is None
    sent = query(fake.calls("GET", "/v1/inventory")[0])
    assert sent["availabilityLastModifiedDateTimeCondition"] == ">=" and sent["expandWarehouseDetail"] == "true"
    one = {i.key: i for p in source.pages("stock", stock_settings(vismanet_warehouses=["WEB"])) for i in p.items}
    assert one["KA-1"].record.quantity == Decimal(3)


def test_base_prices_carry_the_items_vat_rate(client, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    fake.on(
        "GET",
        "/v1/customerSalesPrice",
        (
            200,
            [
                {"priceType": "Base", "inventoryId": "KA-1", "price": 88.39, "breakQty": 0, "vat": ""},
                {"priceType": "Base", "inventoryId": "KA-1", "price": 80.00, "breakQty": 10, "vat": ""},
            ],
        ),
    )
    fake.on("GET", "/v1/inventory/KA-1", (200, ITEMS[0]))
    pages = list(VismaNetMasterData(client).pages("price", price_settings(), with_vat_rates=True))
    first, second = pages[0].items
    assert first.record == Price("KA-1", Decimal("88.39"), False, 1, Decimal(12))
    assert second.quantity == 10 and second.record.from_quantity == 10
    assert query(fake.calls("GET", "/v1/customerSalesPrice")[0])["priceType"] == "Base"
    assert len(fake.calls("GET", "/v1/inventory/KA-1")) == 1
    list(VismaNetMasterData(client).pages("price", price_settings(vismanet_price_class="WEB")))
    assert query(fake.calls("GET", "/v1/customerSalesPrice")[-1])["priceCode"] == "WEB"


def test_customers_become_accounts(client, fake):
    fake.on(
        "GET",
        "/v1/customer",
        (
            200,
            [
                {
                    "number": "10001",
                    "name": "Linds Café AB",
                    "status": "Active",
                    "corporateId": "556700-1122",
                    "mainContact": {"email": "info@linds.se"},
                    "mainAddress": {"addressLine1": "Storgatan 1", "city": "Sthlm", "country": {"id": "SE"}},
                }
            ],
        ),
    )
    item = next(VismaNetMasterData(client).pages("customer", customer_settings())).items[0]
    assert item.record.kind == "company" and item.record.email == "info@linds.se"
    assert item.record.invoice_address.country == "SE"


SHIPMENT = {
    "shipmentNumber": "000045",
    "status": "Confirmed",
    "shipmentDate": "2026-05-04T00:00:00",
    "shipVia": {"id": "POSTNORD", "description": "PostNord"},
    "shipmentDetailLines": [
        {
            "lineNumber": 1,
            "orderType": "SO",
            "orderNbr": "000223",
            "inventoryNumber": "KA-1",
            "shippedQty": 2,
            "openQty": 0,
        }
    ],
    "shipmentPackageLines": [{"lineNumber": 1, "trackingNumber": "00370000000000000017"}],
    "customStr1": "IGNORED",
    "lastModifiedDateTime": "2026-05-04T10:00:00.000",
}
ORDER = {"type": "SO", "id": "000223", "status": "Completed", "customerRefNo": "W1"}


def test_a_confirmed_shipment_is_a_delivery_of_the_order_it_ships(client, fake):
    fake.on("GET", "/v1/shipment", (200, [SHIPMENT, {**SHIPMENT, "shipmentNumber": "000046", "status": "Open"}]))
    fake.on("GET", "/api/v3/salesorders/SO/000223", (200, ORDER))
    fake.on("GET", "/v1/customerinvoice", (200, []))
    fake.on("GET", "/api/v3/SalesOrders", (200, {"value": [], "totalCount": 0}))
    events = list(VismaNetFulfilment(client).life_events(None, kinds=("delivery",), reference_field=""))
    assert [e.key for e in events] == ["delivery:000045"]
    delivery = events[0].record
    assert isinstance(delivery, Delivery)
    assert (delivery.order_reference, delivery.erp_order, delivery.delivered_on) == ("W1", "SO/000223", "2026-05-04")
    assert delivery.parcels == ("00370000000000000017",) and delivery.carrier == "PostNord" and delivery.complete
    assert delivery.lines[0].part_no == "KA-1" and delivery.lines[0].quantity == Decimal(2)


def test_without_package_tracking_the_custom_field_holds_the_parcel(client, fake):
    fake.on("GET", "/api/v3/salesorders/SO/000223", (200, {**ORDER, "status": "Shipping"}))
    fake.on("GET", "/api/v3/salesorders/SO/000223/lines", (200, {"value": [{"lineId": 1, "openQuantity": 1}]}))
    shipment = {**SHIPMENT, "shipmentPackageLines": [], "customStr1": "PN123"}
    event = VismaNetFulfilment(client).delivery_event(shipment)
    assert event.record.parcels == ("PN123",) and not event.record.complete


def test_a_malformed_shipment_is_an_event_naming_the_field(client, fake):
    fake.on("GET", "/api/v3/salesorders/SO/000223", (200, ORDER))
    broken = {**SHIPMENT, "shipmentDetailLines": [{**SHIPMENT["shipmentDetailLines"][0], "shippedQty": "two"}]}
    event = VismaNetFulfilment(client).delivery_event(broken)
    assert event.key == "delivery:000045" and event.record is None
    assert event.error.code == "vismanet.shipment_malformed"
    assert event.error.details == {"field": "shipmentDetailLines[0].shippedQty"}


def test_a_released_invoice_made_from_a_shipment_is_invoiced_for_the_orders_key(client, fake):
    fake.on("GET", "/v1/vat", (200, VAT))
    fake.on("GET", "/api/v3/salesorders/SO/000223", (200, ORDER))
    invoice = {
        "referenceNumber": "000130",
        "documentType": "Invoice",
        "status": "Open",
        "documentDate": "2026-05-05",
        "documentDueDate": "2026-06-04",
        "currencyId": "SEK",
        "amount": 198.00,
        "vatTotal": 21.22,
        "externalReference": "",
        "invoiceLines": [
            {
                "inventoryNumber": "KA-1",
                "description": "Kaffe",
                "quantity": 2,
                "unitPriceInCurrency": 88.39,
                "vatCode": {"id": "MP2"},
                "soOrderType": "SO",
                "soOrderNbr": "000223",
                "soShipmentNbr": "000045",
            }
        ],
    }
    fake.on("GET", "/v1/customerinvoice/000130", (200, invoice))
    event = VismaNetFulfilment(client).life_event("invoiced:000130", reference_field="")
    record = event.record
    assert isinstance(record, Invoiced) and record.order_reference == "W1" and record.erp_order == "SO/000223"
    assert record.total == Decimal("198.00") and record.vat == Decimal("21.22")
    line = record.lines[0]
    # 88.39 × 12 % = 10.6068 → 10.61 per unit
    assert (line.unit_price, line.unit_vat, line.vat_rate) == (Decimal("88.39"), Decimal("10.61"), Decimal(12))


def test_cancelled_orders_and_voided_invoices_are_cancellations(client, fake):
    fake.on(
        "GET",
        "/api/v3/salesorders/SO/000224",
        (200, {"type": "SO", "id": "000224", "status": "Cancelled", "customerRefNo": "W2"}),
    )
    fake.on(
        "GET",
        "/v1/customerinvoice/000131",
        (200, {"referenceNumber": "000131", "status": "Voided", "externalReference": "W3"}),
    )
    source = VismaNetFulfilment(client)
    order_event = source.life_event("cancelled:SO/000224", reference_field="")
    assert order_event.key == "cancelled:SO/000224" and order_event.record.order_reference == "W2"
    invoice_event = source.life_event("cancelled:000131", reference_field="")
    assert invoice_event.record.document == "000131" and invoice_event.record.order_reference == "W3"
    fake.on(
        "GET",
        "/api/v3/salesorders/SO/000225",
        (200, {"type": "SO", "id": "000225", "status": "Open", "customerRefNo": "W4"}),
    )
    assert source.life_event("cancelled:SO/000225", reference_field="") is None


def test_a_deleted_invoice_reads_as_not_live(client, fake):
    fake.on("GET", "/v1/customerinvoice/000999", (404, ipp("10404", "Customer invoice '000999' not found")))
    invoice = VismaNetInvoices(client).get_invoice("000999", reference_field="")
    assert invoice.number == "000999" and not invoice.live
