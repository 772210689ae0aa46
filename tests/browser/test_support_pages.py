"""Support pages in Chromium: the error catalogue, the log list, a cursor's resend, an order's timeline and
"Create a new invoice anyway", "Credit the extra invoice", the Fortnox connector, and the API docs."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import Page, expect

from connectors.fortnox import settings as fortnox_settings
from integrations import selectors, services
from integrations.engine.tokens import store_tokens
from integrations.flows import orders
from integrations.flows.order_records import store_order
from integrations.models import Connector, Entity, Flow, Integration, LogEntry, Reference, Task, TimeHistory
from simulators.fortnox.server import FortnoxSimulator
from simulators.norce.orders import DEMO_CATALOGUE, generate_order
from tests.browser.conftest import USERNAME, World, screenshot
from tests.conftest import FORTNOX_CREDENTIALS, NORCE_CREDENTIALS, build_integration

LONG_MESSAGE = (
    "Order 700042: Fortnox refused the invoice because customer 1042 has no delivery address and the "
    "freight article FRAKT is marked inactive in the article register; both must be fixed before a retry works"
)
LONG_HINT = "Add the delivery address to customer 1042 and activate article FRAKT in Fortnox, then retry the record."


T = TypeVar("T")


def in_db(work: Callable[[], T]) -> T:
    """Run database work off the thread that drives the browser (Playwright's sync API runs an event loop)."""

    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def world_integration(world: World) -> Integration:
    return Integration.objects.get(name=world.integration_name)


def row_cells(row) -> list[str]:
    return [text.strip() for text in row.locator("td").all_text_contents()]


# -- the error catalogue ------------------------------------------------------------------------------


def test_error_catalogue_lists_information_apart_from_errors_and_filters_as_one_types(page: Page, world: World):
    catalogue = selectors.error_catalogue()
    info = [entry for entry in catalogue if entry.is_info]
    permanent = [entry for entry in catalogue if not entry.is_info and entry.permanent]
    transient = [entry for entry in catalogue if not entry.is_info and not entry.permanent]
    assert {"order.invoiced", "order.relinked"} <= {entry.code for entry in info}

    page.goto(reverse("admin:integrations_error_catalogue"))
    expect(page.get_by_role("heading", name="Error catalogue")).to_be_visible()
    sections = {
        anchor: page.locator(f"#{anchor}") for anchor in ("errors-permanent", "errors-transient", "information")
    }
    for anchor, entries in (("errors-permanent", permanent), ("errors-transient", transient), ("information", info)):
        expect(sections[anchor].locator("h2 .count")).to_have_text(f"({len(entries)})")
        expect(sections[anchor].locator("tr.catalogue-row")).to_have_count(len(entries))
    expect(sections["information"].locator("h2")).to_contain_text("not failures")

    for code in ("order.invoiced", "order.relinked"):
        row = page.locator(f'tr.catalogue-row[id="code-{code}"]')
        expect(row).to_have_count(1)
        expect(sections["information"].locator(f'tr[id="code-{code}"]')).to_be_visible()
        for anchor in ("errors-permanent", "errors-transient"):
            expect(sections[anchor].locator(f'tr[id="code-{code}"]')).to_have_count(0)
        cells = row_cells(row)
        assert cells[0] == code and cells[4] == "Information", cells
        assert "Transient" not in " ".join(cells) and "Permanent" not in " ".join(cells), cells
    screenshot(page, "error-catalogue")

    invoiced = page.locator('tr[id="code-order.invoiced"]')
    relinked = page.locator('tr[id="code-order.relinked"]')
    search = page.get_by_label("Search codes, titles and hints:")
    search.press_sequentially("relinked")
    expect(invoiced).to_be_hidden()
    expect(relinked).to_be_visible()
    shown = selectors.search_catalogue(catalogue, query="relinked")
    assert shown and all(entry.is_info for entry in shown), [entry.code for entry in shown]
    expect(sections["information"].locator("h2 .count")).to_have_text(f"({len(shown)})")
    expect(page.locator("tr.catalogue-row:visible")).to_have_count(len(shown))
    for anchor in ("errors-permanent", "errors-transient"):
        expect(sections[anchor].locator("h2 .count")).to_have_text("(0)")
        expect(sections[anchor].locator("table")).to_be_hidden()
        expect(sections[anchor].get_by_text("No code in this section matches.")).to_be_visible()
    screenshot(page, "error-catalogue-typed")

    search.fill("")
    expect(invoiced).to_be_visible()
    for anchor, entries in (("errors-permanent", permanent), ("errors-transient", transient)):
        expect(sections[anchor].locator("table")).to_be_visible()
        expect(sections[anchor].get_by_text("No code in this section matches.")).to_be_hidden()
        expect(sections[anchor].locator("h2 .count")).to_have_text(f"({len(entries)})")

    query = "vat"
    found = selectors.search_catalogue(catalogue, query=query)
    assert 0 < len(found) < len(catalogue)
    page.goto(reverse("admin:integrations_error_catalogue") + f"?q={query}")
    expect(page.get_by_text(f"{len(found)} of {len(catalogue)} codes match “{query}”.")).to_be_visible()
    expect(page.locator("tr.catalogue-row")).to_have_count(len(found))
    expect(page.get_by_label("Search codes, titles and hints:")).to_have_value(query)
    expect(invoiced).to_have_count(0)
    for entry in found:
        expect(page.locator(f'tr[id="code-{entry.code}"]')).to_be_visible()
    screenshot(page, "error-catalogue-query")


# -- the log list -------------------------------------------------------------------------------------


@pytest.fixture
def long_log_entry(world: World) -> LogEntry:
    return LogEntry.objects.create(
        integration=world_integration(world),
        level=LogEntry.Level.ERROR,
        data_type="order",
        reference="700042",
        code="order.missing_data",
        message=LONG_MESSAGE,
        hint=LONG_HINT,
    )


def test_log_list_shows_a_long_message_whole_with_its_hint_and_filters_by_date(long_log_entry: LogEntry, page: Page):
    assert 180 <= len(LONG_MESSAGE) <= 220
    page.goto(reverse("admin:integrations_logentry_changelist"))
    row = page.locator("#result_list tbody tr").filter(has_text="700042")
    expect(row).to_have_count(1)
    cell = row.locator("td.field-short_message")
    expect(cell).to_contain_text(LONG_MESSAGE)
    expect(cell.locator(".hint")).to_have_text(LONG_HINT)
    expect(cell.locator(".hint")).to_be_visible()
    day = timezone.localdate()
    day_label = date_format(day, "MONTH_DAY_FORMAT")
    hierarchy = page.locator("nav.toplinks")
    expect(hierarchy).to_be_visible()
    expect(hierarchy.get_by_role("link", name=str(day.year))).to_be_visible()
    expect(hierarchy.get_by_role("link", name=day_label)).to_be_visible()
    date_filter = page.locator("#changelist-filter").locator("details", has_text="created at")
    expect(date_filter.get_by_role("link", name="Today")).to_be_visible()
    expect(date_filter.get_by_role("link", name="Past 7 days")).to_be_visible()
    screenshot(page, "log-entries")

    assert "…" not in cell.inner_text()
    assert cell.evaluate(
        "(cell) => cell.scrollWidth <= cell.clientWidth + 1 && cell.scrollHeight <= cell.clientHeight + 1"
    ), "the message is clipped by its cell"
    widths = row.locator("td").evaluate_all("(cells) => cells.map((cell) => cell.getBoundingClientRect().width)")
    assert cell.bounding_box()["width"] == pytest.approx(max(widths), abs=0.5), widths

    hierarchy.get_by_role("link", name=day_label).click()
    expect(page).to_have_url(re.compile(rf"created_at__day={day.day}"))
    expect(page.locator("#result_list tbody tr").filter(has_text="700042")).to_have_count(1)

    page.goto(reverse("admin:integrations_logentry_changelist"))
    page.locator("#changelist-filter").get_by_role("link", name="Today").click()
    expect(page).to_have_url(re.compile(r"created_at__gte="))
    expect(page.locator("#result_list tbody tr").filter(has_text="700042")).to_have_count(1)


# -- a cursor: Run now and Rewind and resend -----------------------------------------------------------


@pytest.fixture
def price_cursor(world: World) -> TimeHistory:
    return TimeHistory.objects.create(
        integration=world_integration(world),
        data_type="price",
        direction="erp_to_commerce",
        last_loaded_at=timezone.now() - timedelta(days=2),
    )


def test_cursor_explains_what_a_run_sends_and_rewind_and_resend_queues_a_forced_task(
    price_cursor: TimeHistory, page: Page
):
    cursor = price_cursor
    flow = in_db(lambda: Flow.objects.get(integration_id=cursor.integration_id, kind="prices_to_commerce"))
    before = set(in_db(lambda: list(Task.objects.values_list("pk", flat=True))))

    page.goto(reverse("admin:integrations_timehistory_change", args=[cursor.pk]))
    note = page.locator(".form-row.field-run_note")
    expect(note).to_contain_text("moving the cursor back sends nothing when nothing changed")
    expect(note).to_contain_text("Rewind and resend")
    expect(note.get_by_role("link", name="Prices ERP → Norce")).to_be_visible()
    tools = page.locator(".object-tools")
    run_now = tools.get_by_role("button", name="Run now")
    resend = tools.get_by_role("button", name="Rewind and resend")
    expect(run_now).to_be_visible()
    expect(resend).to_be_visible()
    run_box, resend_box = run_now.bounding_box(), resend.bounding_box()
    assert run_box and resend_box and abs(run_box["y"] - resend_box["y"]) < 2, (run_box, resend_box)
    screenshot(page, "time-history")

    run_now.click()
    message = page.locator(".messagelist li")
    expect(message).to_contain_text("records whose content is unchanged are not sent again")
    (plain,) = in_db(lambda: list(Task.objects.exclude(pk__in=before)))
    assert plain.flow_id == flow.pk and not plain.params.get("force"), plain.params
    expect(message.get_by_role("link", name=f"#{plain.pk}")).to_be_visible()

    page.locator(".object-tools").get_by_role("button", name="Rewind and resend").click()
    message = page.locator(".messagelist li")
    expect(message).to_contain_text("every record read is sent to Norce, changed or not")
    expect(message).not_to_have_class(re.compile(r"\b(error|warning)\b"))
    (task,) = in_db(lambda: list(Task.objects.exclude(pk__in=[*before, plain.pk])))
    assert task.flow_id == flow.pk and task.status == Task.Status.QUEUED
    assert task.params.get("force") is True, task.params
    expect(message.get_by_role("link", name=f"#{task.pk}")).to_be_visible()
    screenshot(page, "time-history-resent")


# -- an order: timeline and "Create a new invoice anyway" -------------------------------------------------


@pytest.fixture
def fortnox(settings) -> Iterator[FortnoxSimulator]:
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False}
    simulator = FortnoxSimulator()
    simulator.start()
    simulator.reset(auth=True)
    simulator.limiter.enabled = False
    simulator.seed_demo()
    yield simulator
    simulator.stop()


@pytest.fixture
def invoiced_order(world: World, fortnox: FortnoxSimulator) -> tuple[Entity, dict[str, Any], Reference]:
    """An order of a second integration, invoiced in the simulator by the orders flow run in this process."""
    integration = build_integration(
        name="Webshop ↔ Fortnox simulator",
        fortnox_url=fortnox.url,
        flow_settings={"freight_article": "FRAKT", "send_status_to_commerce": False},
    )
    store_tokens(integration.connectors.get(role=Connector.Role.ERP), fortnox.issue_tokens("fortnox-client"))
    ref = "700101"
    order = generate_order(random.Random(3), order_ref=ref, catalogue=DEMO_CATALOGUE)
    entity, _ = store_order(
        integration=integration,
        source_id=ref,
        received_via="push",
        reference=ref,
        payload={key: value for key, value in order.items() if not key.startswith("_")},
    )
    task = services.create_task(
        integration=integration,
        flow=integration.flows.get(),
        trigger=Task.Trigger.ORDER_PUSH,
        params={"entity_ids": [entity.pk]},
    )
    services.execute_task(task.pk)
    entity.refresh_from_db()
    assert entity.status == Entity.Status.SYNCED, (entity.status, entity.last_error_message)
    with fortnox.lock:
        (invoice,) = [dict(i) for i in fortnox.invoices.values() if i.get("ExternalInvoiceReference1") == ref]
    assert entity.target_id == invoice["DocumentNumber"]
    reference = Reference.objects.get(integration=integration, data_type="order", source_id=ref)
    return entity, invoice, reference


def queued(entity: Entity) -> int:
    return in_db(lambda: Task.objects.filter(integration_id=entity.integration_id, status=Task.Status.QUEUED).count())


def test_order_timeline_names_who_deleted_the_reference_and_create_anyway_queues_once(
    invoiced_order: tuple[Entity, dict[str, Any], Reference], page: Page
):
    entity, invoice, reference = invoiced_order
    number = invoice["DocumentNumber"]
    assert reference.target_id == number

    page.goto(reverse("admin:integrations_reference_delete", args=[reference.pk]))
    warning = page.locator(".errornote")
    expect(warning).to_contain_text("looks this source id up in the target system first")
    expect(warning).to_contain_text("only when there is none does it create a NEW record")
    screenshot(page, "reference-delete")
    page.get_by_role("button", name=re.compile(r"Yes, I.m sure")).click()
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert not in_db(lambda: Reference.objects.filter(pk=reference.pk).exists())

    entity_url = reverse("admin:integrations_entity_change", args=[entity.pk])
    page.goto(entity_url)
    timeline = page.locator(".field-timeline table")
    headers = [text.strip() for text in timeline.locator("thead th").all_text_contents()]
    assert "By" in headers and "Code" in headers, headers
    deleted = timeline.locator("tbody tr").filter(has_text="reference.deleted")
    expect(deleted).to_have_count(1)
    cells = row_cells(deleted)
    assert cells[headers.index("Code")] == "reference.deleted", cells
    assert cells[headers.index("By")] == USERNAME, cells
    invoiced = timeline.locator("tbody tr").filter(has_text="order.invoiced")
    expect(invoiced).to_have_count(1)
    assert row_cells(invoiced)[headers.index("By")] != USERNAME
    expect(page.locator(".field-reference_link")).to_contain_text("none yet")
    when = timeline.locator("tbody tr td:first-child a")
    assert when.evaluate_all("(links) => links.every((link) => link.getClientRects().length === 1)"), (
        when.all_inner_texts()
    )
    screenshot(page, "order-timeline")

    page.locator(".object-tools").get_by_role("link", name="Create a new invoice anyway").click()
    expect(page).to_have_url(re.compile(r"/create-anyway/$"))
    expect(page.locator(".errornote")).to_contain_text(f"Order {entity.reference} already has a live invoice")
    live = page.locator("#live-invoices tbody tr")
    expect(live).to_have_count(1)
    assert row_cells(live)[0] == number
    confirm = page.get_by_role("button", name=f"Yes, create a new invoice for order {entity.reference}")
    expect(confirm).to_be_enabled()
    screenshot(page, "create-anyway")
    assert queued(entity) == 0

    confirm.click()
    expect(page).to_have_url(re.compile(re.escape(entity_url) + "$"))
    created = page.locator(".messagelist li")
    expect(created).to_contain_text(re.compile(r"a new invoice will be created by task #\d+\."))
    expect(created).not_to_have_class(re.compile(r"\b(error|warning)\b"))
    assert queued(entity) == 1

    page.go_back()
    expect(page).to_have_url(re.compile(r"/create-anyway/$"))
    expect(page.locator("#live-invoices tbody tr td").first).to_have_text(number)
    confirm = page.get_by_role("button", name=f"Yes, create a new invoice for order {entity.reference}")
    expect(confirm).to_be_enabled()
    confirm.click()
    expect(page).to_have_url(re.compile(re.escape(entity_url) + "$"))
    expect(page.locator(".messagelist .warning")).to_contain_text(
        "a new invoice was already requested; nothing more was queued"
    )
    assert queued(entity) == 1
    requested = in_db(
        lambda: list(LogEntry.objects.filter(entity=entity, code="order.create_anyway").values_list("actor", flat=True))
    )
    assert requested == [USERNAME], requested
    expect(page.locator(".field-timeline tbody tr").filter(has_text="order.create_anyway")).to_contain_text(number)
    assert page.locator(".field-timeline tbody tr td:first-child a").evaluate_all(
        "(links) => links.every((link) => link.getClientRects().length === 1)"
    )
    screenshot(page, "create-anyway-again")


# -- an order invoiced twice: the reconciliation's flag and "Credit the extra invoice" -------------------


def post_extra_invoice(fortnox: FortnoxSimulator, invoice: dict[str, Any]) -> str:
    """A second invoice with the order's reference, as a create committed after its timeout leaves one."""
    token = fortnox.issue_tokens("fortnox-client")["access_token"]
    rows = [
        {key: row[key] for key in ("ArticleNumber", "Description", "DeliveredQuantity", "Price", "VAT")}
        for row in invoice["InvoiceRows"]
    ]
    body = {
        "Invoice": {
            "CustomerNumber": invoice["CustomerNumber"],
            "Currency": invoice["Currency"],
            "VATIncluded": invoice["VATIncluded"],
            "InvoiceRows": rows,
            "ExternalInvoiceReference1": invoice["ExternalInvoiceReference1"],
        }
    }
    response = requests.post(
        f"{fortnox.url}/3/invoices",
        json=body,
        timeout=5,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert response.status_code == 201, response.text
    return response.json()["Invoice"]["DocumentNumber"]


def test_an_order_invoiced_twice_shows_both_numbers_and_the_extra_one_is_cancelled_once(
    invoiced_order: tuple[Entity, dict[str, Any], Reference], fortnox: FortnoxSimulator, page: Page
):
    entity, invoice, _ = invoiced_order
    kept = invoice["DocumentNumber"]
    extra = post_extra_invoice(fortnox, invoice)
    in_db(
        lambda: services.execute_task(
            orders.queue_reconciliation(Flow.objects.get(integration_id=entity.integration_id)).pk
        )
    )

    entity_url = reverse("admin:integrations_entity_change", args=[entity.pk])
    page.goto(entity_url)
    expect(page.locator(".field-status_badge")).to_contain_text("Needs attention")
    expect(page.locator(".field-error_code_link")).to_contain_text("order.duplicate_invoice")
    message = page.locator(".field-last_error_message")
    expect(message).to_contain_text(f"{kept} (linked) and {extra} (extra)")
    expect(page.locator(".field-error_hint")).to_contain_text("Credit the extra invoice")
    screenshot(page, "order-invoiced-twice")

    page.locator(".object-tools").get_by_role("link", name="Credit the extra invoice").click()
    expect(page).to_have_url(re.compile(r"/credit-extra/$"))
    expect(page.locator(".errornote")).to_contain_text(f"It is linked to invoice {kept}, which stays")
    rows = page.locator("#order-invoices tbody tr")
    expect(rows).to_have_count(2)
    by_number = {row_cells(rows.nth(i))[0]: (i, row_cells(rows.nth(i))) for i in range(2)}
    assert by_number[kept][1][1] == "linked — stays" and by_number[extra][1][1] == "extra", by_number
    expect(rows.nth(by_number[kept][0]).get_by_role("button")).to_have_count(0)
    cancel = page.get_by_role("button", name=f"Cancel invoice {extra}")
    expect(cancel).to_be_enabled()
    screenshot(page, "credit-extra-invoice")
    stale = page.context.new_page()  # the same page open in a second tab, pressed after the first
    stale.goto(page.url)

    cancel.click()
    expect(page).to_have_url(re.compile(re.escape(entity_url) + "$"))
    done = page.locator(".messagelist li")
    expect(done).to_contain_text(f"Fortnox invoice {extra} was cancelled (it was not booked yet).")
    expect(done).not_to_have_class(re.compile(r"\b(error|warning)\b"))
    expect(page.locator(".field-status_badge")).to_contain_text("Synced")
    with fortnox.lock:
        assert fortnox.invoices[extra]["Cancelled"] and not fortnox.invoices[kept]["Cancelled"]

    page.go_back()  # read again: nothing left to credit
    expect(page.locator("#content-main")).to_contain_text("has no extra live invoice in Fortnox any more")
    expect(page.get_by_role("button", name=f"Cancel invoice {extra}")).to_have_count(0)

    stale.get_by_role("button", name=f"Cancel invoice {extra}").click()  # pressing twice must not act twice
    expect(stale.locator(".messagelist li")).to_contain_text(f"invoice {extra} was already cancelled or credited")
    page = stale
    credited = in_db(
        lambda: list(
            LogEntry.objects.filter(entity=entity, code="order.extra_invoice_credited").values_list("actor", flat=True)
        )
    )
    assert credited == [USERNAME, USERNAME], credited
    with fortnox.lock:
        assert not [i for i in fortnox.invoices.values() if i["Credit"] == "true"]
    expect(page.locator(".field-timeline tbody tr").filter(has_text="order.duplicate_invoice")).to_contain_text(extra)
    screenshot(page, "credit-extra-invoice-done")


# -- the Fortnox connector -------------------------------------------------------------------------------


@pytest.fixture
def fortnox_connector(world: World) -> Connector:
    connector = world_integration(world).connectors.get(system=Connector.System.FORTNOX)
    store_tokens(
        connector,
        {"access_token": "access-token-value-123", "refresh_token": "refresh-token-value-456", "expires_in": 3600},
    )
    return connector


def test_fortnox_connector_shows_its_grant_and_no_secret(fortnox_connector: Connector, page: Page):
    connector = fortnox_connector
    secrets = [
        *[value for key, value in NORCE_CREDENTIALS.items() if "secret" in key or "password" in key],
        FORTNOX_CREDENTIALS["client_secret"],
        "access-token-value-123",
        "refresh-token-value-456",
    ]
    assert len(secrets) == 6

    url = reverse("admin:integrations_connector_change", args=[connector.pk])
    page.goto(url)
    grant = page.locator(".form-row.field-grant_status")
    expect(grant.locator("label")).to_have_text(re.compile(r"^Grant"))
    expect(grant.locator(".readonly")).to_have_text(fortnox_settings.GRANTS[fortnox_settings.AUTHORIZATION_CODE])
    expect(page.get_by_label("OAuth grant")).to_have_value(fortnox_settings.AUTHORIZATION_CODE)
    stored = page.locator(".field-credential_status table")
    expect(stored.get_by_role("row").filter(has_text="set")).not_to_have_count(0)
    html = page.content()
    for secret in secrets:
        assert secret not in html, f"{secret!r} is in the connector page"
    screenshot(page, "fortnox-connector")

    connector.settings = {
        **(connector.settings or {}),
        "grant": fortnox_settings.CLIENT_CREDENTIALS,
        "tenant_id": "1234567",
    }
    in_db(lambda: connector.save(update_fields=["settings"]))
    page.goto(url)
    expected = fortnox_settings.parse_auth_settings(connector.settings).label
    assert expected.startswith(fortnox_settings.GRANTS[fortnox_settings.CLIENT_CREDENTIALS]) and "1234567" in expected
    expect(page.locator(".form-row.field-grant_status .readonly")).to_have_text(expected)
    expect(page.get_by_label("OAuth grant")).to_have_value(fortnox_settings.CLIENT_CREDENTIALS)
    html = page.content()
    for secret in secrets:
        assert secret not in html, f"{secret!r} is in the connector page"


def test_connect_to_fortnox_is_a_post_button_not_a_link(fortnox_connector: Connector, page: Page):
    connector = fortnox_connector
    connect_url = reverse("admin:integrations_connector_oauth_connect", args=[connector.pk, "fortnox"])
    page.goto(reverse("admin:integrations_connector_change", args=[connector.pk]))
    tools = page.locator(".object-tools")
    button = tools.get_by_role("button", name="Connect to Fortnox")
    expect(button).to_be_visible()
    expect(tools.get_by_role("link", name="Connect to Fortnox")).to_have_count(0)
    expect(page.locator(f'a[href="{connect_url}"]')).to_have_count(0)
    form = tools.locator("form").filter(has=page.get_by_role("button", name="Connect to Fortnox"))
    expect(form).to_have_attribute("method", "post")
    expect(form).to_have_attribute("action", connect_url)
    expect(form.locator('input[name="csrfmiddlewaretoken"]')).to_have_count(1)
    screenshot(page, "fortnox-connect-button")

    assert page.request.get(connect_url, max_redirects=0).status == 405

    consent: list[str] = []

    def fortnox_consent(route) -> None:
        consent.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<h1>Fortnox consent</h1>")

    page.route("**/oauth-v1/auth?**", fortnox_consent)
    button.click()
    expect(page.get_by_role("heading", name="Fortnox consent")).to_be_visible()
    (url,) = consent
    params = parse_qs(urlsplit(url).query)
    assert params["client_id"] == [FORTNOX_CREDENTIALS["client_id"]] and params["response_type"] == ["code"]
    assert params["redirect_uri"][0].endswith(reverse("fortnox-oauth-callback")) and params["state"][0]


# -- the API docs --------------------------------------------------------------------------------------


def test_api_docs_render_swagger_ui_from_local_static_files(page: Page, world: World):
    server = urlsplit(world.base).netloc
    page.goto("about:blank")
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.goto("/api/docs/", wait_until="load")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Brygga status API")
    operation = page.locator(".opblock-summary-path").filter(has_text=re.compile(r"^/api/v1/tasks/$"))
    expect(operation.first).to_be_visible()
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, "api-docs")

    tasks = page.locator(".opblock").filter(has=operation)
    operation.first.click()
    tasks.get_by_role("button", name="Try it out").click()
    tasks.get_by_role("button", name="Execute").click()
    expect(tasks.locator(".live-responses-table tr.response td.response-col_status")).to_have_text("200")
    expect(tasks.locator(".live-responses-table tr.response td.response-col_description")).to_contain_text('"count"')

    assert requested, "no request was recorded"
    elsewhere = [
        url for url in requested if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != server
    ]
    assert not elsewhere, elsewhere
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in requested), requested
    assert any(urlsplit(url).path == "/api/schema/" for url in requested), requested
    assert not failed, failed


def test_a_connector_that_must_be_reconnected_is_named_on_the_index_the_list_and_its_page(
    fortnox_connector: Connector, page: Page, world: World
):
    from integrations.engine.tokens import mark_reconnect_needed

    in_db(
        lambda: mark_reconnect_needed(
            fortnox_connector, "Fortnox refused the authorisation (invalid_grant: Invalid refresh token.)"
        )
    )
    page.goto("/admin/")
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("link", name="Reconnect Fortnox")).to_be_visible()
    expect(alert).to_contain_text(world.integration_name)
    expect(alert).to_contain_text("0 tasks waiting; they go on by themselves once it is connected")
    screenshot(page, "index-reconnect-needed")

    page.goto(reverse("admin:integrations_integration_changelist"))
    expect(page.locator("#result_list").get_by_role("link", name="Reconnect Fortnox")).to_be_visible()
    screenshot(page, "integrations-reconnect-needed")

    page.goto("/admin/")
    page.get_by_role("alert").get_by_role("link", name="Reconnect Fortnox").click()
    expect(page.locator(".messagelist .error")).to_contain_text("Invalid refresh token")
    expect(page.locator(".messagelist .error")).to_contain_text("press 'Connect to Fortnox' below")
    expect(page.locator(".field-token_status .readonly")).to_contain_text("Reconnect Fortnox since")
    expect(page.get_by_role("button", name="Connect to Fortnox")).to_be_visible()
    assert "refresh-token-value-456" not in page.content()
    screenshot(page, "connector-reconnect-needed")
