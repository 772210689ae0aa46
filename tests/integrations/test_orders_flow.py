"""Pieces of the orders flow that need no external system."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.norce.orders import changed_at
from integrations.flows.order_records import store_order
from integrations.models import Entity


def test_query_timestamps_with_and_without_zone_are_utc():
    assert changed_at({"Updated": None, "Created": "2026-05-01T10:00:00Z"}) == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert changed_at({"Updated": "2026-05-01T10:00:00"}) == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert changed_at({"Updated": "not a date"}) is None
    assert changed_at({}) is None


def test_a_push_replaces_a_polled_payload_until_the_order_is_synced(integration):
    polled, created = store_order(
        integration=integration, source_id="7001", payload={"OrderNo": "7001"}, received_via="poll"
    )
    assert created
    pushed, created = store_order(
        integration=integration, source_id="7001", payload={"ClientOrderRef": "7001"}, received_via="push"
    )
    assert not created and pushed.pk == polled.pk
    assert Entity.objects.get(pk=polled.pk).payload == {"ClientOrderRef": "7001"}
    Entity.objects.filter(pk=polled.pk).update(status=Entity.Status.SYNCED, received_via="poll")
    store_order(integration=integration, source_id="7001", payload={"ClientOrderRef": "changed"}, received_via="push")
    assert Entity.objects.get(pk=polled.pk).payload == {"ClientOrderRef": "7001"}
