"""`manage.py resync … --full`: a full file makes Norce equal to Fortnox, a dry run changes
nothing, and a run killed while reading resumes where it stopped."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

import pytest
from django.core.management import call_command

from integrations.models import ConnectJob, Entity, ResyncRun, Task
from tests.e2e.harness import ROOT, child_database_url, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def spool(settings, tmp_path):
    settings.BRYGGA = {**settings.BRYGGA, "SPOOL_DIR": str(tmp_path)}
    return tmp_path


def resync(integration, *args: str) -> str:
    out = io.StringIO()
    call_command("resync", str(integration.pk), "products", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_a_full_file_makes_norce_equal_to_fortnox(wired, master_flows, norce, fortnox, spool):
    norce.connect.seed_skus(["OLD-1", {"PartNo": "OLD-2", "Status": "Active"}])

    output = resync(wired, "--full")

    run = ResyncRun.objects.get()
    assert run.status == ResyncRun.Status.DONE, output
    assert f"Full file #{run.pk} done" in output
    (full,) = [i for i in norce.connect.imports if i["full_file"]]
    assert len(norce.connect.imports) == 1
    assert full["method"] == "ImportProducts"
    assert full["count"] == run.items == len(fortnox.articles)
    job = ConnectJob.objects.get()
    assert job.full_file and job.status == ConnectJob.Status.SUCCEEDED
    assert norce.connect.jobs[int(job.job_id)]["StatusId"] == 2
    # What only Norce had is Inactive; every Fortnox article is there, active as in Fortnox.
    assert norce.connect.sku("OLD-1")["Status"] == 5
    assert norce.connect.sku("OLD-2")["Status"] == 5
    for number, article in fortnox.articles.items():
        sku = norce.connect.sku(number)
        assert sku is not None, number
        assert sku["Status"] == (1 if article["Active"] else 5), number
        assert norce.connect.product_of(number)["Cultures"]["sv-SE"]["Name"] == article["Description"]
    assert not os.path.exists(run.spool_path)


def test_a_dry_run_changes_nothing_and_reports_what_it_would_deactivate(wired, master_flows, norce, fortnox, spool):
    norce.connect.seed_skus(["OLD-1", "OLD-2", "OLD-3"])
    tasks = Task.objects.count()

    output = resync(wired, "--full", "--dry-run")

    assert "Dry run (full file): nothing was sent or changed." in output
    match = re.search(r"would deactivate:\s+([\d,]+)", output)
    assert match, output
    assert int(match.group(1).replace(",", "")) >= 3
    read = int(re.search(r"read from the ERP:\s+([\d,]+)", output).group(1).replace(",", ""))
    assert read == len(fortnox.articles)
    assert norce.connect.imports == []
    assert not Entity.objects.exists()
    assert not ConnectJob.objects.exists()
    assert not ResyncRun.objects.exists()
    assert Task.objects.count() == tasks
    assert norce.connect.sku("OLD-1")["Status"] == 1
    assert list(spool.iterdir()) == []


def _command(integration) -> list[str]:
    return [sys.executable, "manage.py", "resync", str(integration.pk), "products", "--full", "--no-progress"]


def _env() -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": child_database_url(), "PYTHONUNBUFFERED": "1"}


def test_a_full_file_killed_while_reading_resumes_where_it_stopped(wired, master_flows, norce, fortnox):
    fortnox.seed_generated(20000)  # 40 pages of 500 under Fortnox's 25 requests per 5 s
    assert fortnox.limiter.enabled
    expected = len(fortnox.articles) + 20000

    first = subprocess.Popen(_command(wired), cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        run = wait_until(
            lambda: ResyncRun.objects.filter(pages_done__gt=0).first() or first.poll() is not None,
            timeout=120,
            interval=0.05,
            message="the first page spooled",
        )
        assert isinstance(run, ResyncRun), f"the command ended before it could be killed: {first.communicate()[0]!r}"
        first.kill()  # SIGKILL: no cleanup
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
    run.refresh_from_db()
    assert run.status == ResyncRun.Status.READING
    assert 0 < run.pages_done < run.total_pages, (run.pages_done, run.total_pages)
    killed_at = run.pages_done
    assert norce.connect.imports == []

    started = time.monotonic()
    second = subprocess.run(_command(wired), cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    resumed = re.search(r"Resuming full file #(\d+) \(reading, (\d+) page\(s\)", second.stdout)
    assert resumed, second.stdout
    assert int(resumed.group(1)) == run.pk
    assert int(resumed.group(2)) >= killed_at  # not from page 0
    assert time.monotonic() - started < 300

    run.refresh_from_db()
    assert ResyncRun.objects.count() == 1
    assert run.status == ResyncRun.Status.DONE
    assert run.pages_done == run.total_pages
    assert run.items == expected
    # Pages read before the kill were not read again (at most the one in flight).
    article_pages = [p for _, m, p in fortnox.requests_seen if m == "GET" and p == "/3/articles"]
    assert len(article_pages) <= run.total_pages + 1, (len(article_pages), run.total_pages)

    (full,) = norce.connect.imports
    assert full["full_file"] is True and full["method"] == "ImportProducts"
    assert full["count"] == expected
    assert norce.connect.wait_idle(60)
    assert norce.connect.counts()["skus"] == expected
    for number in ("G00000001", "G00010000", "G00020000", *list(fortnox.articles)[:5]):
        assert norce.connect.sku(number)["Status"] == 1, number
    assert ConnectJob.objects.get().status == ConnectJob.Status.SUCCEEDED
