"""A connector's client, built with what the engine hands every client: the connector's token
store and the rate limiter shared by all workers."""

from __future__ import annotations

from typing import Any

import requests

from integrations import registry
from integrations.engine.ratelimit import DatabaseRateLimiter
from integrations.engine.tokens import ConnectorTokens
from integrations.models import Connector


def client_for(connector: Connector, *, session: requests.Session | None = None) -> Any:
    """The client of the connector's system (see registry.CLIENTS), ready to call."""
    client_class = registry.client_class(connector.system)
    return client_class(connector, store=ConnectorTokens(connector), limiter=DatabaseRateLimiter(), session=session)
