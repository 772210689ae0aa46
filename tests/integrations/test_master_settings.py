"""Settings of the master-data flows: defaults, refused keys and values, and the admin form using them."""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from connectors.fortnox.master_settings import FortnoxPriceSettings
from connectors.norce.catalogue_settings import NorcePriceSettings, NorceProductSettings
from connectors.vismanet.master_settings import VismaNetPriceSettings
from integrations import registry
from integrations.demo import add_master_data_flows
from integrations.flows.master_settings import (
    CustomerSettings,
    PriceSettings,
    ProductSettings,
    StockSettings,
    parse_settings,
    validate_customers,
    validate_prices,
    validate_products,
    validate_stock,
)
from integrations.flows.order_settings import parse_settings as parse_order_settings
from integrations.models import Flow

KINDS = {
    "products_to_commerce": ProductSettings,
    "prices_to_commerce": PriceSettings,
    "stock_to_commerce": StockSettings,
    "customers_to_commerce": CustomerSettings,
}


@pytest.mark.parametrize("kind, cls", KINDS.items())
@pytest.mark.parametrize("raw", [None, {}])
def test_no_settings_are_the_defaults(kind, cls, raw):
    settings = parse_settings(kind, raw)
    assert type(settings.flow) is cls
    assert settings.flow == cls()


def test_defaults_suit_a_swedish_shop():
    products = parse_settings("products_to_commerce", {})
    assert (products.culture_code, products.active_status, products.inactive_status) == ("sv-SE", 1, 5)
    assert products.batch_size == 500 and products.fallback_manufacturer_code == "ERP"
    prices = parse_settings("prices_to_commerce", {})
    assert (prices.source, prices.fortnox_price_list, prices.currency, prices.batch_size) == (
        "price_list",
        "A",
        "SEK",
        1000,
    )
    assert prices.source_prices_include_vat is False and prices.target_prices_include_vat is False
    stock = parse_settings("stock_to_commerce", {})
    assert (stock.source, stock.quantity, stock.max_wait_seconds, stock.stale_after_minutes) == (
        "articles",
        "available",
        0,
        15,
    )
    assert stock.negative_as_zero is True and stock.stock_points == []
    customers = parse_settings("customers_to_commerce", {})
    assert customers.send_inactive is True and customers.default_country_code == "SE"
    assert customers.stale_after_minutes == 24 * 60


def test_given_values_override_the_defaults():
    settings = parse_settings(
        "stock_to_commerce",
        {"quantity": "in_stock", "stock_points": ["A", "B"], "negative_as_zero": False, "batch_size": 50},
    )
    assert settings.quantity == "in_stock" and settings.stock_points == ["A", "B"]
    assert settings.negative_as_zero is False and settings.batch_size == 50
    assert settings.warehouse_code == "MAIN"


def test_a_whole_number_written_as_digits_is_read_as_the_number():
    settings = parse_settings("products_to_commerce", {"active_status": "4", "batch_size": " 250 "})
    assert (settings.active_status, settings.batch_size) == (4, 250)
    assert validate_products({"active_status": "4"})["active_status"] == 4


def test_unknown_keys_are_refused_and_named():
    with pytest.raises(ValueError) as raised:
        parse_settings("products_to_commerce", {"batch_size": 10, "colour": "red", "zeta": 1})
    message = str(raised.value)
    assert "Unknown setting(s): colour, zeta" in message
    assert "culture_code" in message  # the known ones are listed


def test_a_setting_of_another_flow_kind_is_unknown():
    with pytest.raises(ValueError, match="Unknown setting"):
        parse_settings("customers_to_commerce", {"warehouse_code": "MAIN"})


@pytest.mark.parametrize(
    "kind, raw, said",
    [
        ("products_to_commerce", {"webshop_only": "yes"}, "webshop_only must be true or false"),
        ("products_to_commerce", {"webshop_only": 1}, "webshop_only must be true or false"),
        ("products_to_commerce", {"active_status": "one"}, "active_status must be a whole number"),
        ("products_to_commerce", {"active_status": 1.5}, "active_status must be a whole number"),
        ("products_to_commerce", {"active_status": True}, "active_status must be a whole number"),
        ("products_to_commerce", {"max_wait_seconds": -1}, "max_wait_seconds must be a whole number ≥ 0"),
        ("products_to_commerce", {"culture_code": 5}, "culture_code must be text"),
        ("prices_to_commerce", {"fortnox_price_list": None}, "fortnox_price_list must be text"),
        ("stock_to_commerce", {"stock_points": "A"}, "stock_points must be a list of strings"),
        ("stock_to_commerce", {"stock_points": ["A", 2]}, "stock_points must be a list of strings"),
        ("customers_to_commerce", {"send_inactive": "false"}, "send_inactive must be true or false"),
    ],
)
def test_wrong_types_are_refused(kind, raw, said):
    with pytest.raises(ValueError) as raised:
        parse_settings(kind, raw)
    assert said in str(raised.value)


@pytest.mark.parametrize(
    "kind, raw, said",
    [
        ("prices_to_commerce", {"source": "warehouse"}, "source must be one of price_list, article"),
        ("stock_to_commerce", {"source": "price_list"}, "source must be one of articles, warehouse"),
        ("stock_to_commerce", {"quantity": "reserved"}, "quantity must be one of available, in_stock"),
    ],
)
def test_choices_are_enforced(kind, raw, said):
    with pytest.raises(ValueError) as raised:
        parse_settings(kind, raw)
    assert said in str(raised.value)


@pytest.mark.parametrize(
    "kind, raw",
    [
        ("prices_to_commerce", {"source": "article"}),
        ("stock_to_commerce", {"source": "warehouse", "quantity": "in_stock"}),
    ],
)
def test_allowed_choices_pass(kind, raw):
    settings = parse_settings(kind, raw)
    assert all(getattr(settings, key) == value for key, value in raw.items())


@pytest.mark.parametrize("size, ok", [(0, False), (1, True), (10000, True), (10001, False)])
@pytest.mark.parametrize("kind", list(KINDS))
def test_batch_size_bounds(kind, size, ok):
    if ok:
        assert parse_settings(kind, {"batch_size": size}).batch_size == size
    else:
        with pytest.raises(ValueError, match="batch_size must be between 1 and 10000"):
            parse_settings(kind, {"batch_size": size})


def test_required_codes():
    with pytest.raises(ValueError, match="norce_price_list_code is required"):
        parse_settings("prices_to_commerce", {"norce_price_list_code": "  "})
    with pytest.raises(ValueError, match="warehouse_code and location_code are required"):
        parse_settings("stock_to_commerce", {"location_code": ""})


def test_validators_return_every_effective_setting():
    products = {**asdict(ProductSettings()), **asdict(NorceProductSettings())}
    assert validate_products({"culture_code": "en-GB"}) == {**products, "culture_code": "en-GB"}
    assert validate_prices({}) == {
        **asdict(PriceSettings()),
        **asdict(FortnoxPriceSettings()),
        **asdict(NorcePriceSettings()),
        **asdict(VismaNetPriceSettings()),
    }
    assert validate_stock({"stock_points": ["X"]})["stock_points"] == ["X"]
    assert validate_customers({})["default_country_code"] == "SE"
    with pytest.raises(ValueError):
        validate_customers({"nope": 1})


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_master_flow_registers_its_validator(kind):
    validate = registry.import_string(registry.FLOWS[kind].settings_validator)
    assert validate({}) == parse_settings(kind, {}).as_dict()
    assert asdict(KINDS[kind]()).items() <= validate({}).items()


def test_each_system_reads_its_own_part_of_the_settings_and_the_flow_its_own():
    prices = parse_settings("prices_to_commerce", {"fortnox_price_list": "B", "norce_price_list_code": "B2B"})
    assert prices.parts["fortnox"] == FortnoxPriceSettings(fortnox_price_list="B")
    assert prices.parts["norce"] == NorcePriceSettings(norce_price_list_code="B2B")
    assert prices.flow == PriceSettings()
    assert (prices.fortnox_price_list, prices.norce_price_list_code, prices.batch_size) == ("B", "B2B", 1000)
    customers = parse_settings("customers_to_commerce", {})
    assert customers.parts == {}  # neither system declares customer settings
    with pytest.raises(AttributeError):
        customers.fortnox_price_list  # noqa: B018


def test_a_system_not_listed_in_settings_brings_no_settings(settings):
    settings.BRYGGA_CONNECTORS = ["connectors.norce", "tests.contract.fake_erp"]
    with pytest.raises(ValueError, match="Unknown setting"):
        parse_settings("prices_to_commerce", {"fortnox_price_list": "A"})
    assert set(parse_settings("prices_to_commerce", {}).parts) == {"norce"}


def test_the_order_status_key_moves_to_its_system_neutral_name(db, integration):
    migration = import_module("integrations.migrations.0011_flow_settings_send_status_to_commerce")
    flow = integration.flows.get(kind="orders_to_erp")
    Flow.objects.filter(pk=flow.pk).update(settings={"send_status_to_norce": False, "freight_article": "FRAKT"})
    migration.forwards(django_apps, None)
    flow.refresh_from_db()
    assert flow.settings == {"send_status_to_commerce": False, "freight_article": "FRAKT"}
    assert parse_order_settings(flow.settings).send_status_to_commerce is False
    migration.backwards(django_apps, None)
    flow.refresh_from_db()
    assert flow.settings == {"send_status_to_norce": False, "freight_article": "FRAKT"}


def test_the_price_vat_keys_move_to_their_system_neutral_names(db, integration):
    migration = import_module("integrations.migrations.0013_price_settings_vat_keys")
    flow = Flow.objects.create(
        integration=integration,
        kind="prices_to_commerce",
        settings={"fortnox_prices_include_vat": True, "norce_prices_include_vat": False, "batch_size": 50},
    )
    migration.forwards(django_apps, None)
    flow.refresh_from_db()
    assert flow.settings == {"source_prices_include_vat": True, "target_prices_include_vat": False, "batch_size": 50}
    assert parse_settings(flow.kind, flow.settings).source_prices_include_vat is True
    migration.backwards(django_apps, None)
    flow.refresh_from_db()
    assert flow.settings == {"fortnox_prices_include_vat": True, "norce_prices_include_vat": False, "batch_size": 50}


# -- admin -------------------------------------------------------------------------------------------


@pytest.fixture
def master_flows(integration) -> dict[str, Flow]:
    return add_master_data_flows(integration)


def flow_change_url(flow: Flow) -> str:
    return reverse("admin:integrations_flow_change", args=[flow.pk])


@pytest.mark.parametrize(
    "kind, raw, said",
    [
        ("products_to_commerce", {"colour": "red"}, "Unknown setting(s): colour"),
        ("prices_to_commerce", {"source": "warehouse"}, "source must be one of price_list, article"),
        ("stock_to_commerce", {"batch_size": 0}, "batch_size must be between 1 and 10000"),
        ("customers_to_commerce", {"send_inactive": "no"}, "send_inactive must be true or false"),
    ],
)
def test_admin_flow_form_refuses_bad_settings(admin_client, master_flows, kind, raw, said):
    flow = master_flows[kind]
    response = admin_client.post(flow_change_url(flow), {"enabled": "on", "settings": json.dumps(raw)})
    assert response.status_code == 200
    assert said in response.content.decode()
    flow.refresh_from_db()
    assert flow.settings == {}


def test_admin_flow_form_keeps_only_what_staff_set(admin_client, master_flows):
    flow = master_flows["stock_to_commerce"]
    response = admin_client.post(
        flow_change_url(flow), {"enabled": "on", "settings": json.dumps({"quantity": "in_stock", "batch_size": 200})}
    )
    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.settings == {"quantity": "in_stock", "batch_size": 200}


def test_admin_flow_page_shows_effective_settings(admin_client, master_flows):
    flow = master_flows["prices_to_commerce"]
    content = admin_client.get(flow_change_url(flow)).content.decode()
    assert "norce_price_list_code" in content and "SEK-STD" in content
    assert "Send full file now" in content
    orders = master_flows["products_to_commerce"].integration.flows.get(kind="orders_to_erp")
    assert "Send full file now" not in admin_client.get(flow_change_url(orders)).content.decode()
