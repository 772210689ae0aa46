"""What a finished Norce Connect job says about its rows, read from Job/Get and Job/GetLog.

A finished job says what happened to its rows: written (inserted or updated), ignored
(accepted but skipped, e.g. a price for a SKU Norce does not have) and rejected (failed
validation). Brygga's status of the job follows from them (see `job_status`). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from connectors.norce import connect
from connectors.norce.errors import JOB_FAILED, VALIDATION
from core.records import ERROR_SEVERITY as ERROR
from core.records import WARNING_SEVERITY as WARNING
from core.records import JobOutcome, as_int

# Brygga's job statuses (integrations' ConnectJob.Status values).
RUNNING, SUCCEEDED, PARTLY_FAILED, FAILED, VALIDATION_FAILED = (
    "running",
    "succeeded",
    "partly_failed",
    "failed",
    "validation_failed",
)
# The identifier Norce names in a row's message: "Row 3 (PartNo ABC-1): …".
NAMED_IDENTIFIER = re.compile(r"\((?:PartNo|Code|ManufacturerPartNo|ManufacturerCode) ([^)]+)\)")
# Norce sums up the ignored rows beyond the ones it lists: "... and 12 more row(s) ignored".
MORE_IGNORED = re.compile(r"(\d+) more row\(?s?\)? ignored", re.IGNORECASE)


@dataclass(frozen=True)
class RowCounts:
    """What happened to a finished job's rows."""

    written: int = 0
    ignored: int = 0
    rejected: int = 0


def is_ignored(message: dict[str, Any]) -> bool:
    return bool(message["SeverityId"] == WARNING and "ignored" in message["Message"].lower())


def written(dto: dict[str, Any]) -> int:
    return as_int(dto.get("Inserts", dto.get("Insert"))) + as_int(dto.get("Updates"))


def needs_log(status_id: int, dto: dict[str, Any]) -> bool:
    """The log costs a request: read it when something went wrong, or when fewer rows were
    written (inserted or updated) than the job held, i.e. Norce skipped some."""
    totals = as_int(dto.get("Totals"))
    return bool(status_id != connect.JOB_SUCCEEDED or as_int(dto.get("Fail")) or (totals and written(dto) < totals))


def row_counts(*, status_id: int, dto: dict[str, Any], messages: list[dict[str, Any]]) -> RowCounts:
    """Rows written (Norce's inserts + updates), ignored and rejected, from Job/Get and the job's log.

    A failed job (Norce could not process it) classifies no row: all of it is sent again."""
    if status_id == connect.JOB_FAILED:
        return RowCounts(written=written(dto))
    rejected_rows = {as_int(m.get("ImportedRow")) for m in messages if m["SeverityId"] >= ERROR} - {0}
    rejected = max(as_int(dto.get("Fail")), len(rejected_rows))
    ignored_rows = {as_int(m.get("ImportedRow")) for m in messages if is_ignored(m)} - {0} - rejected_rows
    summed_up = sum(
        int(found.group(1))
        for m in messages
        if is_ignored(m) and not as_int(m.get("ImportedRow"))
        for found in [MORE_IGNORED.search(m["Message"])]
        if found
    )
    return RowCounts(written=written(dto), ignored=len(ignored_rows) + summed_up, rejected=rejected)


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
        return FAILED
    if counts.rejected and not counts.written:
        return VALIDATION_FAILED
    if counts.rejected or counts.ignored:
        return PARTLY_FAILED
    if status_id == connect.JOB_VALIDATION_FAILED:  # Norce's verdict stands even without row details
        return VALIDATION_FAILED
    return SUCCEEDED


def messages_of(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log's warnings and errors, as kept on the job."""
    return [
        {
            "SeverityId": as_int(e.get("SeverityId")),
            "Message": str(e.get("Message") or ""),
            "ImportedRow": e.get("ImportedRow"),
        }
        for e in entries
        if as_int(e.get("SeverityId")) >= WARNING
    ]


def outcome(dto: dict[str, Any], entries: list[dict[str, Any]]) -> JobOutcome:
    """A job as Job/Get (and, when it ended, Job/GetLog) describe it."""
    status_id = as_int(dto.get("StatusId"))
    if status_id not in connect.FINISHED_JOB_STATUSES:
        return JobOutcome(finished=False, status=connect.JOB_STATUS_NAMES.get(status_id, RUNNING), status_id=status_id)
    messages = messages_of(entries)
    counts = row_counts(status_id=status_id, dto=dto, messages=messages)
    row_errors: dict[int, str] = {}
    rows_ignored: dict[int, str] = {}
    unplaced: list[str] = []
    for message in messages:
        row = as_int(message.get("ImportedRow"))
        if message["SeverityId"] >= ERROR:
            if row >= 1:
                row_errors.setdefault(row, message["Message"])
            else:
                unplaced.append(message["Message"])
        elif is_ignored(message) and row >= 1:
            rows_ignored.setdefault(row, message["Message"])
    return JobOutcome(
        finished=True,
        status=job_status(status_id, counts),
        status_id=status_id,
        could_not_run=status_id == connect.JOB_FAILED,
        inserts=as_int(dto.get("Inserts", dto.get("Insert"))),
        updates=as_int(dto.get("Updates")),
        failures=as_int(dto.get("Fail")),
        written=counts.written,
        ignored=counts.ignored,
        rejected=counts.rejected,
        messages=messages,
        row_errors=row_errors,
        rows_ignored=rows_ignored,
        unplaced_errors=unplaced,
        first_error=next((m["Message"] for m in messages if m["SeverityId"] >= ERROR), ""),
        code={connect.JOB_FAILED: JOB_FAILED.code, connect.JOB_VALIDATION_FAILED: VALIDATION.code}.get(status_id, ""),
    )
