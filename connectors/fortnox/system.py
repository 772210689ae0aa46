"""Fortnox: the ERP whose customers and invoices orders become (and, later, its master data)."""

from __future__ import annotations

from connectors.fortnox.mapping import REFERENCE_FIELDS
from core.ports import FULFILMENT_SOURCE, INVOICE_TARGET, MASTER_DATA_SOURCE
from core.systems import ERP, Credential, SystemDeclaration

SYSTEM = SystemDeclaration(
    key="fortnox",
    label="Fortnox",
    role=ERP,
    client="connectors.fortnox.client.FortnoxClient",
    capabilities={
        INVOICE_TARGET: "connectors.fortnox.invoices.FortnoxInvoices",
        MASTER_DATA_SOURCE: "connectors.fortnox.master.FortnoxMasterData",
        FULFILMENT_SOURCE: "connectors.fortnox.fulfilment.FortnoxFulfilment",
    },
    credentials=(
        Credential("client_id", "Client id", "The OAuth client id of the API application."),
        Credential("client_secret", "Client secret", "The OAuth client secret of the API application."),
    ),
    settings_validator="connectors.fortnox.settings.validate_settings",
    error_modules=("connectors.fortnox.errors",),
    reference_fields=REFERENCE_FIELDS,
    oauth="connectors.fortnox.oauth",
    flow_settings={
        "price": "connectors.fortnox.master_settings.FortnoxPriceSettings",
        "stock": "connectors.fortnox.master_settings.FortnoxStockSettings",
    },
)
