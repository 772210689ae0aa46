"""Visma.net: the ERP whose customers and invoices (or sales orders) orders become, whose master
data feeds the webshop, and whose shipments, invoices and cancellations are told back."""

from __future__ import annotations

from connectors.vismanet.mapping import REFERENCE_FIELDS
from core.ports import FULFILMENT_SOURCE, INVOICE_TARGET, MASTER_DATA_SOURCE
from core.systems import ERP, Credential, SystemDeclaration

SYSTEM = SystemDeclaration(
    key="vismanet",
    label="Visma.net",
    role=ERP,
    client="connectors.vismanet.client.VismaNetClient",
    capabilities={
        INVOICE_TARGET: "connectors.vismanet.invoices.VismaNetInvoices",
        MASTER_DATA_SOURCE: "connectors.vismanet.master.VismaNetMasterData",
        FULFILMENT_SOURCE: "connectors.vismanet.fulfilment.VismaNetFulfilment",
    },
    credentials=(
        Credential("client_id", "Client id", "The Visma Developer Portal application's client id."),
        Credential("client_secret", "Client secret", "The application's client secret (Visma Connect)."),
        Credential(
            "webhook_secret",
            "Webhook secret",
            "Visma.net only: a secret you choose; the notifications Visma.net sends carry it (the "
            "X-Webhook-Token header of the Developer Portal subscription, or ?token=… on its URL).",
        ),
    ),
    settings_validator="connectors.vismanet.settings.validate_settings",
    error_modules=("connectors.vismanet.errors",),
    reference_fields=REFERENCE_FIELDS,
    webhooks={"notifications": "connectors.vismanet.inbound.NOTIFICATIONS"},
    flow_settings={
        "price": "connectors.vismanet.master_settings.VismaNetPriceSettings",
        "stock": "connectors.vismanet.master_settings.VismaNetStockSettings",
    },
)
