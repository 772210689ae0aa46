"""A reserve in the shared limit: bulk callers leave room that priority callers (stock) can still use."""

from __future__ import annotations

import pytest
from django.test import override_settings

from integrations.engine import ratelimit
from integrations.engine.clients import client_for
from integrations.models import Connector, RateLimitBucket

RATE = ratelimit.RateLimit(limit=10, window=60.0, margin=0.0, reserve=3)
T0 = 1_000_000.0


def hits(key: str) -> int:
    return len(RateLimitBucket.objects.get(key=key).hits)


def test_allowed_share():
    assert RATE.allowed(priority=False) == 7
    assert RATE.allowed(priority=True) == 10
    assert ratelimit.RateLimit(10, 60.0).allowed(priority=False) == 10
    # A reserve as big as the limit still lets bulk callers send one at a time.
    assert ratelimit.RateLimit(5, 60.0, reserve=9).allowed(priority=False) == 1


@pytest.mark.django_db
def test_bulk_stops_at_limit_minus_reserve_and_priority_gets_through():
    key = "test:reserve"
    for n in range(7):
        assert ratelimit.try_acquire(key, RATE, now=T0 + n) == 0.0
    wait = ratelimit.try_acquire(key, RATE, now=T0 + 7)
    assert wait > 0, "a non-priority caller went past limit - reserve"
    # It must wait until the oldest hit leaves the window.
    assert wait == pytest.approx(T0 + 60.0 - (T0 + 7))
    assert hits(key) == 7

    assert ratelimit.try_acquire(key, RATE, now=T0 + 8, priority=True) == 0.0
    assert hits(key) == 8
    # The reserve is still closed for bulk callers.
    assert ratelimit.try_acquire(key, RATE, now=T0 + 9) > 0
    assert hits(key) == 8


@pytest.mark.django_db
def test_the_total_never_exceeds_the_limit():
    key = "test:reserve-total"
    granted = {"bulk": 0, "priority": 0}
    now = T0
    for n in range(40):
        priority = n % 3 == 0
        if ratelimit.try_acquire(key, RATE, now=now, priority=priority) == 0.0:
            granted["priority" if priority else "bulk"] += 1
        now += 0.5  # 40 calls in 20 s: all inside one window
    assert granted["bulk"] + granted["priority"] == RATE.limit
    assert granted["bulk"] <= RATE.limit - RATE.reserve
    assert granted["priority"] >= RATE.reserve
    assert hits(key) == RATE.limit
    # Neither kind of caller gets one more within the window.
    assert ratelimit.try_acquire(key, RATE, now=now, priority=True) > 0
    assert ratelimit.try_acquire(key, RATE, now=now) > 0


@pytest.mark.django_db
def test_priority_callers_alone_may_use_the_whole_limit():
    key = "test:reserve-priority"
    for n in range(10):
        assert ratelimit.try_acquire(key, RATE, now=T0 + n, priority=True) == 0.0
    assert ratelimit.try_acquire(key, RATE, now=T0 + 10, priority=True) > 0
    assert ratelimit.try_acquire(key, RATE, now=T0 + 10) > 0


@pytest.mark.django_db
def test_window_frees_the_bulk_share_again():
    key = "test:reserve-window"
    for n in range(7):
        assert ratelimit.try_acquire(key, RATE, now=T0 + n) == 0.0
    assert ratelimit.try_acquire(key, RATE, now=T0 + 30) > 0
    # 60 s after the first hit one slot is free again.
    assert ratelimit.try_acquire(key, RATE, now=T0 + 60.5) == 0.0
    assert ratelimit.try_acquire(key, RATE, now=T0 + 60.6) > 0


@pytest.mark.django_db
def test_acquire_of_a_full_bulk_share_reports_rate_limited():
    from core.errors import SyncError

    key = "test:reserve-acquire"
    rate = ratelimit.RateLimit(limit=3, window=60.0, margin=0.0, reserve=1)
    with override_settings(BRYGGA={"RATE_LIMITS": True}):
        ratelimit.acquire(key, rate, max_wait=0)
        ratelimit.acquire(key, rate, max_wait=0)
        with pytest.raises(SyncError) as raised:
            ratelimit.acquire(key, rate, max_wait=0)
        assert raised.value.code == "http.rate_limited"
        assert ratelimit.acquire(key, rate, max_wait=0, priority=True) == 0.0


def test_norce_connect_limit_carries_the_configured_reserve(integration, settings):
    connector = integration.connectors.get(role=Connector.Role.COMMERCE)
    client = client_for(connector)
    settings.BRYGGA = {**settings.BRYGGA, "CONNECT_PRIORITY_RESERVE": 12}
    key, rate = client.rate_limit(connector.base_url + "/commerce/connect/4.0/Product/ImportOnhands")
    assert key == f"norce-connect:{client.host}"
    assert (rate.limit, rate.window, rate.reserve) == (60, 60.0, 12)
    assert rate.allowed(priority=False) == 48 and rate.allowed(priority=True) == 60
    assert client.rate_limit(connector.base_url + "/commerce/query/2.0/Orders/Orders") is None
