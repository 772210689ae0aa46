"""Browser tests: Debian's Chromium, driven by Playwright, against a live Brygga with a small world.

The browser is the system's `chromium` package (`.ci/run` installs it); nothing is downloaded.
Without it these tests fail, they are never skipped."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test.testcases import LiveServerThread
from django.urls import reverse
from django.utils import timezone

from connectors.fortnox import errors as fortnox_errors
from integrations.demo import add_master_data_flows
from integrations.models import ConnectJob, Entity, LogEntry, Task
from tests.conftest import build_integration

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
USERNAME, PASSWORD = "support", "support-password-1"


@dataclass(frozen=True)
class World:
    """What the pages should show, read from the database before the browser starts."""

    base: str
    integration_url: str
    integration_name: str
    task_url: str
    task_list_url: str
    task_code: str
    task_hint: str
    order_number: str
    job_url: str
    job_id: str
    sku: str


def _admin(model: type, action: str, *args: object) -> str:
    return reverse(f"admin:integrations_{model._meta.model_name}_{action}", args=args)


@pytest.fixture
def site(transactional_db) -> Iterator[str]:
    """Brygga over real HTTP, served as a WSGI server serves it in production: its own middleware
    (WhiteNoise) answers for the static files, not a test server's static handler."""
    server = LiveServerThread("127.0.0.1", static_handler=lambda application: application)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    yield f"http://127.0.0.1:{server.port}"
    server.terminate()


@pytest.fixture
def world(site: str) -> World:
    """A support user, an integration with its flows, a task that needs attention because an
    order names an article Fortnox lacks, and a Connect job where Norce ignored a row."""
    get_user_model().objects.create_superuser(USERNAME, "support@example.com", PASSWORD)
    integration = build_integration(name="Webshop ↔ Fortnox")
    orders = integration.flows.get(kind="orders_to_erp")
    flows = add_master_data_flows(integration)
    now = timezone.now()

    code, hint = fortnox_errors.ARTICLE_NOT_FOUND.code, fortnox_errors.ARTICLE_NOT_FOUND.hint
    task = Task.objects.create(
        integration=integration,
        flow=orders,
        trigger=Task.Trigger.ORDER_PUSH,
        status=Task.Status.NEEDS_ATTENTION,
        created_at=now - timedelta(minutes=5),
        started_at=now - timedelta(minutes=5),
        finished_at=now - timedelta(minutes=5) + timedelta(seconds=2),
        attempts=1,
        count_total=1,
        count_failed=1,
    )
    order = Entity.objects.create(
        integration=integration,
        data_type="order",
        source_id="700001",
        reference="700001",
        label="Anna Andersson",
        status=Entity.Status.NEEDS_ATTENTION,
        last_error_code=code,
        last_error_message="Order 700001: article SKI-PRO-190 does not exist in Fortnox",
        payload={"OrderNo": "700001"},
    )
    LogEntry.objects.create(
        integration=integration,
        task=task,
        entity=order,
        flow=orders,
        level=LogEntry.Level.ERROR,
        data_type="order",
        reference="700001",
        code=code,
        message="Order 700001: article SKI-PRO-190 does not exist in Fortnox",
        hint=hint,
    )

    prices = flows["prices_to_commerce"]
    price_rows = [
        Entity.objects.create(integration=integration, data_type="price", source_id=sku, reference=sku, status=status)
        for sku, status in (("SKI-PRO-170", Entity.Status.SYNCED), ("SKI-PRO-190", Entity.Status.FAILED))
    ]
    job = ConnectJob.objects.create(
        integration=integration,
        flow=prices,
        job_id="100001",
        method="Product/ImportSkuPriceLists",
        status=ConnectJob.Status.PARTLY_FAILED,
        status_id=4,
        item_count=2,
        updates=1,
        rows_written=1,
        rows_ignored=1,
        rows_rejected=0,
        created_at=now - timedelta(minutes=3),
        finished_at=now - timedelta(minutes=2),
        sent=[[row.pk, "hash", {"PartNo": row.reference}] for row in price_rows],
        messages=[{"SeverityId": 2, "Message": "Row ignored: SKU does not exist (SKI-PRO-190)", "ImportedRow": 2}],
    )

    return World(
        base=site,
        integration_url=_admin(type(integration), "change", integration.pk),
        integration_name=integration.name,
        task_url=_admin(Task, "change", task.pk),
        task_list_url=_admin(Task, "changelist"),
        task_code=code,
        task_hint=hint,
        order_number="700001",
        job_url=_admin(ConnectJob, "change", job.pk),
        job_id=job.job_id,
        sku="SKI-PRO-190",
    )


@pytest.fixture
def page(world: World, request: pytest.FixtureRequest) -> Iterator:
    """A Chromium page at 1440 × 900, logged in to the admin through its login form."""
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: install Debian's package "
            "(apt-get install chromium; .ci/run does it) — browser tests are not skipped."
        )
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=world.base)
            tab = context.new_page()
            tab.goto("/admin/login/?next=/admin/")
            tab.get_by_label("Username").fill(USERNAME)
            tab.get_by_label("Password").fill(PASSWORD)
            tab.get_by_role("button", name="Log in").click()
            expect(tab).to_have_url(re.compile(r"/admin/$"))
            yield tab
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """Save what the page shows, full length, under var/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
