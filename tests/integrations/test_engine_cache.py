"""The shared cache the engine hands connector clients (integrations.engine.cache)."""

from __future__ import annotations

import pytest

from integrations.engine import cache as engine_cache
from integrations.engine.cache import ConnectorCache
from integrations.engine.clients import _takes_cache, client_for
from integrations.models import Connector


@pytest.fixture
def erp(integration) -> Connector:
    return integration.connectors.get(role=Connector.Role.ERP)


@pytest.fixture
def shop(integration) -> Connector:
    return integration.connectors.get(role=Connector.Role.COMMERCE)


def test_entries_are_kept_per_connector(erp, shop):
    one, other = ConnectorCache(erp), ConnectorCache(shop)
    one.set("vat", [{"vatId": "MP1"}], seconds=60)
    assert one.get("vat") == [{"vatId": "MP1"}]
    assert other.get("vat") is None
    assert ConnectorCache(erp).get("vat") == [{"vatId": "MP1"}]  # another task, the same entry
    one.delete("vat")
    assert one.get("vat") is None


def test_bytes_are_kept_as_they_are(erp):
    ConnectorCache(erp).set("blob", {"entries": b"\x00\x01" * 10}, seconds=60)
    assert ConnectorCache(erp).get("blob") == {"entries": b"\x00\x01" * 10}


def test_an_entry_expires(erp, monkeypatch):
    sent = {}

    def record(key, value, timeout):
        sent[key] = timeout

    monkeypatch.setattr(engine_cache.cache, "set", record)
    ConnectorCache(erp).set("vat", [], seconds=3600)
    assert sent == {f"brygga:connector:{erp.pk}:vat": 3600}


def test_a_failing_cache_is_a_cache_that_misses(erp, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get", "set", "delete"):
        monkeypatch.setattr(engine_cache.cache, name, broken)
    kept = ConnectorCache(erp)
    kept.set("vat", [], seconds=60)
    kept.delete("vat")
    assert kept.get("vat") is None


def test_only_clients_that_take_a_cache_are_handed_one(erp, shop):
    erp.system, erp.settings = "vismanet", {"tenant_id": "5f0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b"}
    assert isinstance(client_for(erp).cache, ConnectorCache)
    assert not hasattr(client_for(shop), "cache")
    assert _takes_cache(type(client_for(erp))) and not _takes_cache(type(client_for(shop)))
