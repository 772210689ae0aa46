"""A webshop of the tests' own, declaring one webhook, to show the webhook view serves any system."""

from __future__ import annotations

from core.systems import COMMERCE, Credential, SystemDeclaration

SYSTEM = SystemDeclaration(
    key="fakeshop",
    label="Fake shop",
    role=COMMERCE,
    client="tests.contract.fake_erp.client.FakeErpClient",
    credentials=(Credential("hook_token", "Hook token", "The token the fake shop sends with its notices."),),
    webhooks={"notices": "tests.integrations.fake_shop.inbound.NOTICES"},
)
