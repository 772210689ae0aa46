"""The value wrapper, the error catalogue's mapping and the connector settings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.vismanet.errors import error_for, token_error_for
from connectors.vismanet.settings import validate_settings
from connectors.vismanet.wrapper import unwrap, wrap
from tests.connectors.vismanet.fake_http import TENANT, ipp


def test_scalars_and_nested_objects_are_wrapped_lines_and_operation_are_bare():
    body = wrap(
        {
            "customerNumber": "10001",
            "hold": False,
            "left_out": None,
            "billingAddress": {"city": "Oslo", "countryId": "NO"},
            "invoiceLines": [
                {"operation": "Insert", "quantity": Decimal("2"), "unitPriceInCurrency": Decimal("79.92")}
            ],
        }
    )
    assert body == {
        "customerNumber": {"value": "10001"},
        "hold": {"value": False},
        "billingAddress": {"value": {"city": {"value": "Oslo"}, "countryId": {"value": "NO"}}},
        "invoiceLines": [{"operation": "Insert", "quantity": {"value": 2}, "unitPriceInCurrency": {"value": 79.92}}],
    }
    assert unwrap(body)["invoiceLines"][0] == {"operation": "Insert", "quantity": 2, "unitPriceInCurrency": 79.92}
    assert unwrap(body)["billingAddress"] == {"city": "Oslo", "countryId": "NO"}


@pytest.mark.parametrize(
    ("status", "fault", "message", "code", "permanent"),
    [
        (400, "10001", "Customer '999' not found", "vismanet.customer_not_found", True),
        (400, "10002", "Inventory item 'ZZ-1' not found", "vismanet.inventory_item_not_found", True),
        (400, "10003", "VAT code 'X' is not valid", "vismanet.vat_code", True),
        (400, "10004", "Branch '9' is not valid", "vismanet.branch", True),
        (400, "10005", "Financial period '012026' is closed", "vismanet.period_closed", True),
        (403, "12027", "No license for this company.", "vismanet.no_licence", True),
        (400, "10006", "Field 'x' is required", "vismanet.validation", True),
        (412, "10412", "Precondition failed", "vismanet.precondition_failed", False),
        (500, "10500", "Internal error", "vismanet.server_error", False),
        (401, "", "Token is not valid", "vismanet.auth", True),
        # without a fault code the text decides
        (400, "", "Inventory item 'ZZ-1' not found", "vismanet.inventory_item_not_found", True),
        (400, "", "Financial period '012026' is closed", "vismanet.period_closed", True),
    ],
)
def test_error_bodies_map_to_stable_codes(status, fault, message, code, permanent):
    error = error_for(status, ipp(fault, message) if fault else {"ExceptionMessage": message}, "")
    assert (error.code, error.permanent, error.status) == (code, permanent, status)
    assert message in error.message and error.hint


def test_the_lowercase_message_form_is_read():
    error = error_for(400, {"message": "Customer 'X' not found"}, "")
    assert error.code == "vismanet.customer_not_found"


def test_token_endpoint_errors():
    assert token_error_for(400, {"error": "invalid_tenant"}, "").code == "vismanet.no_licence"
    assert token_error_for(400, {"error": "invalid_client"}, "").code == "vismanet.auth"
    assert not token_error_for(503, None, "").permanent


def test_settings_need_a_guid_tenant_and_check_their_types():
    assert validate_settings({"tenant_id": f" {TENANT} "})["tenant_id"] == TENANT
    for raw, named in [
        ({}, "tenant_id"),
        ({"tenant_id": "1234"}, "tenant_id"),
        ({"tenant_id": TENANT, "requests_per_hour": "many"}, "requests_per_hour"),
        ({"tenant_id": TENANT, "vat_codes": ["MP1"]}, "vat_codes"),
        ({"tenant_id": TENANT, "timezone": "Mars/Olympus"}, "timezone"),
        ({"tenant_id": TENANT, "use_background_for_lists": "yes"}, "use_background_for_lists"),
    ]:
        with pytest.raises(ValueError, match=named):
            validate_settings(raw)
    kept = validate_settings({"tenant_id": TENANT, "note": "kept", "requests_per_hour": "1200"})
    assert kept["note"] == "kept" and kept["requests_per_hour"] == 1200
