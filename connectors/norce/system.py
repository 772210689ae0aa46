"""Norce Commerce: the webshop whose orders Brygga invoices and whose catalogue it keeps."""

from __future__ import annotations

from core.ports import CATALOGUE_TARGET, ORDER_LIFE_TARGET, ORDER_SOURCE
from core.systems import COMMERCE, Credential, SystemDeclaration

SYSTEM = SystemDeclaration(
    key="norce",
    label="Norce Commerce",
    role=COMMERCE,
    client="connectors.norce.client.NorceClient",
    capabilities={
        ORDER_SOURCE: "connectors.norce.orders.NorceOrders",
        CATALOGUE_TARGET: "connectors.norce.catalogue.NorceCatalogue",
        ORDER_LIFE_TARGET: "connectors.norce.order_life.NorceOrderLife",
    },
    credentials=(
        Credential("client_id", "Client id", "The OAuth client id of the API application."),
        Credential("client_secret", "Client secret", "The OAuth client secret of the API application."),
        Credential(
            "receiver_username",
            "Order receiver username",
            "Norce only: the user name Norce sends (Basic auth) when it pushes orders to Brygga.",
        ),
        Credential(
            "receiver_password",
            "Order receiver password",
            "Norce only: the password Norce sends (Basic auth) when it pushes orders to Brygga.",
        ),
        Credential(
            "event_secret", "Event secret", "Norce only: the shared secret Norce sends with event notifications."
        ),
    ),
    settings_validator="connectors.norce.settings.validate_settings",
    error_modules=("connectors.norce.errors",),
    flow_settings={
        "product": "connectors.norce.catalogue_settings.NorceProductSettings",
        "price": "connectors.norce.catalogue_settings.NorcePriceSettings",
        "stock": "connectors.norce.catalogue_settings.NorceStockSettings",
    },
    webhooks={"orders": "connectors.norce.inbound.ORDERS", "events": "connectors.norce.inbound.EVENTS"},
)
