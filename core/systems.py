"""What a connector package declares about its system, in one place (``<package>/system.py``).

Brygga finds its connectors through settings.BRYGGA_CONNECTORS (a list of packages); each
package's ``system`` module holds a ``SYSTEM`` declaration. Everything else — the admin's
credential inputs, which adapter serves a flow, the error codes, OAuth connect — is read
from these declarations, so a new system is one package and one line in settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

COMMERCE = "commerce"
ERP = "erp"


@dataclass(frozen=True)
class Credential:
    """A secret a connector needs: stored encrypted, written from a form, never shown again."""

    key: str
    label: str
    help_text: str


@dataclass(frozen=True)
class SystemDeclaration:
    key: str  # stored on Connector.system
    label: str  # as people name it: "Fortnox"
    role: str  # COMMERCE or ERP
    # dotted path to the client class: Client(account, *, store, limiter, session)
    client: str
    # capability (core.ports.ORDER_SOURCE, …) → dotted path of the adapter class, built on the client
    capabilities: Mapping[str, str] = field(default_factory=dict)
    credentials: tuple[Credential, ...] = ()
    # dotted path to `validate_settings(raw: dict) -> dict` for the connector's settings JSON
    settings_validator: str = ""
    # modules that register the system's error codes in core.errors.CATALOGUE on import
    error_modules: tuple[str, ...] = ()
    # ERP: the invoice fields an order's matching key may be written to; the first is the default
    reference_fields: tuple[str, ...] = ()
    # dotted path to the OAuth module (authorize_url, handle_callback), when staff connect by consent
    oauth: str = ""
    # inbound webhooks: name (the last part of /<system>/<integration>/<name>) → dotted path of its handler
    webhooks: Mapping[str, str] = field(default_factory=dict)
    # flow data type ("product", "price", …) → dotted path of the dataclass of the settings this
    # system reads from such a flow's settings (its part of them)
    flow_settings: Mapping[str, str] = field(default_factory=dict)
