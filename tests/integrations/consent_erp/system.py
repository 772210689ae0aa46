"""The consent ERP's declaration: one credential and an OAuth module."""

from __future__ import annotations

from core.systems import ERP, Credential, SystemDeclaration

SYSTEM = SystemDeclaration(
    key="consenterp",
    label="Consent ERP",
    role=ERP,
    client="tests.integrations.consent_erp.client.ConsentErpClient",
    credentials=(Credential("app_key", "App key", "The consent ERP's app key."),),
    oauth="tests.integrations.consent_erp.oauth",
)
