"""A connector's client, built with what the engine hands every client: the connector's token
store and the rate limiter shared by all workers (and, to a client that takes one, the
connector's shared cache); and the adapter through which a connector serves a business
capability (core.ports)."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import requests

from core.errors import CONNECTOR_MISSING, SyncError
from integrations import registry
from integrations.engine.cache import ConnectorCache
from integrations.engine.ratelimit import DatabaseRateLimiter
from integrations.engine.tokens import ConnectorTokens
from integrations.models import Connector, Integration


def client_for(connector: Connector, *, session: requests.Session | None = None) -> Any:
    """The client of the connector's system (its declaration's `client`), ready to call."""
    client_class = registry.client_class(connector.system)
    extra: dict[str, Any] = {"cache": ConnectorCache(connector)} if _takes_cache(client_class) else {}
    return client_class(
        connector, store=ConnectorTokens(connector), limiter=DatabaseRateLimiter(), session=session, **extra
    )


@functools.cache
def _takes_cache(client_class: type) -> bool:
    """Whether the client class takes a `cache` (core.cache.SharedCache) when built."""
    return "cache" in inspect.signature(client_class).parameters


def connector_for(integration: Integration | int, capability: str) -> Connector:
    """The integration's connector whose system serves `capability` (core.ports), or SyncError."""
    integration_id = integration if isinstance(integration, int) else integration.pk
    systems = Connector.objects.filter(integration_id=integration_id).order_by("pk").values_list("pk", "system")
    for pk, system in systems:
        if registry.adapter_class(system, capability) is not None:
            return Connector.objects.get(pk=pk)
    name = capability.replace("_", " ")
    raise SyncError(
        CONNECTOR_MISSING.code,
        f"Integration {integration_id} has no connector that serves as {name}",
        hint=f"Add a connector whose system can act as {name} to the integration.",
    )


def port_for(connector: Connector, capability: str, *, session: requests.Session | None = None) -> Any:
    """The connector's adapter for `capability`, built on its client."""
    adapter = registry.adapter_class(connector.system, capability)
    if adapter is None:
        raise SyncError(CONNECTOR_MISSING.code, f"{connector.get_system_display()} cannot serve as {capability}")
    return adapter(client_for(connector, session=session))
