"""A told invoice's or delivery's record reads as what Norce was told: its fields and its lines."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from core.records import DeliveredLine, Delivery, Invoiced, InvoicedLine, LifeEvent
from integrations.flows.order_life_records import store_event
from integrations.models import Entity, Flow
from tests.browser.conftest import World, screenshot


@pytest.fixture
def told_invoice(world: World) -> Entity:
    integration = Entity.objects.first().integration
    flow = Flow.objects.create(integration=integration, kind="order_life_to_commerce")
    record = Invoiced(
        document="1042",
        order_reference="700001",
        erp_order="1042",
        invoice_date="2026-05-04",
        due_date="2026-06-03",
        currency="SEK",
        total=Decimal("298.00"),
        vat=Decimal("50.41"),
        lines=(
            InvoicedLine("TS-1001-S", "T-shirt", Decimal("1"), Decimal("159.20"), Decimal("39.80"), Decimal("25")),
            InvoicedLine("BOK-1", "Bok", Decimal("1"), Decimal("88.39"), Decimal("10.61"), Decimal("12")),
        ),
    )
    event = LifeEvent(key="invoiced:1042", kind="invoiced", changed_at=None, payload={}, record=record)
    entity, _ = store_event(flow=flow, event=event)
    return entity


def test_a_fulfilment_record_shows_the_invoice_told(told_invoice: Entity, page: Page):
    entity = told_invoice
    page.goto(f"/admin/integrations/entity/{entity.pk}/change/")
    field = page.locator(".field-life_record")
    expect(field).to_contain_text("298.00")
    expect(field.get_by_role("cell", name="TS-1001-S")).to_be_visible()
    expect(field.get_by_role("cell", name="88.39")).to_be_visible()
    # read as a person reads an invoice: what it is first, the money after, named in words
    heads = field.locator("tbody th").all_inner_texts()
    assert heads.index("Document") < heads.index("Total") < heads.index("VAT")
    assert "Last invoice for the order" in heads
    expect(field.get_by_role("columnheader", name="Unit price excl. VAT")).to_be_visible()
    screenshot(page, "fulfilment-record")


@pytest.fixture
def told_delivery(world: World) -> Entity:
    integration = Entity.objects.first().integration
    flow = Flow.objects.create(integration=integration, kind="order_life_to_commerce")
    record = Delivery(
        document="000011",
        order_reference="400011",
        erp_order="SO/000011",
        delivered_on="2026-12-04",
        # A Visma.net shipment names no order row numbers: the lines carry none.
        lines=(
            DeliveredLine(part_no="LA-6201", quantity=Decimal("3"), description="Pannlampa 400 lm"),
            DeliveredLine(part_no="KN-5601", quantity=Decimal("1"), description="Kockkniv 20 cm"),
        ),
        parcels=("00373500000000000011",),
        carrier="PostNord",
        complete=False,
    )
    event = LifeEvent(key="delivery:000011", kind="delivery", changed_at=None, payload={}, record=record)
    entity, _ = store_event(flow=flow, event=event)
    return entity


def test_a_delivery_record_shows_its_parcels_and_no_empty_columns(told_delivery: Entity, page: Page):
    page.goto(f"/admin/integrations/entity/{told_delivery.pk}/change/")
    field = page.locator(".field-life_record")
    expect(field).to_contain_text("00373500000000000011")
    expect(field).to_contain_text("PostNord")
    heads = field.locator("tbody th").all_inner_texts()
    assert heads.index("Document") < heads.index("Delivered on") < heads.index("Parcels")
    assert field.locator("tbody tr", has_text="Whole order delivered").locator("td").inner_text() == "no"
    columns = field.locator("thead th").all_inner_texts()
    assert [c.strip().lower() for c in columns] == ["part no.", "description", "quantity"]
    expect(field.get_by_role("cell", name="Kockkniv 20 cm")).to_be_visible()
    assert "None" not in field.inner_text()
    screenshot(page, "fulfilment-delivery")
