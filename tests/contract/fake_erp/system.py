"""The fake ERP's declaration: an invoice target with one reference field of its own, and a
master-data source."""

from __future__ import annotations

from core.ports import INVOICE_TARGET, MASTER_DATA_SOURCE
from core.systems import ERP, Credential, SystemDeclaration

SYSTEM = SystemDeclaration(
    key="fakeerp",
    label="Fake ERP",
    role=ERP,
    client="tests.contract.fake_erp.client.FakeErpClient",
    capabilities={
        INVOICE_TARGET: "tests.contract.fake_erp.invoices.FakeInvoices",
        MASTER_DATA_SOURCE: "tests.contract.fake_erp.master.FakeMasterData",
    },
    credentials=(Credential("api_key", "API key", "The fake ERP's key."),),
    reference_fields=("OrderRef",),
)
