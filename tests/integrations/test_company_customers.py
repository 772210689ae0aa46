"""Company buyers keep their organisation number on the Fortnox customer, and a second
order of the same company (another buyer's e-mail) finds that customer by it.

The orders flow runs in this process against the Fortnox simulator over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.flows.order_records import store_order
from integrations.models import Entity, Integration
from tests.integrations.test_relink import (  # noqa: F401 - fixtures
    invoices_for,
    pushed_order,
    run_order_task,
    world,
)

pytestmark = pytest.mark.django_db(transaction=True)


def company_order(ref: str, *, email: str, company: dict[str, Any]) -> dict[str, Any]:
    body = pushed_order(ref, seed=8)
    person = {
        "FirstName": "Karin",
        "LastName": "Berg",
        "Email": email,
        "Address": {"Line1": "Industrivägen 4", "ZipCode": "17148", "City": "Solna", "Country": "SE"},
    }
    party = {"Company": {"Code": "C-41", "Name": "Bergs Kontor AB", **company}, "Person": person}
    body.update(SellTo=party, BillTo=party, ShipTo=party)
    return body


def invoice(integration: Integration, ref: str, body: dict[str, Any]) -> Entity:
    entity, _ = store_order(integration=integration, source_id=ref, payload=body, received_via="push", reference=ref)
    run_order_task(integration, entity)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED, entity.last_error_message
    return entity


def customers_named(fortnox, name: str) -> list[dict[str, Any]]:
    with fortnox.lock:
        return [dict(c) for c in fortnox.customers.values() if c.get("Name") == name]


@pytest.mark.parametrize(
    "company",
    [{"OrganisationNumber": "559012-3456"}, {"VatNo": "SE559012345601"}],
    ids=["organisation-number", "vat-number-only"],
)
def test_a_company_order_creates_a_customer_with_its_organisation_number_and_the_next_order_finds_it(
    world, fortnox, company
):
    invoice(world, "710001", company_order("710001", email="karin@bergs.example.com", company=company))
    (customer,) = customers_named(fortnox, "Bergs Kontor AB")
    assert customer["OrganisationNumber"] == "559012-3456"
    assert customer["Type"] == "COMPANY"

    # Another buyer at the same company, another e-mail: the same customer.
    invoice(world, "710002", company_order("710002", email="inköp@bergs.example.com", company=company))
    assert len(customers_named(fortnox, "Bergs Kontor AB")) == 1
    numbers = {i["CustomerNumber"] for ref in ("710001", "710002") for i in invoices_for(fortnox, ref)}
    assert numbers == {customer["CustomerNumber"]}


def test_companies_match_by_e_mail_when_the_flow_says_so(world, fortnox):
    flow = world.flows.get()
    flow.settings = {**flow.settings, "company_customer_match": "email"}
    flow.save()
    company = {"OrganisationNumber": "559012-3456"}
    invoice(world, "710011", company_order("710011", email="karin@bergs.example.com", company=company))
    invoice(world, "710012", company_order("710012", email="inkop@bergs.example.com", company=company))
    created = customers_named(fortnox, "Bergs Kontor AB")
    assert len(created) == 2 and all(c["OrganisationNumber"] == "559012-3456" for c in created)
