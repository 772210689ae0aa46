"""The fake ERP's declaration: an invoice target with one reference field of its own."""

from __future__ import annotations

from core.ports import INVOICE_TARGET
from core.systems import ERP, Credential, SystemDeclaration

SYSTEM = SystemDeclaration(
    key="fakeerp",
    label="Fake ERP",
    role=ERP,
    client="tests.contract.fake_erp.client.FakeErpClient",
    capabilities={INVOICE_TARGET: "tests.contract.fake_erp.invoices.FakeInvoices"},
    credentials=(Credential("api_key", "API key", "The fake ERP's key."),),
    reference_fields=("OrderRef",),
)
