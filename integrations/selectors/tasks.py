"""Tasks and the errors of their records, as staff see them on a task."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, NullIf

from integrations.models import Entity, LogEntry, Task
from integrations.selectors.catalogue import catalogue_entry

# A record's problem as staff should see it on its task: warnings (a row Norce skipped) and errors.
RECORD_PROBLEM_LEVELS = (LogEntry.Level.ERROR, LogEntry.Level.WARNING)


@dataclass(frozen=True)
class RecordError:
    code: str
    message: str
    hint: str
    level: str
    entity_id: int | None
    reference: str
    data_type: str
    entity_status: str | None
    log_id: int | None
    created_at: datetime | None
    # How many times the same record logged the same code within the task (retries repeat it).
    times: int = 1


def _hint(code: str, hint: str) -> str:
    if hint:
        return hint
    entry = catalogue_entry(code)
    return entry.hint if entry else ""


def task_record_errors(task: Task | int, *, limit: int = 100) -> list[RecordError]:
    """The errors and warnings of a task's records, newest first, one row per record and code (two queries).

    Read from the task's log entries that name a record, plus records the task still holds
    that carry an error code nobody logged (e.g. a worker stopped mid-record).
    """
    task_id = task if isinstance(task, int) else task.pk
    rows: dict[tuple[int | None, str, str], RecordError] = {}
    logs = (
        LogEntry.objects.filter(task_id=task_id, level__in=RECORD_PROBLEM_LEVELS)
        .filter(Q(entity__isnull=False) | ~Q(reference=""))
        .order_by("-created_at", "-id")
        .values(
            "id",
            "code",
            "message",
            "hint",
            "level",
            "entity_id",
            "reference",
            "data_type",
            "created_at",
            "entity__status",
            "entity__reference",
        )[: limit * 10]
    )
    for log_row in logs:
        key = (log_row["entity_id"], log_row["reference"] if log_row["entity_id"] is None else "", log_row["code"])
        if key in rows:
            earlier = rows[key]
            rows[key] = RecordError(**{**earlier.__dict__, "times": earlier.times + 1})
            continue
        if len(rows) >= limit:
            continue
        rows[key] = RecordError(
            code=log_row["code"],
            message=log_row["message"],
            hint=_hint(log_row["code"], log_row["hint"]),
            level=log_row["level"],
            entity_id=log_row["entity_id"],
            reference=log_row["entity__reference"] or log_row["reference"],
            data_type=log_row["data_type"],
            entity_status=log_row["entity__status"],
            log_id=log_row["id"],
            created_at=log_row["created_at"],
        )
    logged = {entity_id for entity_id, _reference, _code in rows}
    held = (
        Entity.objects.filter(claimed_by_task=task_id)
        .exclude(last_error_code="")
        .exclude(pk__in=logged)
        .values("id", "last_error_code", "last_error_message", "reference", "source_id", "data_type", "status")[
            : max(0, limit - len(rows))
        ]
    )
    for entity in held:
        rows[(entity["id"], "", entity["last_error_code"])] = RecordError(
            code=entity["last_error_code"],
            message=entity["last_error_message"],
            hint=_hint(entity["last_error_code"], ""),
            level=LogEntry.Level.ERROR,
            entity_id=entity["id"],
            reference=entity["reference"] or entity["source_id"],
            data_type=entity["data_type"],
            entity_status=entity["status"],
            log_id=None,
            created_at=None,
        )
    return list(rows.values())


@dataclass(frozen=True)
class TaskError:
    """What went wrong in a task: its own error, else the first error of its records."""

    code: str
    message: str
    hint: str
    from_records: bool


def task_error(task: Task, record_errors: list[RecordError]) -> TaskError:
    if task.error_code:
        return TaskError(
            code=task.error_code, message=task.error_message, hint=_hint(task.error_code, ""), from_records=False
        )
    problems = [e for e in record_errors if e.level == LogEntry.Level.ERROR] or record_errors
    if not problems:
        return TaskError(code="", message=task.error_message, hint="", from_records=False)
    first = problems[-1]  # the oldest: what the task met first
    codes = {e.code for e in problems}
    message = first.message
    if len(problems) > 1:
        message = f"{len(problems)} records failed ({', '.join(sorted(c for c in codes if c))}); first: {message}"
    if task.error_message:
        message = f"{task.error_message}. {message}"
    return TaskError(code=first.code, message=message, hint=first.hint, from_records=True)


def tasks_with_record_error_code(queryset: QuerySet[Task]) -> QuerySet[Task]:
    """Annotate `shown_error_code`: the task's error code, else the first error code of its records."""
    first_record_code = (
        LogEntry.objects.filter(task=OuterRef("pk"), level__in=RECORD_PROBLEM_LEVELS)
        .exclude(code="")
        .order_by(Case(When(level=LogEntry.Level.ERROR, then=Value(0)), default=Value(1)), "created_at", "id")
        .values("code")[:1]
    )
    return queryset.annotate(shown_error_code=Coalesce(NullIf(F("error_code"), Value("")), Subquery(first_record_code)))


@dataclass(frozen=True)
class TaskRecords:
    references: list[str]
    count: int


REFERENCES_PER_TASK = 3


def tasks_with_record_references(queryset: QuerySet[Task], *, per_task: int = REFERENCES_PER_TASK) -> QuerySet[Task]:
    """Annotate each task with up to `per_task` record references (order numbers, SKUs) from its log,
    those with errors or warnings first, and how many distinct references it names in all.

    Subqueries of the one list query, so a page of tasks costs no extra query; read them with
    `task_records(task)`.
    """
    problem = Max(Case(When(level__in=RECORD_PROBLEM_LEVELS, then=Value(1)), default=Value(0)))
    named = LogEntry.objects.filter(task=OuterRef("pk")).exclude(reference="").order_by()
    ranked = named.values("reference").annotate(problem=problem, first_id=Min("id")).order_by("-problem", "first_id")
    counted = named.values("task").annotate(n=Count("reference", distinct=True)).values("n")
    return queryset.annotate(
        record_ref_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)),
        **{f"record_ref_{i}": Subquery(ranked.values("reference")[i : i + 1]) for i in range(per_task)},
    )


def task_records(task: Task, *, per_task: int = REFERENCES_PER_TASK) -> TaskRecords:
    references = [ref for i in range(per_task) if (ref := getattr(task, f"record_ref_{i}", None))]
    return TaskRecords(references=references, count=getattr(task, "record_ref_count", len(references)))
