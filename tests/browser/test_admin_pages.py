"""The admin as a support person sees it in Chromium: styled, with each page's essentials visible."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import World, screenshot

# Computed styles of the page: the admin header's background against the admin's own colour
# variable, and the body's font against the browser's default font.
STYLE = """() => {
    const probe = document.createElement("div");
    probe.style.backgroundColor = "var(--header-bg)";
    probe.style.fontFamily = "var(--font-family-primary)";
    document.body.appendChild(probe);
    const fallback = document.createElement("div");
    fallback.style.fontFamily = "initial";
    document.body.appendChild(fallback);
    const style = {
        headerBackground: getComputedStyle(document.querySelector("#header")).backgroundColor,
        headerVariable: getComputedStyle(probe).backgroundColor,
        bodyFont: getComputedStyle(document.body).fontFamily,
        adminFont: getComputedStyle(probe).fontFamily,
        defaultFont: getComputedStyle(fallback).fontFamily,
        stylesheets: document.styleSheets.length,
    };
    probe.remove();
    fallback.remove();
    return style;
}"""
TRANSPARENT = "rgba(0, 0, 0, 0)"
# Whether the page, or any box on it (the admin wraps result tables in one), scrolls sideways.
SIDEWAYS_SCROLL = """() => [document.documentElement, ...document.querySelectorAll("body *")].some(
    (box) => box.scrollWidth > box.clientWidth + 1 && (box === document.documentElement
        || ["auto", "scroll"].includes(getComputedStyle(box).overflowX)))"""
# Whether an element lies wholly inside the window and inside every box that clips it.
FULLY_IN_VIEW = """(element) => {
    const own = element.getBoundingClientRect();
    if (own.left < 0 || own.right > window.innerWidth) return false;
    for (let box = element.parentElement; box; box = box.parentElement) {
        if (getComputedStyle(box).overflowX === "visible") continue;
        const clip = box.getBoundingClientRect();
        if (own.left < clip.left - 1 || own.right > clip.right + 1) return false;
    }
    return true;
}"""


def test_admin_index_has_the_admin_stylesheet_applied(page: Page, world: World):
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    expect(page.get_by_role("link", name="Integrations").first).to_be_visible()
    screenshot(page, "admin-index")
    style = page.evaluate(STYLE)
    assert style["stylesheets"] > 0
    assert style["headerBackground"] != TRANSPARENT, style
    assert style["headerBackground"] == style["headerVariable"], style
    assert style["bodyFont"] == style["adminFont"] != style["defaultFont"], style


def test_integration_page_shows_its_flows(page: Page, world: World):
    page.goto(world.integration_url)
    expect(page.get_by_role("heading", name=re.compile("Change integration"))).to_be_visible()
    flows = page.locator("table").filter(has=page.get_by_role("columnheader", name="Backlog"))
    expect(flows).to_be_visible()
    for label in (
        "Orders → ERP invoices",
        "Products ERP → Norce",
        "Prices ERP → Norce",
        "Stock ERP → Norce",
        "Customers ERP → Norce",
    ):
        expect(flows.get_by_role("row").filter(has_text=label)).to_be_visible()
    screenshot(page, "integration")
    assert page.evaluate(STYLE)["headerBackground"] != TRANSPARENT


def test_needs_attention_task_shows_its_record_errors(page: Page, world: World):
    page.goto(world.task_url)
    expect(page.get_by_text("Needs attention", exact=True).first).to_be_visible()
    errors = page.locator("table").filter(has=page.get_by_role("columnheader", name="Hint"))
    expect(errors).to_be_visible()
    row = errors.get_by_role("row").filter(has_text=world.task_code)
    expect(row.get_by_text(world.task_code)).to_be_visible()
    expect(row.get_by_text(world.task_hint)).to_be_visible()
    record = row.get_by_role("link", name=re.compile(world.order_number))
    expect(record).to_be_visible()
    screenshot(page, "task-needs-attention")

    record.click()
    expect(page.get_by_text(world.order_number).first).to_be_visible()
    assert "/admin/integrations/entity/" in page.url

    page.goto(world.task_list_url)
    task_row = page.locator("#result_list tbody tr").filter(has_text="Needs attention")
    expect(task_row.get_by_text(world.task_code)).to_be_visible()
    expect(task_row.get_by_text(world.order_number)).to_be_visible()
    screenshot(page, "task-list")
    assert not page.evaluate(SIDEWAYS_SCROLL), "the task list scrolls sideways at 1440 px"
    for text in (world.task_code, world.order_number):
        assert page.evaluate(FULLY_IN_VIEW, task_row.get_by_text(text).element_handle()), f"{text} is cut off"


def test_connect_job_page_shows_what_happened_to_its_rows(page: Page, world: World):
    page.goto(world.job_url)
    expect(page.get_by_text("Partly failed", exact=True).first).to_be_visible()
    for label, value in (("Rows written", "1"), ("Rows ignored", "1"), ("Rows rejected", "0")):
        field = page.locator(".form-row").filter(has=page.locator("label", has_text=re.compile(rf"^{label}")))
        expect(field.locator(".readonly")).to_have_text(value)
    messages = page.locator("table").filter(has=page.get_by_role("columnheader", name="Message"))
    message = messages.get_by_role("row").filter(has_text="SKU does not exist")
    expect(message).to_be_visible()
    expect(message.get_by_role("link", name=world.sku)).to_be_visible()
    screenshot(page, "connect-job")


@pytest.mark.parametrize("path", ["/admin/", "/admin/integrations/task/", "/admin/integrations/connectjob/"])
def test_admin_pages_load_their_stylesheets_and_scripts_without_errors(page: Page, world: World, path: str):
    failed: list[str] = []
    aborted: list[str] = []
    page.on(
        "response", lambda r: failed.append(f"{r.status} {r.url}") if "/static/" in r.url and r.status >= 400 else None
    )
    # Chromium cancels an image the page stops needing while it loads (net::ERR_ABORTED, e.g. an
    # icon of the sidebar as its script settles); such a file must still be there when asked for.
    page.on(
        "requestfailed",
        lambda r: (aborted if r.failure == "net::ERR_ABORTED" else failed).append(
            r.url if r.failure == "net::ERR_ABORTED" else f"failed {r.url}: {r.failure}"
        ),
    )
    page.goto(path, wait_until="load")
    page.wait_for_load_state("networkidle")
    for url in aborted:
        answer = page.request.get(url)
        if answer.status != 200:
            failed.append(f"{answer.status} {url} (cancelled on the page)")
    assert not failed, failed


def test_connect_job_list_shows_each_jobs_rows_without_sideways_scrolling(page: Page, world: World):
    page.goto("/admin/integrations/connectjob/")
    row = page.locator("#result_list tbody tr").filter(has_text=world.job_id)
    expect(row.get_by_text("Partly failed", exact=True)).to_be_visible()
    outcome = row.locator("td.field-rows")
    for line in ("1\u00a0written", "1\u00a0ignored", "0\u00a0rejected"):
        expect(outcome).to_contain_text(line)
    screenshot(page, "connect-job-list")
    assert not page.evaluate(SIDEWAYS_SCROLL), "the Connect job list scrolls sideways at 1440 px"
    assert page.evaluate(FULLY_IN_VIEW, outcome.element_handle()), "the rows' outcome is cut off"
