"""Reading Norce order JSON into Brygga's records, and building Norce's answers."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.norce import mapping
from connectors.norce.order_request import event_client_order_ref, order_from_request, order_type
from connectors.norce.query_order import order_from_query
from connectors.norce.replies import order_response, status_request
from core.errors import SyncError


def order_request() -> dict[str, Any]:
    """A pushed OrderRequest as the Norce documentation shows it (PascalCase, enums as names)."""
    person = {
        "FirstName": "Anna",
        "LastName": "Svensson",
        "Email": "anna@example.se",
        "CellPhone": "+46701234567",
        "Address": {"Line1": "Storgatan 1", "ZipCode": "11122", "City": "Stockholm", "Country": "se"},
    }
    return {
        "Header": {"ApplicationKey": "15d62d1f-3a4e-4111-845a-4db40bf08e87"},
        "ClientOrderRef": "700123",
        "ErpOrderNo": None,
        "CustomerOrderRef": "PO-7",
        "SubmitDate": "2025-05-01T09:59:12",
        "CurrencyCode": "SEK",
        "OrderType": "Order",
        "Source": "WEB",
        "DoHold": False,
        "SellTo": {"Person": copy.deepcopy(person)},
        "BillTo": {"Person": copy.deepcopy(person)},
        "ShipTo": {
            "Person": {
                "FirstName": "Bo",
                "LastName": "Ek",
                "Address": {"Line1": "Lillgatan 2", "ZipCode": "41101", "City": "Göteborg", "Country": "SE"},
            }
        },
        "Payments": [
            {
                "PaymentCode": 0,
                "PaymentMethodCode": "KLARNA",
                "PaymentRef": "kl-abc123",
                "Amount": 1048.00,
                "CurrencyCode": "SEK",
                "PaymentName": "Klarna",
            }
        ],
        "ShippingAdvice": {"DeliveryMethodCode": "POSTNORD"},
        "Items": [
            {
                "LineNo": 1,
                "Type": "ErpStandard",
                "TypeGroup": "Physical",
                "PartNo": "1000-42",
                "ErpPartNo": "1000-42",
                "Description": "Löparsko 42",
                "Quantity": 1,
                "Quantity2": 1.0,
                "UnitPrice": 799.20,
                "UnitPriceOriginal": 799.20,
                "Discount": 0,
                "UnitVat": 199.80,
                "VatRate": 25,
                "PriceListNo": 1,
            },
            {
                "LineNo": 2,
                "Type": "Freight",
                "TypeGroup": "Fee",
                "PartNo": "FRAKT",
                "Description": "Frakt",
                "Quantity": 1,
                "Quantity2": 1.0,
                "UnitPrice": 39.20,
                "UnitPriceOriginal": 39.20,
                "Discount": 0,
                "UnitVat": 9.80,
                "VatRate": 25,
            },
        ],
    }


def recase(value: Any, how) -> Any:
    """`value` with every key re-cased by `how`."""
    if isinstance(value, dict):
        return {how(k): recase(v, how) for k, v in value.items()}
    if isinstance(value, list):
        return [recase(v, how) for v in value]
    return value


def camel(key: str) -> str:
    return key[:1].lower() + key[1:]


def malformed(body: Any) -> SyncError:
    with pytest.raises(SyncError) as caught:
        order_from_request(body)
    assert caught.value.code == "order.malformed"
    return caught.value


# --- OrderRequest -------------------------------------------------------------------------


def test_documented_order_request_is_read():
    order = order_from_request(order_request())
    assert order.source_id == order.order_no == "700123"
    assert order.currency == "SEK"
    assert order.placed_at == datetime(2025, 5, 1, 9, 59, 12, tzinfo=ZoneInfo("Europe/Stockholm"))
    assert order.customer_reference == "PO-7"
    assert order.delivery_method == "POSTNORD"
    product, freight = order.lines
    assert (product.line_no, product.kind, product.part_no, product.description) == (
        1,
        "product",
        "1000-42",
        "Löparsko 42",
    )
    assert product.quantity == Decimal("1")
    assert product.unit_price == Decimal("799.20")
    assert product.unit_vat == Decimal("199.80")
    assert product.vat_rate == Decimal("25")
    assert (freight.kind, freight.unit_price, freight.unit_vat) == ("freight", Decimal("39.20"), Decimal("9.80"))
    assert order.buyer.kind == "private"
    assert order.buyer.display_name == "Anna Svensson"
    assert order.buyer.email == "anna@example.se"
    assert order.buyer.phone == "+46701234567"
    assert order.buyer.address.country == "SE"
    assert order.ship_to is not None and order.ship_to.address.city == "Göteborg"
    assert order.payments[0].method == "KLARNA"
    assert order.payments[0].amount == Decimal("1048.00")
    assert order.payments[0].reference == "kl-abc123"


@pytest.mark.parametrize("how", [camel, str.lower, str.upper], ids=["camelCase", "lowercase", "UPPERCASE"])
def test_any_key_casing_reads_the_same(how):
    assert order_from_request(recase(order_request(), how)) == order_from_request(order_request())


def test_enums_as_integers_read_like_names():
    body = order_request()
    body["OrderType"] = 1
    body["Items"][0].update(Type=1, TypeGroup=1)
    body["Items"][1].update(Type=3, TypeGroup="3")
    assert order_from_request(body) == order_from_request(order_request())
    assert order_type(body) == order_type(order_request()) == "Order"
    assert order_type({"orderType": 5}) == "ExternalOrder"


def test_numbers_may_be_numeric_strings_and_ref_an_int():
    body = order_request()
    body["ClientOrderRef"] = 700123
    body["Items"][0].update(LineNo="1", Quantity="1", UnitPrice="799.20", UnitVat="199.80", VatRate="25")
    assert order_from_request(body) == order_from_request(order_request())


@pytest.mark.parametrize(
    "item, kind",
    [
        ({"Type": "Freight", "TypeGroup": "Physical", "PartNo": "X1"}, "freight"),
        ({"Type": "Undefined", "TypeGroup": "Fee", "PartNo": "SHIP-PN", "Description": "Hemleverans"}, "freight"),
        ({"Type": "Undefined", "TypeGroup": "Fee", "PartNo": "frakt_01", "Description": "Avgift"}, "freight"),
        ({"Type": "Undefined", "TypeGroup": "Fee", "PartNo": "FAKTAVG", "Description": "Fakturaavgift"}, "fee"),
        ({"Type": "Invoice", "TypeGroup": "Physical", "PartNo": "FA", "Description": "Invoice fee"}, "fee"),
        ({"Type": 0, "TypeGroup": 5, "PartNo": "GIFTWRAP", "Description": "Presentinslagning"}, "fee"),
        ({"Type": "ErpStandard", "TypeGroup": "Physical", "PartNo": "1000-42", "Description": "Löparsko"}, "product"),
        ({"PartNo": "1000-42", "Description": "Frakt-väska"}, "product"),  # no fee type: never guessed freight
        ({"Type": "SomethingNew", "PartNo": "N1"}, "product"),
    ],
)
def test_line_kind(item, kind):
    body = order_request()
    body["Items"] = [{"LineNo": 1, "Quantity": 1, "UnitPrice": 10, "VatRate": 25, **item}]
    assert order_from_request(body).lines[0].kind == kind


def test_company_buyer_from_bill_to_with_org_number_from_vat_number():
    body = order_request()
    body["BillTo"] = {
        "Company": {"Code": "C-77", "Name": "Exempel AB", "VatNo": "SE556677889901", "Email": "ekonomi@exempel.se"},
        "Person": {
            "FirstName": "Karin",
            "LastName": "Berg",
            "Address": {"Line1": "Box 12", "ZipCode": "10101", "City": "Stockholm", "Country": "SE"},
        },
    }
    buyer = order_from_request(body).buyer
    assert buyer.kind == "company"
    assert buyer.name == buyer.display_name == "Exempel AB"
    assert buyer.organisation_number == "556677-8899"
    assert buyer.vat_number == "SE556677889901"
    assert buyer.customer_code == "C-77"
    assert buyer.email == "ekonomi@exempel.se"
    assert (buyer.first_name, buyer.address.line1) == ("Karin", "Box 12")


def test_company_org_number_given_directly_wins():
    body = order_request()
    body["BillTo"] = {"Company": {"Name": "Exempel AB", "OrgNo": "5566778899", "VatNo": "SE999999999901"}}
    buyer = order_from_request(body).buyer
    assert buyer.organisation_number == "556677-8899"
    assert buyer.vat_number == "SE999999999901"


def test_company_org_number_from_additional_info():
    body = order_request()
    body["SellTo"] = {
        "company": {
            "code": "C-1",
            "name": "Ab",
            "additionalInfo": [{"Code": None, "Code2": "OrganizationNumber", "Value": "556677-8899"}],
        }
    }
    body.pop("BillTo")
    assert order_from_request(body).buyer.organisation_number == "556677-8899"


def test_private_buyer_falls_back_to_sell_to_and_empty_company_is_ignored():
    body = order_request()
    body["BillTo"] = None
    body["SellTo"] = {"Company": {"Code": "", "Name": None}, "Person": {"FirstName": "Sven", "LastName": "Ek"}}
    buyer = order_from_request(body).buyer
    assert (buyer.kind, buyer.display_name) == ("private", "Sven Ek")


def test_missing_vat_data_is_kept_not_rejected():
    body = order_request()
    del body["Items"][0]["VatRate"]
    del body["Items"][0]["UnitVat"]
    body["Items"][1]["VatRate"] = None
    order = order_from_request(body)
    assert order.lines[0].vat_rate is None and order.lines[0].unit_vat is None
    assert order.lines[1].vat_rate is None


def test_fractional_quantity2_wins_over_quantity():
    body = order_request()
    body["Items"][0].update(Quantity=2, Quantity2="1.5")
    assert order_from_request(body).lines[0].quantity == Decimal("1.5")


def test_submit_date_with_zone_is_kept():
    body = order_request()
    body["SubmitDate"] = "2025-05-01T07:59:12.1234567Z"
    assert order_from_request(body).placed_at == datetime(2025, 5, 1, 7, 59, 12, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "body, field",
    [
        ([order_request()], "body"),
        ("not json object", "body"),
        (None, "body"),
    ],
)
def test_body_that_is_not_an_object_is_malformed(body, field):
    assert malformed(body).details["field"] == field


@pytest.mark.parametrize(
    "change, field, words",
    [
        (lambda b: b.pop("ClientOrderRef"), "ClientOrderRef", "missing"),
        (lambda b: b.update(ClientOrderRef="  "), "ClientOrderRef", "missing"),
        (lambda b: b.update(ClientOrderRef={"x": 1}), "ClientOrderRef", "text or a whole number"),
        (lambda b: b.pop("Items"), "Items", "no items"),
        (lambda b: b.update(Items=[]), "Items", "no items"),
        (lambda b: b.update(Items={"LineNo": 1}), "Items", "array"),
        (lambda b: b["Items"][1].update(UnitPrice="abc"), "Items[1].UnitPrice", "not a number"),
        (lambda b: b["Items"][0].update(Quantity="two", Quantity2=None), "Items[0].Quantity", "not a number"),
        (lambda b: b["Items"][0].update(VatRate="25%"), "Items[0].VatRate", "not a number"),
        (lambda b: b["Items"][0].update(UnitPrice=True), "Items[0].UnitPrice", "not a number"),
        (lambda b: b["Items"][0].pop("UnitPrice"), "Items[0].UnitPrice", "missing"),
        (lambda b: b.update(SubmitDate="yesterday"), "SubmitDate", "ISO 8601"),
        (lambda b: b.update(BillTo="Anna"), "BillTo", "object"),
    ],
)
def test_malformed_order_names_the_field(change, field, words):
    body = order_request()
    change(body)
    error = malformed(body)
    assert error.details["field"] == field
    assert field in error.message and words in error.message


def test_event_client_order_ref():
    assert event_client_order_ref({"ClientId": 1, "ClientOrderRef": "700123"}) == "700123"
    assert event_client_order_ref({"clientOrderRef": 700123}) == "700123"
    for body in ({"ClientId": 1}, [], "x"):
        with pytest.raises(SyncError) as caught:
            event_client_order_ref(body)
        assert caught.value.code == "order.malformed"


# --- Query 2.0 ----------------------------------------------------------------------------


def query_order() -> dict[str, Any]:
    return {
        "Id": 987654,
        "ApplicationId": 1244,
        "OrderNo": "700123",
        "OrderDate": "2025-05-01T09:59:12Z",
        "Created": "2025-05-01T09:59:13Z",
        "Updated": None,
        "StatusId": 0,
        "CurrencyId": 1,
        "FreightCost": 39.20,
        "PaymentMethodId": 12,
        "DeliveryMode": "POSTNORD",
        "Source": "WEB",
        "PayerCompanyId": None,
        "Items": [
            {
                "Id": 5550001,
                "LineNumber": 1,
                "PartNo": "1000-42",
                "ProductName": "Löparsko 42",
                "QtyOrdered": 2,
                "PriceSale": 799.20,
                "DiscountAmount": 0,
                "LineAmount": 1598.40,
                "VatRate": 25,
            },
            {
                "Id": 5550002,
                "LineNumber": 2,
                "PartNo": "FRAKT",
                "ProductName": "Frakt",
                "QtyOrdered": 1,
                "PriceSale": 39.20,
                "LineAmount": 39.20,
                "VatRate": 25,
            },
            {
                "Id": 5550003,
                "LineNumber": 3,
                "PartNo": "SHIP-PN",
                "ProductName": "Postpaket",
                "QtyOrdered": 1,
                "PriceSale": 10,
                "LineAmount": 10,
                "VatRate": 25,
            },
        ],
        "Buyer": {
            "Name": "Anna Svensson",
            "EmailAddress": "anna@example.se",
            "Line1": "Storgatan 1",
            "ZipCode": "11122",
            "City": "Stockholm",
            "CountryId": 1,
        },
        "Payer": {
            "Name": "Anna Svensson",
            "EmailAddress": "anna@example.se",
            "Line1": "Storgatan 1",
            "ZipCode": "11122",
            "City": "Stockholm",
            "CountryId": 1,
            "PhoneNumber": "0701234567",
        },
        "ShipTo": {"Name": "Bo Ek", "Line1": "Lillgatan 2", "ZipCode": "41101", "City": "Göteborg", "CountryId": 1},
    }


def test_query_order_is_read():
    order = order_from_query(query_order(), country_ids={"1": "SE"}, freight_part_nos=["ship-pn"])
    assert order.source_id == order.order_no == "700123"
    assert order.currency == "SEK"
    assert order.application_id == "1244"
    assert order.placed_at == datetime(2025, 5, 1, 9, 59, 12, tzinfo=UTC)
    assert order.delivery_method == "POSTNORD"
    assert [line.kind for line in order.lines] == ["product", "freight", "freight"]
    product = order.lines[0]
    assert (product.quantity, product.unit_price, product.vat_rate, product.unit_vat) == (
        Decimal("2"),
        Decimal("799.20"),
        Decimal("25"),
        None,
    )
    assert product.description == "Löparsko 42"
    assert order.buyer.display_name == "Anna Svensson"
    assert order.buyer.kind == "private"
    assert order.buyer.phone == "0701234567"
    assert order.buyer.address.country == "SE"
    assert order.ship_to is not None and order.ship_to.name == "Bo Ek"


def test_query_order_casing_currency_and_company():
    body = recase(query_order(), str.lower)
    body["currencyid"] = 2
    body["payercompanycode"] = "C-77"
    order = order_from_query(body, currency_ids={"2": "eur"})
    assert order.currency == "EUR"
    assert order.buyer.kind == "company" and order.buyer.customer_code == "C-77"
    assert order.lines[2].kind == "product"  # SHIP-PN is freight only when configured
    assert order_from_query({**query_order(), "CurrencyId": 9}).currency == ""
    assert order_from_query({**query_order(), "CurrencyCode": "nok"}).currency == "NOK"


def test_query_company_from_address_fields_and_sku_types():
    body = query_order()
    body["Payer"].update(
        Name="Exempel AB",
        Attention="Karin Berg",
        CompanyCode="C-77",
        CompanyName="Exempel AB",
        OrganizationNumber="5566778899",
    )
    body["Items"][1].update(PartNo="P-1", SkuTypeId=3)
    body["Items"][2].update(PartNo="P-2", SkuTypeId=1)
    order = order_from_query(body)
    buyer = order.buyer
    assert (buyer.kind, buyer.name, buyer.customer_code) == ("company", "Exempel AB", "C-77")
    assert (buyer.first_name, buyer.last_name, buyer.organisation_number) == ("Karin", "Berg", "556677-8899")
    assert [line.kind for line in order.lines] == ["product", "freight", "product"]
    body["Items"][2].update(Type="Freight")
    assert order_from_query(body).lines[2].kind == "freight"


def test_query_source_id_is_the_basket_id_even_when_order_no_was_replaced():
    body = {**query_order(), "OrderNo": "FX-10045", "QuotationId": 700123}
    order = order_from_query(body)
    assert (order.source_id, order.order_no) == ("700123", "FX-10045")
    assert order_from_query({**body, "ClientOrderRef": "700124"}).source_id == "700124"


def test_query_malformed():
    for body, field in (
        ([], "body"),
        ({**query_order(), "OrderNo": None}, "OrderNo"),
        ({**query_order(), "Items": []}, "Items"),
    ):
        with pytest.raises(SyncError) as caught:
            order_from_query(body)
        assert caught.value.code == "order.malformed" and caught.value.details["field"] == field
    body = query_order()
    body["Items"][0]["QtyOrdered"] = "many"
    with pytest.raises(SyncError, match=r"Items\[0\].QtyOrdered"):
        order_from_query(body)


# --- what goes back -----------------------------------------------------------------------


def test_status_request_shape():
    assert status_request("700123", erp_order_no="FX-10045", account_id=10000) == {
        "ClientOrderRef": 700123,
        "ErpOrderNo": "FX-10045",
        "OrderStatus": "Confirmed",
        "Infos": [{"Code": "ErpRef", "Value": "FX-10045"}],
        "AccountId": 10000,
    }
    other = status_request("WEB-1", erp_order_no="7", status="invoiced", account_id=None)
    assert other["ClientOrderRef"] == "WEB-1" and other["OrderStatus"] == "Invoiced" and "AccountId" not in other
    with pytest.raises(ValueError):
        status_request("1", erp_order_no="7", status="Shipped", account_id=None)


def test_order_response_shape():
    assert order_response(ok=True, description="Received", erp_order_no=None) == {
        "StatusCode": "OK",
        "Description": "Received",
        "HasErpOrderNo": False,
        "ErpOrderNo": None,
    }
    failed = order_response(ok=False, description="Malformed: Items", erp_order_no="FX-1")
    assert failed == {
        "StatusCode": "Failed",
        "Description": "Malformed: Items",
        "HasErpOrderNo": True,
        "ErpOrderNo": "FX-1",
    }
    assert len(failed["StatusCode"]) <= 50


# -- company numbers: one reading for the push and the poll ------------------------------------------


ORG_NUMBER_SPELLINGS = ["OrganisationNumber", "OrganizationNumber", "OrganisationNo", "OrganizationNo", "OrgNo"]


def company_push(company: dict[str, Any]) -> dict[str, Any]:
    body = order_request()
    body["BillTo"] = {
        "Company": {"Code": "C-77", "Name": "Exempel AB", **company},
        "Person": {"FirstName": "Karin", "LastName": "Berg", "Email": "karin@exempel.se"},
    }
    return body


def company_poll(company: dict[str, Any]) -> dict[str, Any]:
    body = query_order()
    body["Payer"].update(
        Name="Exempel AB",
        Attention="Karin Berg",
        CompanyCode="C-77",
        CompanyName="Exempel AB",
        EmailAddress="karin@exempel.se",
        **company,
    )
    return body


@pytest.mark.parametrize("spelling", ORG_NUMBER_SPELLINGS)
def test_push_and_poll_read_the_organisation_number_in_every_spelling(spelling):
    pushed = order_from_request(company_push({spelling: "556677-8899"})).buyer
    polled = order_from_query(company_poll({spelling: "5566778899"})).buyer
    for buyer in (pushed, polled):
        assert (buyer.kind, buyer.organisation_number, buyer.email) == ("company", "556677-8899", "karin@exempel.se")


def test_push_and_poll_derive_the_organisation_number_from_a_swedish_vat_number():
    pushed = order_from_request(company_push({"VatNo": "SE556677889901"})).buyer
    polled = order_from_query(company_poll({"VatNo": "se 5566778899 01"})).buyer
    for buyer in (pushed, polled):
        assert (buyer.organisation_number, buyer.vat_number) == ("556677-8899", "SE556677889901")
    # A foreign VAT number gives no Swedish organisation number.
    assert order_from_request(company_push({"VatNo": "NO999999999MVA"})).buyer.organisation_number == ""


def test_a_private_buyer_carries_no_company_numbers_on_either_path():
    body = query_order()
    body["Payer"]["VatNo"] = "SE556677889901"
    assert order_from_query(body).buyer.organisation_number == ""
    assert order_from_request(order_request()).buyer.organisation_number == ""


@given(digits=st.text(alphabet="0123456789", min_size=10, max_size=10), spaced=st.booleans(), lower=st.booleans())
def test_any_swedish_vat_number_gives_its_ten_digits_as_the_organisation_number(digits, spaced, lower):
    vat = f"SE{digits[:6]} {digits[6:]} 01" if spaced else f"SE{digits}01"
    vat = vat.lower() if lower else vat
    expected = f"{digits[:6]}-{digits[6:]}"
    assert mapping.organisation_number("", vat) == expected
    assert order_from_request(company_push({"VatNo": vat})).buyer.organisation_number == expected
    assert order_from_query(company_poll({"VatNo": vat})).buyer.organisation_number == expected


@given(vat=st.text(max_size=20))
def test_a_vat_number_that_is_not_swedish_never_invents_an_organisation_number(vat):
    compact = re.sub(r"[\s-]", "", vat).upper()
    number = mapping.organisation_number("", vat)
    if number:
        assert number.replace("-", "") in compact
        assert len(number) == 11 and number[6] == "-"
