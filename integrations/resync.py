"""Full-file resyncs: the whole catalogue from the ERP into the webshop as a full file (Norce:
``FullFile=true``).

A full file must be one import per method (the catalogue deactivates what a full file leaves
out), yet a catalogue can hold a million SKUs. So a run goes in checkpointed steps:

1. **reading** — the source is read page by page; each page's mapped items are appended
   to a gzip spool file as one gzip member, and the page number and the file's size are
   committed after it. An interrupted run truncates the spool to the last committed size
   and reads on from the next page.
2. **sending** — one streamed request per method: the JSON array is generated from the
   spool while it is sent (chunked), so memory stays flat whatever the size. The JobId
   is kept as a ConnectJob; a run killed while sending sends again (an import is an upsert).
3. **following** — the job is followed until the target reports its end.

The same steps serve ``manage.py resync --full`` (in one process, with a progress bar)
and scheduled or admin-started full files (as tasks, in slices that hand over between
steps so workers stay free). ``dry_run`` reads and maps without writing anything.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from core.errors import SyncError
from core.ports import CATALOGUE_TARGET, MASTER_DATA_SOURCE, CatalogueTarget, MasterDataSource
from core.records import canonical_json, changed_fields
from integrations import services
from integrations.flows import connect_jobs
from integrations.flows.master_settings import FlowSettings
from integrations.flows.master_source import read_source, record_mapping_error
from integrations.models import ConnectJob, Entity, Flow, LogEntry, ResyncRun, Task

Progress = Callable[["RunProgress"], None]


@dataclass
class RunProgress:
    phase: str
    pages_done: int = 0
    total_pages: int | None = None
    items: int = 0
    sent: int = 0
    started: float = field(default_factory=time.monotonic)


def spool_dir() -> Path:
    path = Path(django_settings.BRYGGA.get("SPOOL_DIR") or (Path(django_settings.BASE_DIR) / "var" / "spool"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def active_run(flow: Flow) -> ResyncRun | None:
    return ResyncRun.objects.filter(flow=flow, status__in=ResyncRun.ACTIVE).order_by("-pk").first()


def start_or_resume(flow: Flow) -> ResyncRun:
    """The flow's unfinished run (resumed) or a new one."""
    with transaction.atomic():
        run = (
            ResyncRun.objects.select_for_update().filter(flow=flow, status__in=ResyncRun.ACTIVE).order_by("-pk").first()
        )
        if run is not None:
            return run
        run = ResyncRun.objects.create(integration_id=flow.integration_id, flow=flow)
        run.spool_path = str(spool_dir() / f"resync-{run.pk}.jsonl.gz")
        run.save(update_fields=["spool_path"])
        return run


# -- step 1: reading into the spool ------------------------------------------------------------
def read_into_spool(
    ctx,
    run: ResyncRun,
    flow: Flow,
    settings: FlowSettings,
    source: MasterDataSource,
    *,
    progress: Progress | None = None,
    deadline: float | None = None,
    state: RunProgress | None = None,
) -> bool:
    """Append the source's pages to the spool from where the run stopped. True when all are read."""
    path = Path(run.spool_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if run.spool_offset and (not path.exists() or path.stat().st_size < run.spool_offset):
        # The spool is gone (another machine, a cleaned disk): read from the start again.
        run.pages_done, run.items, run.spool_offset, run.fields = 0, 0, 0, []
    with open(path, "ab") as spool:
        spool.truncate(run.spool_offset)  # drop a page written but never committed
        spool.seek(run.spool_offset)
        keys = set(run.fields)
        target = ctx.port(CATALOGUE_TARGET)
        for batch in read_source(flow, settings, source, target, since=None, start_page=run.pages_done + 1):
            lines = []
            for record in batch.records:
                keys.update(record.fields)
                lines.append(canonical_json([record.method, target.spool_item(record)]).encode("utf-8"))
            if lines:
                spool.write(gzip.compress(b"\n".join(lines) + b"\n", compresslevel=3))
                spool.flush()
                os.fsync(spool.fileno())
            for source_id, reference, error in batch.errors:
                record_mapping_error(ctx, flow, None, source_id, reference, error)
            run.pages_done, run.total_pages = batch.page, batch.total_pages
            run.items += len(lines)
            run.spool_offset = spool.tell()
            run.fields = sorted(keys)
            ResyncRun.objects.filter(pk=run.pk).update(
                pages_done=run.pages_done,
                total_pages=run.total_pages,
                items=run.items,
                spool_offset=run.spool_offset,
                fields=run.fields,
                updated_at=timezone.now(),
            )
            ctx.heartbeat()
            if progress and state:
                state.pages_done, state.total_pages, state.items = run.pages_done, run.total_pages, run.items
                progress(state)
            if deadline is not None and time.monotonic() > deadline and batch.page < batch.total_pages:
                return False
    run.status = ResyncRun.Status.SENDING
    ResyncRun.objects.filter(pk=run.pk).update(status=run.status, updated_at=timezone.now())
    return True


def spooled_items(path: str, method: str) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rb") as spool:
        for line in spool:
            if line.strip():
                item_method, item = json.loads(line)
                if item_method == method:
                    yield item


# -- step 2: sending the full file ---------------------------------------------------------------
def send_spool(
    ctx,
    run: ResyncRun,
    flow: Flow,
    target: CatalogueTarget,
    *,
    progress: Progress | None = None,
    state: RunProgress | None = None,
) -> None:
    done_methods = set(ConnectJob.objects.filter(pk__in=run.job_ids).values_list("method", flat=True))
    for method in target.full_file_methods(run.fields):
        if method in done_methods:
            continue
        counter = {"items": 0}

        def items(method: str = method, counter: dict[str, int] = counter) -> Iterator[dict[str, Any]]:
            counter["items"] = 0
            for item in spooled_items(run.spool_path, method):
                counter["items"] += 1
                if progress and state and counter["items"] % 10000 == 0:
                    state.sent = counter["items"]
                    progress(state)
                yield item

        accepted = target.send_full_file(method, run.fields, items)
        header = accepted.header
        with transaction.atomic():
            job, _ = ConnectJob.objects.update_or_create(
                integration_id=flow.integration_id,
                job_id=accepted.job_id,
                defaults=dict(
                    flow=flow,
                    task=ctx.task,
                    method=method,
                    item_count=counter["items"],
                    header=header,
                    full_file=bool(header.get("FullFile")),
                    status=ConnectJob.Status.QUEUED,
                ),
            )
            run.job_ids = [*run.job_ids, job.pk]
            ResyncRun.objects.filter(pk=run.pk).update(job_ids=run.job_ids, updated_at=timezone.now())
        ctx.log(
            LogEntry.Level.INFO,
            f"Full file {method}: {counter['items']} item(s) sent as {target.name} job {accepted.job_id}",
            data_type=flow.data_type,
            details={"job_id": accepted.job_id, "header": header},
        )
        if progress and state:
            state.sent = counter["items"]
            progress(state)
    run.status = ResyncRun.Status.FOLLOWING
    ResyncRun.objects.filter(pk=run.pk).update(status=run.status, updated_at=timezone.now())


# -- step 3: following the jobs --------------------------------------------------------------------
def follow_run(ctx, run: ResyncRun, target: CatalogueTarget) -> bool:
    """Check the run's jobs once; finish the run when all ended. True when finished."""
    jobs = list(ConnectJob.objects.filter(pk__in=run.job_ids))
    for job in jobs:
        if job.status in connect_jobs.OPEN:
            connect_jobs.check(ctx, target, job)
    jobs = list(ConnectJob.objects.filter(pk__in=run.job_ids))
    if any(job.status in connect_jobs.OPEN for job in jobs):
        return False
    failed = [job for job in jobs if job.status == ConnectJob.Status.FAILED]
    run.status = ResyncRun.Status.FAILED if failed else ResyncRun.Status.DONE
    run.error = "; ".join(f"job {job.job_id} failed" for job in failed)
    run.finished_at = timezone.now()
    ResyncRun.objects.filter(pk=run.pk).update(status=run.status, error=run.error, finished_at=run.finished_at)
    try:
        os.remove(run.spool_path)
    except OSError:
        pass
    return True


def full_file(
    ctx,
    flow: Flow,
    settings: FlowSettings,
    target: CatalogueTarget,
    source: MasterDataSource,
    *,
    progress: Progress | None = None,
    deadline: float | None = None,
    follow_timeout: float = 3600.0,
) -> ResyncRun:
    """Run (or resume) the flow's full file as far as `deadline` allows."""
    run = start_or_resume(flow)
    state = RunProgress(phase=run.status, pages_done=run.pages_done, total_pages=run.total_pages, items=run.items)
    if run.status == ResyncRun.Status.READING:
        state.phase = "reading"
        if not read_into_spool(ctx, run, flow, settings, source, progress=progress, deadline=deadline, state=state):
            return run
    if run.status == ResyncRun.Status.SENDING:
        state.phase = "sending"
        send_spool(ctx, run, flow, target, progress=progress, state=state)
    if run.status == ResyncRun.Status.FOLLOWING:
        state.phase = "following"
        if progress:
            progress(state)
        limit = time.monotonic() + follow_timeout
        delay = 0.5
        while not follow_run(ctx, run, target):
            if (deadline is not None and time.monotonic() > deadline) or time.monotonic() > limit:
                return run
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
        state.phase = run.status
        if progress:
            progress(state)
    return run


def run_full_file_slice(ctx, flow: Flow, settings: FlowSettings, target: CatalogueTarget) -> None:
    """A task's share of a full file; what is left continues in a follow-up task."""
    deadline = time.monotonic() + services.slice_seconds()
    run = full_file(ctx, flow, settings, target, ctx.port(MASTER_DATA_SOURCE), deadline=deadline)
    if run.status in ResyncRun.ACTIVE:
        delay = 10 if run.status == ResyncRun.Status.FOLLOWING else 0
        services.queue_follow_up(flow, {"mode": "full"}, at=timezone.now() + timedelta(seconds=delay))
    elif run.status == ResyncRun.Status.FAILED:
        raise SyncError(
            target.job_failed_code,
            f"Full file for {flow} failed: {run.error}",
            hint=f"Restart the {target.name} job from the Connect jobs list, or start the full file again.",
        )


# -- dry runs --------------------------------------------------------------------------------------
@dataclass
class DryRunReport:
    read: int = 0
    would_send: int = 0
    unchanged: int = 0
    errors: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    fields: set[str] = field(default_factory=set)
    would_deactivate: int | None = None
    deactivate_basis: str = ""
    error_samples: list[str] = field(default_factory=list)


def dry_run(
    flow: Flow,
    settings: FlowSettings,
    source: MasterDataSource,
    target: CatalogueTarget,
    *,
    full: bool,
    since=None,
    progress: Progress | None = None,
) -> DryRunReport:
    """What a resync would send (and, for a full file, deactivate); nothing is written anywhere."""
    report = DryRunReport()
    if not full and since is None:
        cursor = services.get_cursor(flow.integration, flow.data_type, flow.direction)
        since = cursor - timedelta(minutes=settings.overlap_minutes) if cursor else None
    feed: set[str] = set()
    state = RunProgress(phase="reading (dry run)")
    for batch in read_source(flow, settings, source, target, since=None if full else since):
        report.read += batch.read
        report.errors += len(batch.errors)
        report.error_samples.extend(f"{e[1]}: {e[2].message}" for e in batch.errors[: 3 - len(report.error_samples)])
        known = (
            {}
            if full
            else {
                e.source_id: e
                for e in Entity.objects.filter(
                    integration_id=flow.integration_id,
                    data_type=flow.data_type,
                    source_id__in=[r.source_id for r in batch.records],
                )
            }
        )
        for record in batch.records:
            if full:
                feed.add(record.reference or record.source_id)
                keys = set(record.fields)
            else:
                entity = known.get(record.source_id)
                confirmed = ((entity.sent_payload or {}).get("fields") or {}) if entity else {}
                keys = (
                    set(record.fields)
                    if not (entity and entity.sent_hash)
                    else changed_fields(record.fields, confirmed)
                )
                if not keys:
                    report.unchanged += 1
                    continue
            report.would_send += 1
            report.fields |= keys
            report.by_method[record.method] = report.by_method.get(record.method, 0) + 1
        state.pages_done, state.total_pages, state.items = batch.page, batch.total_pages, report.read
        if progress:
            progress(state)
    if full:
        report.would_deactivate, report.deactivate_basis = _would_deactivate(flow, settings, target, feed)
    return report


def _would_deactivate(
    flow: Flow, settings: FlowSettings, target: CatalogueTarget, feed: set[str]
) -> tuple[int | None, str]:
    if flow.kind == "products_to_commerce":
        count = sum(1 for part_no in target.active_products() if part_no not in feed)
        return count, f"active SKUs in {target.name} missing from the feed"
    if flow.kind in ("prices_to_commerce", "stock_to_commerce"):
        count = sum(
            1
            for source_id in Entity.objects.filter(
                integration_id=flow.integration_id,
                data_type=flow.data_type,
                payload__flow_id=flow.pk,
                status=Entity.Status.SYNCED,
            )
            .values_list("source_id", flat=True)
            .iterator()
            if source_id.split("@", 1)[0] not in feed
        )
        return count, f"rows Brygga has sent to {target.name} that are missing from the feed"
    return None, f"customers have no full file in {target.name}: nothing is deactivated"


def command_task(flow: Flow, params: dict[str, Any]) -> Task:
    """A Task row for a run started from the command line (it runs in that process)."""
    now = timezone.now()
    return Task.objects.create(
        integration_id=flow.integration_id,
        flow=flow,
        trigger=Task.Trigger.RESYNC,
        params=params,
        status=Task.Status.RUNNING,
        attempts=1,
        max_attempts=1,
        started_at=now,
        heartbeat_at=now,
        worker=services.worker_name()[:100],
    )
