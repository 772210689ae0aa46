"""The Visma.net notification webhook: authentication by the webhook token, and what a thin
notification means for the flows."""

from __future__ import annotations

import pytest

from connectors.vismanet.inbound import NOTIFICATIONS
from core.errors import SyncError
from core.inbound import Ignored, RecordChanged

CREDENTIALS = {"webhook_secret": "hook-secret"}


def test_the_token_header_authenticates():
    assert NOTIFICATIONS.authenticated({"X-Webhook-Token": "hook-secret"}, CREDENTIALS)
    assert not NOTIFICATIONS.authenticated({"X-Webhook-Token": "wrong"}, CREDENTIALS)
    assert not NOTIFICATIONS.authenticated({}, CREDENTIALS)
    assert not NOTIFICATIONS.authenticated({"X-Webhook-Token": ""}, {"webhook_secret": ""})


@pytest.mark.parametrize(
    ("event", "number", "data_types", "key"),
    [
        ("InventoryItem.Updated", "KA-1", ("product", "price", "stock"), "KA-1"),
        ("InventoryItem.Created", "KA-2", ("product", "price", "stock"), "KA-2"),
        ("Customer.Updated", "10001", ("customer",), "10001"),
        ("Shipment.StatusChanged", "000045", ("fulfilment",), "delivery:000045"),
        ("ArInvoice.StatusChanged", "000130", ("fulfilment",), "invoiced:000130"),
        ("SALESORDER_UPDATED", "SO/000223", ("fulfilment",), "cancelled:SO/000223"),
        ("SALESORDER_DELETED", "000224", ("fulfilment",), "cancelled:SO/000224"),
    ],
)
def test_notifications_name_the_record_to_read_again(event, number, data_types, key):
    body = {"notificationId": "n-1", "tenantId": "t", "event": event, "entity": event.split(".")[0], "id": number}
    assert NOTIFICATIONS.read(body) == RecordChanged(data_types=data_types, key=key, reference="n-1")


def test_other_events_are_ignored_and_broken_bodies_refused():
    assert isinstance(NOTIFICATIONS.read({"event": "SALESORDER_CREATED", "id": "SO/1"}), Ignored)
    assert isinstance(NOTIFICATIONS.read({"event": "Supplier.Updated", "id": "1"}), Ignored)
    for body in ([], {"id": "1"}, {"event": "Customer.Updated"}, {"event": "Customer.Updated", "id": True}):
        with pytest.raises(SyncError) as caught:
            NOTIFICATIONS.read(body)
        assert caught.value.code == "vismanet.notification_malformed"
