"""Following a catalogue target's import jobs to their end, and restarting them.

A job is checked through the target (each check costs one of its requests — for Norce
Connect one of 60 a minute — so checks back off), or learnt from an event (Norce's
JobCompletedEvent). When it ends, its outcome (core.records.JobOutcome) is written on
every record it carried: confirmed (the fields become "what the target has"), marked
with the target's validation message, or failed to be sent again. Applying an outcome is
claimed with a conditional update, so two workers never apply it twice.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.errors import SyncError, lookup
from core.ports import CATALOGUE_TARGET, CatalogueTarget
from core.records import ERROR_SEVERITY as ERROR
from core.records import WARNING_SEVERITY as WARNING
from core.records import JobOutcome, as_int
from integrations import services
from integrations.engine.clients import connector_for, port_for
from integrations.flows import products_first
from integrations.models import ConnectJob, Entity, Flow, LogEntry

log = logging.getLogger("brygga.connect_jobs")

OPEN = (ConnectJob.Status.QUEUED, ConnectJob.Status.RUNNING)
# Seconds between checks of a job that is still running, by the number of checks made.
POLL_DELAYS = (5, 10, 20, 40, 60, 120, 300)
# With job events set up, jobs are still checked after this long in case an event was lost.
EVENT_SAFETY_NET = 300


def follow(ctx, flow: Flow, target: CatalogueTarget, *, wait: float, job_ids: list[int] | None = None) -> int:
    """Check the flow's open jobs, for up to `wait` seconds; schedule a follow-up for the rest.
    Returns how many jobs are still open."""
    deadline = time.monotonic() + wait
    delay = 1.0
    while True:
        # Only the columns a check needs: the stored request and records load when a job ends.
        jobs = list(
            ConnectJob.objects.filter(flow=flow, status__in=OPEN)
            .order_by("pk")
            .only("pk", "job_id", "checks", "status", "flow_id", "integration_id")
        )
        still_open = [job for job in jobs if not check(ctx, target, job)]
        ctx.heartbeat()
        if not still_open:
            return 0
        if time.monotonic() + delay > deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 8.0)
    if target.job_events:
        after = EVENT_SAFETY_NET
    else:
        fewest = min(job.checks for job in still_open)
        after = POLL_DELAYS[min(fewest, len(POLL_DELAYS) - 1)]
    services.queue_follow_up(flow, {"follow_jobs": True}, at=timezone.now() + timedelta(seconds=after))
    return len(still_open)


def check(ctx, target: CatalogueTarget, job: ConnectJob) -> bool:
    """Ask the target about one job; apply its outcome when it ended. True when it has ended."""
    outcome = target.job(job.job_id)
    now = timezone.now()
    ConnectJob.objects.filter(pk=job.pk).update(last_checked_at=now, checks=job.checks + 1, status_id=outcome.status_id)
    job.checks += 1
    if not outcome.finished:
        ConnectJob.objects.filter(pk=job.pk, status__in=OPEN).update(status=outcome.status)
        return False
    apply_result(ctx, job, outcome, target)
    return True


def apply_result(ctx, job: ConnectJob, outcome: JobOutcome, target: CatalogueTarget) -> bool:
    """Write a finished job's outcome onto its records, once. False if already applied."""
    with transaction.atomic():
        claimed = ConnectJob.objects.filter(pk=job.pk, status__in=OPEN).update(
            status=outcome.status,
            status_id=outcome.status_id,
            finished_at=timezone.now(),
            inserts=outcome.inserts,
            updates=outcome.updates,
            failures=outcome.failures,
            messages=outcome.messages[:1000],
            rows_written=outcome.written,
            rows_ignored=outcome.ignored,
            rows_rejected=outcome.rejected,
        )
        if not claimed:
            return False
        job.refresh_from_db()
        if not job.sent:
            _log_job(ctx, job, outcome, target)
        elif outcome.could_not_run:
            _fail_records(ctx, job, outcome, target)
        else:
            _confirm_records(ctx, job, _row_errors(job, outcome), _rows_ignored(job, outcome), target)
        if not outcome.could_not_run:
            _release_dependents(job)
    return True


def _release_dependents(job: ConnectJob) -> None:
    """A products job ended: prices and stock held back for its SKUs may go now."""
    if job.flow_id and job.flow.kind == "products_to_commerce":
        products_first.release_dependents(job.flow)


# After this many ignored attempts a row waits for a person instead of being sent again.
IGNORED_ATTEMPTS = 5


def _rows_ignored(job: ConnectJob, outcome: JobOutcome) -> dict[int, str]:
    """Entity id → the target's warning for rows it accepted but skipped (e.g. a price for an unknown SKU)."""
    ids = [row[0] for row in job.sent]
    return {ids[row - 1]: text for row, text in outcome.rows_ignored.items() if 1 <= row <= len(ids)}


def _log_job(ctx, job: ConnectJob, outcome: JobOutcome, target: CatalogueTarget) -> None:
    level = {
        ConnectJob.Status.SUCCEEDED: LogEntry.Level.INFO,
        ConnectJob.Status.PARTLY_FAILED: LogEntry.Level.WARNING,
    }.get(job.status, LogEntry.Level.ERROR)
    code = outcome.code
    errors = [m["Message"] for m in outcome.messages if m["SeverityId"] >= ERROR]
    text = (
        f"{target.name} job {job.job_id} ({job.method}, {job.item_count} items) {job.get_status_display().lower()}: "
        f"{job.rows_written} written, {job.rows_ignored} ignored, {job.rows_rejected} rejected"
    )
    if errors:
        text += f": {len(errors)} error(s), first: {errors[0]}"
    LogEntry.objects.create(
        integration_id=job.integration_id,
        task=ctx.task if ctx else None,
        flow_id=job.flow_id,
        level=level,
        code=code,
        message=text,
        data_type=_data_type(job),
        details={"job_id": job.job_id, "messages": outcome.messages[:50]},
    )


def _data_type(job: ConnectJob) -> str:
    return job.flow.data_type if job.flow_id else ""


def _row_errors(job: ConnectJob, outcome: JobOutcome) -> dict[int, str]:
    """Entity id → the target's error message, by row (1-based), else by the identifier named."""
    errors: dict[int, str] = {}
    ids = [row[0] for row in job.sent]
    unplaced = []
    for row, text in outcome.row_errors.items():
        if 1 <= row <= len(ids):
            errors.setdefault(ids[row - 1], text)
        else:
            unplaced.append(text)
    unplaced += outcome.unplaced_errors
    if unplaced:
        references = dict(Entity.objects.filter(pk__in=ids).values_list("reference", "pk"))
        for text in unplaced:
            for reference, entity_id in references.items():
                if reference and re.search(rf"(?<![\w-]){re.escape(reference)}(?![\w-])", text):
                    errors.setdefault(entity_id, text)
    return errors


def _confirm_records(
    ctx, job: ConnectJob, row_errors: dict[int, str], ignored: dict[int, str], target: CatalogueTarget
) -> None:
    entities = {e.pk: e for e in Entity.objects.select_for_update().filter(pk__in=[row[0] for row in job.sent])}
    now = timezone.now()
    resend = False
    logs: list[LogEntry] = []
    confirmed: list[Entity] = []
    for entity_id, digest, fields in job.sent:
        entity = entities.get(entity_id)
        if entity is None:
            continue
        current = entity.payload_hash == digest and entity.status in (
            Entity.Status.SENT,
            Entity.Status.PROCESSING,
            Entity.Status.FAILED,
        )
        if entity_id in ignored and entity_id not in row_errors:
            # Accepted but not applied: nothing is confirmed, the row goes again.
            message = f"{target.name} job {job.job_id} skipped the row: {ignored[entity_id]}"
            if current:
                entity.attempts += 1
                entity.status = (
                    Entity.Status.NEEDS_ATTENTION if entity.attempts >= IGNORED_ATTEMPTS else Entity.Status.FAILED
                )
                entity.last_error_code, entity.last_error_message = target.row_ignored_code, message[:2000]
                confirmed.append(entity)
                resend = True
            logs.append(_entry(ctx, job, entity, LogEntry.Level.WARNING, message, target.row_ignored_code))
            continue
        if entity_id in row_errors:
            message = f"{target.name} job {job.job_id}: {row_errors[entity_id]}"
            if current:
                entity.status = Entity.Status.NEEDS_ATTENTION
                entity.last_error_code, entity.last_error_message = target.row_rejected_code, message[:2000]
                confirmed.append(entity)
            logs.append(_entry(ctx, job, entity, LogEntry.Level.ERROR, message, target.row_rejected_code))
            if ctx:
                ctx.failed += 1
            continue
        sent_payload = dict(entity.sent_payload or {})
        sent_fields = dict(sent_payload.get("fields") or {})
        sent_fields.update(fields)
        entity.sent_payload = {**sent_payload, "fields": sent_fields}
        if current:
            entity.status, entity.synced_at = Entity.Status.SYNCED, now
            entity.sent_hash = digest
            entity.last_error_code = entity.last_error_message = ""
        confirmed.append(entity)
        logs.append(
            _entry(
                ctx,
                job,
                entity,
                LogEntry.Level.EXPORTED,
                f"In {target.name} (job {job.job_id}): {', '.join(sorted(fields)) or 'no changes'}",
                "",
            )
        )
        if ctx:
            ctx.succeeded += 1
    Entity.objects.bulk_update(
        confirmed,
        ["status", "synced_at", "sent_hash", "sent_payload", "last_error_code", "last_error_message", "attempts"],
    )
    LogEntry.objects.bulk_create(logs)
    if resend and job.flow_id:
        services.queue_follow_up(job.flow, {"send_only": True}, at=timezone.now() + timedelta(seconds=60))


def _fail_records(ctx, job: ConnectJob, outcome: JobOutcome, target: CatalogueTarget) -> None:
    reason = outcome.first_error or "no reason given"
    message = f"{target.name} job {job.job_id} failed: {reason}"
    code = target.job_failed_code
    entities = list(Entity.objects.filter(pk__in=[row[0] for row in job.sent]))
    hashes = {row[0]: row[1] for row in job.sent}
    current = [e.pk for e in entities if e.payload_hash == hashes.get(e.pk) and e.status == Entity.Status.SENT]
    Entity.objects.filter(pk__in=current).update(
        status=Entity.Status.FAILED, last_error_code=code, last_error_message=message[:2000]
    )
    LogEntry.objects.bulk_create([_entry(ctx, job, e, LogEntry.Level.ERROR, message, code) for e in entities])
    if ctx:
        ctx.failed += len(entities)
    if current and job.flow_id:
        # Sent again by a short while (a restart of the job in admin does the same).
        services.queue_follow_up(job.flow, {"send_only": True}, at=timezone.now() + timedelta(seconds=60))


def _entry(ctx, job: ConnectJob, entity: Entity, level: str, message: str, code: str) -> LogEntry:
    known = lookup(code) if code else None
    hint = known.hint if known else ""
    return LogEntry(
        integration_id=job.integration_id,
        task=ctx.task if ctx else None,
        flow_id=job.flow_id,
        entity=entity,
        level=level,
        code=code,
        message=message,
        hint=hint,
        data_type=entity.data_type,
        reference=entity.reference,
        details={"job_id": job.job_id},
    )


# -- restart and events ------------------------------------------------------------------------
def target_of(job: ConnectJob) -> CatalogueTarget:
    """The catalogue target the job was sent to (the integration's connector serving as one)."""
    return port_for(connector_for(job.integration_id, CATALOGUE_TARGET), CATALOGUE_TARGET)


def restartable(job: ConnectJob, *, now=None, target: CatalogueTarget | None = None) -> tuple[bool, str]:
    if not job.is_finished:
        return False, "The job has not finished yet."
    return (target or target_of(job)).restartable(job.status_id, job.created_at, now or timezone.now())


def restart(job_pk: int) -> ConnectJob:
    """Restart a finished job: the target runs it again from its stored payload; we follow it again."""
    job = ConnectJob.objects.select_related("flow", "integration").get(pk=job_pk)
    target = target_of(job)
    ok, reason = restartable(job, target=target)
    if not ok:
        raise SyncError(target.restart_refused_code, f"Job {job.job_id} cannot be restarted: {reason}")
    target.restart(job.job_id)
    with transaction.atomic():
        ConnectJob.objects.filter(pk=job.pk).update(
            status=ConnectJob.Status.QUEUED,
            finished_at=None,
            restarts=job.restarts + 1,
            restarted_at=timezone.now(),
            rows_written=0,
            rows_ignored=0,
            rows_rejected=0,
        )
        hashes = {row[0]: row[1] for row in job.sent}
        for entity in Entity.objects.filter(pk__in=list(hashes), status=Entity.Status.FAILED):
            if entity.payload_hash == hashes[entity.pk]:
                Entity.objects.filter(pk=entity.pk).update(status=Entity.Status.SENT)
        LogEntry.objects.create(
            integration_id=job.integration_id,
            flow_id=job.flow_id,
            level=LogEntry.Level.INFO,
            data_type=_data_type(job),
            message=f"{target.name} job {job.job_id} restarted",
            details={"job_id": job.job_id},
        )
        if job.flow_id:
            services.queue_follow_up(job.flow, {"follow_jobs": True}, at=timezone.now() + timedelta(seconds=2))
    job.refresh_from_db()
    return job


def job_completed(integration_id: int, job_id: str) -> bool:
    """JobCompletedEvent: check the job now. False when the job is not one of ours."""
    job = ConnectJob.objects.select_related("flow").filter(integration_id=integration_id, job_id=str(job_id)).first()
    if job is None or job.flow is None:
        return False
    if job.status in OPEN:
        services.queue_follow_up(job.flow, {"follow_jobs": True})
    return True


# -- reading a job's messages ----------------------------------------------------------------------
SEVERITY_NAMES = {1: "Information", WARNING: "Warning", ERROR: "Error"}


@dataclass(frozen=True)
class MessageRow:
    """One of the target's messages about a job, with the record it names when known."""

    row: int | None
    severity: str
    message: str
    entity_id: int | None
    reference: str


def message_rows(job: ConnectJob) -> list[MessageRow]:
    """The job's messages in order, each with the record it concerns: by ImportedRow (row n of the
    job is the n-th record sent), else by the identifier or reference the message names."""
    target = target_of(job)
    ids = job.entity_ids
    messages = [
        (as_int(m.get("ImportedRow")), as_int(m.get("SeverityId")), str(m.get("Message") or ""))
        for m in job.messages or []
    ]
    records = Entity.objects.filter(integration_id=job.integration_id)
    references: dict[int, str] = dict(records.filter(pk__in=ids).values_list("pk", "reference")) if ids else {}
    # Messages without a row of this job: the identifier they name, looked up among the flow's records.
    named = {
        index: name
        for index, (row, _, text) in enumerate(messages)
        if not 1 <= row <= len(ids) and (name := target.named_record(text))
    }
    by_reference: dict[str, int] = {}
    if named:
        candidates = records.filter(reference__in=set(named.values()))
        if _data_type(job):
            candidates = candidates.filter(data_type=_data_type(job))
        for pk, reference in candidates.order_by("pk").values_list("pk", "reference"):
            by_reference.setdefault(reference, pk)
            references.setdefault(pk, reference)
    rows: list[MessageRow] = []
    for index, (row, severity, text) in enumerate(messages):
        entity_id = ids[row - 1] if 1 <= row <= len(ids) else by_reference.get(named.get(index, ""))
        if entity_id is None and severity >= ERROR and ids:
            # An error that names a record of the job without its row (as _row_errors places it).
            entity_id = next(
                (
                    pk
                    for pk in ids
                    if references.get(pk) and re.search(rf"(?<![\w-]){re.escape(references[pk])}(?![\w-])", text)
                ),
                None,
            )
        rows.append(
            MessageRow(
                row=row or None,
                severity=SEVERITY_NAMES.get(severity, "Message"),
                message=text,
                entity_id=entity_id,
                reference=references.get(entity_id, "") if entity_id else "",
            )
        )
    return rows
