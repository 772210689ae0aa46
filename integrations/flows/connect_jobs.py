"""Following Norce Connect import jobs to their end, and restarting them.

A job is checked with Job/Get (each check is one of the 60 Connect requests a minute,
so checks back off), or learnt from a JobCompletedEvent. When it ends, its outcome is
written on every record it carried: confirmed (the fields become "what Norce has"),
marked with Norce's validation message, or failed to be sent again. Applying an
outcome is claimed with a conditional update, so two workers never apply it twice.

A finished job also says what happened to its rows: written (inserted or updated),
ignored (accepted but skipped, e.g. a price for a SKU Norce does not have) and rejected
(failed validation). Its status follows from them (see `job_status`).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from connectors.norce import connect
from connectors.norce.errors import JOB_RESTART_REFUSED, ROW_IGNORED
from core.errors import SyncError, lookup
from integrations import services
from integrations.engine.clients import client_for
from integrations.flows import products_first
from integrations.models import ConnectJob, Connector, Entity, Flow, LogEntry

log = logging.getLogger("brygga.connect_jobs")

OPEN = (ConnectJob.Status.QUEUED, ConnectJob.Status.RUNNING)
# Seconds between Job/Get checks of a job that is still running, by the number of checks made.
POLL_DELAYS = (5, 10, 20, 40, 60, 120, 300)
# With JobCompletedEvent set up, jobs are still checked after this long in case an event was lost.
EVENT_SAFETY_NET = 300
ERROR, WARNING = 3, 2


def events_enabled(norce) -> bool:
    """Whether Norce posts JobCompletedEvent to us (connector setting `job_events`)."""
    return bool((norce.connector.settings or {}).get("job_events"))


def follow(ctx, flow: Flow, norce, *, wait: float, job_ids: list[int] | None = None) -> int:
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
        still_open = [job for job in jobs if not check(ctx, norce, job)]
        ctx.heartbeat()
        if not still_open:
            return 0
        if time.monotonic() + delay > deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 8.0)
    if events_enabled(norce):
        after = EVENT_SAFETY_NET
    else:
        fewest = min(job.checks for job in still_open)
        after = POLL_DELAYS[min(fewest, len(POLL_DELAYS) - 1)]
    services.queue_follow_up(flow, {"follow_jobs": True}, at=timezone.now() + timedelta(seconds=after))
    return len(still_open)


def check(ctx, norce, job: ConnectJob) -> bool:
    """Ask Norce about one job; apply its outcome when it ended. True when it has ended."""
    dto = norce.get_job(job.job_id)
    status_id = _int(dto.get("StatusId"))
    now = timezone.now()
    ConnectJob.objects.filter(pk=job.pk).update(last_checked_at=now, checks=job.checks + 1, status_id=status_id)
    job.checks += 1
    if status_id not in connect.FINISHED_JOB_STATUSES:
        name = connect.JOB_STATUS_NAMES.get(status_id, "running")
        ConnectJob.objects.filter(pk=job.pk, status__in=OPEN).update(status=name)
        return False
    # The log costs a request: read it when something went wrong, or when fewer rows were
    # written (inserted or updated) than the job held, i.e. Norce skipped some.
    written = _int(dto.get("Inserts", dto.get("Insert"))) + _int(dto.get("Updates"))
    totals = _int(dto.get("Totals"))
    needs_log = status_id != connect.JOB_SUCCEEDED or _int(dto.get("Fail")) or (totals and written < totals)
    entries = norce.get_job_log(job.job_id) if needs_log else []
    apply_result(ctx, job, status_id, dto, entries)
    return True


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclass(frozen=True)
class RowCounts:
    """What happened to a finished job's rows."""

    written: int = 0
    ignored: int = 0
    rejected: int = 0


# Norce sums up the ignored rows beyond the ones it lists: "... and 12 more row(s) ignored".
MORE_IGNORED = re.compile(r"(\d+) more row\(?s?\)? ignored", re.IGNORECASE)


def _is_ignored(message: dict[str, Any]) -> bool:
    return message["SeverityId"] == WARNING and "ignored" in message["Message"].lower()


def row_counts(*, status_id: int, dto: dict[str, Any], messages: list[dict[str, Any]]) -> RowCounts:
    """Rows written (Norce's inserts + updates), ignored and rejected, from Job/Get and the job's log.

    A failed job (Norce could not process it) classifies no row: all of it is sent again."""
    written = _int(dto.get("Inserts", dto.get("Insert"))) + _int(dto.get("Updates"))
    if status_id == connect.JOB_FAILED:
        return RowCounts(written=written)
    rejected_rows = {_int(m.get("ImportedRow")) for m in messages if m["SeverityId"] >= ERROR} - {0}
    rejected = max(_int(dto.get("Fail")), len(rejected_rows))
    ignored_rows = {_int(m.get("ImportedRow")) for m in messages if _is_ignored(m)} - {0} - rejected_rows
    summed_up = sum(
        int(found.group(1))
        for m in messages
        if _is_ignored(m) and not _int(m.get("ImportedRow"))
        for found in [MORE_IGNORED.search(m["Message"])]
        if found
    )
    return RowCounts(written=written, ignored=len(ignored_rows) + summed_up, rejected=rejected)


def job_status(status_id: int, counts: RowCounts) -> str:
    """Brygga's status of a finished job, from Norce's StatusId and what happened to its rows.

    - failed: Norce could not process the job at all (StatusId 3); its rows are sent again
      or the job is restarted;
    - validation failed: rows were rejected and none was written (the whole content refused);
    - partly failed: the job ran but some rows did not land (ignored or rejected) — also when
      Norce ignored every row, so that a job whose rows all waited is never shown green;
    - succeeded: every row was written.
    """
    if status_id == connect.JOB_FAILED:
        return ConnectJob.Status.FAILED
    if counts.rejected and not counts.written:
        return ConnectJob.Status.VALIDATION_FAILED
    if counts.rejected or counts.ignored:
        return ConnectJob.Status.PARTLY_FAILED
    if status_id == connect.JOB_VALIDATION_FAILED:  # Norce's verdict stands even without row details
        return ConnectJob.Status.VALIDATION_FAILED
    return ConnectJob.Status.SUCCEEDED


def apply_result(ctx, job: ConnectJob, status_id: int, dto: dict[str, Any], entries: list[dict[str, Any]]) -> bool:
    """Write a finished job's outcome onto its records, once. False if already applied."""
    messages = [
        {
            "SeverityId": _int(e.get("SeverityId")),
            "Message": str(e.get("Message") or ""),
            "ImportedRow": e.get("ImportedRow"),
        }
        for e in entries
        if _int(e.get("SeverityId")) >= WARNING
    ]
    counts = row_counts(status_id=status_id, dto=dto, messages=messages)
    status = job_status(status_id, counts)
    inserts = _int(dto.get("Inserts", dto.get("Insert")))
    with transaction.atomic():
        claimed = ConnectJob.objects.filter(pk=job.pk, status__in=OPEN).update(
            status=status,
            status_id=status_id,
            finished_at=timezone.now(),
            inserts=inserts,
            updates=_int(dto.get("Updates")),
            failures=_int(dto.get("Fail")),
            messages=messages[:1000],
            rows_written=counts.written,
            rows_ignored=counts.ignored,
            rows_rejected=counts.rejected,
        )
        if not claimed:
            return False
        job.refresh_from_db()
        if not job.sent:
            _log_job(ctx, job, status_id, messages)
        else:
            row_errors = _row_errors(job, messages)
            ignored = _rows_ignored(job, messages)
            if status_id == connect.JOB_FAILED:
                _fail_records(ctx, job, messages)
            else:
                _confirm_records(ctx, job, row_errors, ignored)
        if status_id != connect.JOB_FAILED:
            _release_dependents(job)
    return True


def _release_dependents(job: ConnectJob) -> None:
    """A products job ended: prices and stock held back for its SKUs may go now."""
    if job.flow_id and job.flow.kind == "products_to_commerce":
        products_first.release_dependents(job.flow)


# After this many ignored attempts a row waits for a person instead of being sent again.
IGNORED_ATTEMPTS = 5


def _rows_ignored(job: ConnectJob, messages: list[dict[str, Any]]) -> dict[int, str]:
    """Entity id → Norce's warning for rows it accepted but skipped (e.g. a price for an unknown SKU)."""
    ids = [row[0] for row in job.sent]
    ignored: dict[int, str] = {}
    for message in messages:
        row = _int(message.get("ImportedRow"))
        if _is_ignored(message) and 1 <= row <= len(ids):
            ignored.setdefault(ids[row - 1], message["Message"])
    return ignored


def _log_job(ctx, job: ConnectJob, status_id: int, messages: list[dict[str, Any]]) -> None:
    level = {
        ConnectJob.Status.SUCCEEDED: LogEntry.Level.INFO,
        ConnectJob.Status.PARTLY_FAILED: LogEntry.Level.WARNING,
    }.get(job.status, LogEntry.Level.ERROR)
    code = {connect.JOB_FAILED: "norce.job_failed", connect.JOB_VALIDATION_FAILED: "norce.validation"}.get(
        status_id, ""
    )
    errors = [m["Message"] for m in messages if m["SeverityId"] >= ERROR]
    text = (
        f"Norce job {job.job_id} ({job.method}, {job.item_count} items) {job.get_status_display().lower()}: "
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
        details={"job_id": job.job_id, "messages": messages[:50]},
    )


def _data_type(job: ConnectJob) -> str:
    return job.flow.data_type if job.flow_id else ""


def _row_errors(job: ConnectJob, messages: list[dict[str, Any]]) -> dict[int, str]:
    """Entity id → Norce's error message, by ImportedRow (1-based), else by the identifier named."""
    errors: dict[int, str] = {}
    ids = [row[0] for row in job.sent]
    unplaced = []
    for message in messages:
        if message["SeverityId"] < ERROR:
            continue
        row = _int(message.get("ImportedRow"))
        if 1 <= row <= len(ids):
            errors.setdefault(ids[row - 1], message["Message"])
        else:
            unplaced.append(message["Message"])
    if unplaced:
        references = dict(Entity.objects.filter(pk__in=ids).values_list("reference", "pk"))
        for text in unplaced:
            for reference, entity_id in references.items():
                if reference and re.search(rf"(?<![\w-]){re.escape(reference)}(?![\w-])", text):
                    errors.setdefault(entity_id, text)
    return errors


def _confirm_records(ctx, job: ConnectJob, row_errors: dict[int, str], ignored: dict[int, str]) -> None:
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
            message = f"Norce job {job.job_id} skipped the row: {ignored[entity_id]}"
            if current:
                entity.attempts += 1
                entity.status = (
                    Entity.Status.NEEDS_ATTENTION if entity.attempts >= IGNORED_ATTEMPTS else Entity.Status.FAILED
                )
                entity.last_error_code, entity.last_error_message = ROW_IGNORED.code, message[:2000]
                confirmed.append(entity)
                resend = True
            logs.append(_entry(ctx, job, entity, LogEntry.Level.WARNING, message, ROW_IGNORED.code))
            continue
        if entity_id in row_errors:
            message = f"Norce job {job.job_id}: {row_errors[entity_id]}"
            if current:
                entity.status = Entity.Status.NEEDS_ATTENTION
                entity.last_error_code, entity.last_error_message = "norce.validation", message[:2000]
                confirmed.append(entity)
            logs.append(_entry(ctx, job, entity, LogEntry.Level.ERROR, message, "norce.validation"))
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
                f"In Norce (job {job.job_id}): {', '.join(sorted(fields)) or 'no changes'}",
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


def _fail_records(ctx, job: ConnectJob, messages: list[dict[str, Any]]) -> None:
    reason = next((m["Message"] for m in messages if m["SeverityId"] >= ERROR), "no reason given")
    message = f"Norce job {job.job_id} failed: {reason}"
    entities = list(Entity.objects.filter(pk__in=[row[0] for row in job.sent]))
    hashes = {row[0]: row[1] for row in job.sent}
    current = [e.pk for e in entities if e.payload_hash == hashes.get(e.pk) and e.status == Entity.Status.SENT]
    Entity.objects.filter(pk__in=current).update(
        status=Entity.Status.FAILED, last_error_code="norce.job_failed", last_error_message=message[:2000]
    )
    LogEntry.objects.bulk_create(
        [_entry(ctx, job, e, LogEntry.Level.ERROR, message, "norce.job_failed") for e in entities]
    )
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
def restartable(job: ConnectJob, *, now=None) -> tuple[bool, str]:
    now = now or timezone.now()
    if not job.is_finished:
        return False, "The job has not finished yet."
    if job.status_id not in connect.RESTARTABLE_JOB_STATUSES:
        return (
            False,
            "Norce restarts only succeeded or failed jobs; for rows that failed validation, "
            "correct the records and retry them.",
        )
    if job.created_at < now - timedelta(days=connect.RESTART_WINDOW_DAYS):
        return False, f"Norce keeps a job's payload for {connect.RESTART_WINDOW_DAYS} days; this job is older."
    return True, ""


def restart(job_pk: int) -> ConnectJob:
    """Job/Restart: Norce runs the job again from its stored payload; we follow it again."""
    job = ConnectJob.objects.select_related("flow", "integration").get(pk=job_pk)
    ok, reason = restartable(job)
    if not ok:
        raise SyncError(JOB_RESTART_REFUSED.code, f"Job {job.job_id} cannot be restarted: {reason}")
    connector = Connector.objects.get(integration_id=job.integration_id, role=Connector.Role.COMMERCE)
    client_for(connector).restart_job(job.job_id)
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
            message=f"Norce job {job.job_id} restarted",
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
# The identifier Norce names in a row's message: "Row 3 (PartNo ABC-1): …".
NAMED_IDENTIFIER = re.compile(r"\((?:PartNo|Code|ManufacturerPartNo|ManufacturerCode) ([^)]+)\)")


@dataclass(frozen=True)
class MessageRow:
    """One of Norce's messages about a job, with the record it names when known."""

    row: int | None
    severity: str
    message: str
    entity_id: int | None
    reference: str


def message_rows(job: ConnectJob) -> list[MessageRow]:
    """The job's messages in order, each with the record it concerns: by ImportedRow (row n of the
    job is the n-th record sent), else by the identifier or reference the message names."""
    ids = job.entity_ids
    messages = [
        (_int(m.get("ImportedRow")), _int(m.get("SeverityId")), str(m.get("Message") or "")) for m in job.messages or []
    ]
    records = Entity.objects.filter(integration_id=job.integration_id)
    references: dict[int, str] = dict(records.filter(pk__in=ids).values_list("pk", "reference")) if ids else {}
    # Messages without a row of this job: the identifier they name, looked up among the flow's records.
    named = {
        index: found.group(1).strip()
        for index, (row, _, text) in enumerate(messages)
        if not 1 <= row <= len(ids) and (found := NAMED_IDENTIFIER.search(text))
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
