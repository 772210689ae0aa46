"""Read-side queries: how each integration and each of its flows is doing.

The admin and the status API show the same numbers, computed here:

- last run: the flow's most recent task (its start time, or creation time while queued);
- last success: when a task of the flow last finished as succeeded or partly failed
  (the flow itself ran through; records that failed are counted under failures);
- backlog: records of the flow's data type waiting to sync (pending, or failed and retrying);
- failures: records of the flow's data type that need a person;
- cursor: the time-history "last loaded" moment for the flow's data type and direction;
- staleness: seconds since the last success; a flow with a threshold (master data:
  `stale_after_minutes`, stock 15 by default) is flagged stale beyond it.

Every function here runs a fixed number of queries, however many rows it covers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, IntegerField, Max, Min, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from core import errors
from integrations import registry
from integrations.flows import master_settings
from integrations.models import Connector, Entity, Flow, Integration, LogEntry, Task, TimeHistory

SUCCESS_STATUSES = (Task.Status.SUCCEEDED, Task.Status.PARTLY_FAILED)
RETRYABLE_TASK_STATUSES = (Task.Status.PARTLY_FAILED, Task.Status.FAILED, Task.Status.NEEDS_ATTENTION)
BACKLOG_STATUSES = (Entity.Status.PENDING, Entity.Status.FAILED, Entity.Status.SENT)
RETRYABLE_ENTITY_STATUSES = (Entity.Status.FAILED, Entity.Status.NEEDS_ATTENTION, Entity.Status.SKIPPED)


@dataclass(frozen=True)
class FlowStatus:
    flow_id: int
    kind: str
    label: str
    data_type: str
    direction: str
    enabled: bool
    last_run_task_id: int | None
    last_run_at: datetime | None
    last_run_status: str | None
    last_success_at: datetime | None
    backlog: int
    failures: int
    cursor: datetime | None
    staleness_seconds: int | None
    # The flow's staleness threshold (None: the flow has none) and whether it is exceeded
    # (a flow that never succeeded counts as stale once it has a threshold).
    stale_after_seconds: int | None = None
    stale: bool = False


def _latest_task(**filters: object) -> QuerySet[Task]:
    return Task.objects.filter(**filters).order_by("-created_at", "-id")


def _last_success(outer_field: str) -> Subquery:
    finished = (
        Task.objects.filter(**{outer_field: OuterRef("pk")}, status__in=SUCCESS_STATUSES)
        .order_by(F("finished_at").desc(nulls_last=True))
        .values("finished_at")[:1]
    )
    return Subquery(finished)


def flows_with_runs(queryset: QuerySet[Flow]) -> QuerySet[Flow]:
    """Annotate flows with their last run (task id, time, status) and last success."""
    latest = _latest_task(flow=OuterRef("pk"))
    return queryset.annotate(
        last_run_task_id=Subquery(latest.values("id")[:1]),
        last_run_at=Subquery(latest.annotate(at=Coalesce("started_at", "created_at")).values("at")[:1]),
        last_run_status=Subquery(latest.values("status")[:1]),
        last_success_at=_last_success("flow"),
    )


def integrations_with_summary(queryset: QuerySet[Integration]) -> QuerySet[Integration]:
    """Annotate integrations with flow count, last task status, last success and records needing attention."""
    flow_count = (
        Flow.objects.filter(integration=OuterRef("pk"))
        .order_by()
        .values("integration")
        .annotate(n=Count("id"))
        .values("n")
    )
    attention = (
        Entity.objects.filter(integration=OuterRef("pk"), status=Entity.Status.NEEDS_ATTENTION)
        .order_by()
        .values("integration")
        .annotate(n=Count("id"))
        .values("n")
    )
    return queryset.annotate(
        flow_count=Coalesce(Subquery(flow_count, output_field=IntegerField()), Value(0)),
        attention_count=Coalesce(Subquery(attention, output_field=IntegerField()), Value(0)),
        last_task_status=Subquery(_latest_task(integration=OuterRef("pk")).values("status")[:1]),
        last_success_at=_last_success("integration"),
    )


def staleness_seconds(last_success_at: datetime | None, *, now: datetime | None = None) -> int | None:
    if last_success_at is None:
        return None
    return max(0, int(((now or timezone.now()) - last_success_at).total_seconds()))


def flow_statuses(integrations: Iterable[Integration | int]) -> dict[int, list[FlowStatus]]:
    """Per-flow status for many integrations at once, keyed by integration id (four queries)."""
    ids = [i if isinstance(i, int) else i.pk for i in integrations]
    result: dict[int, list[FlowStatus]] = {pk: [] for pk in ids}
    if not ids:
        return result

    counts: dict[tuple[int, str], dict[str, int]] = {
        (row["integration_id"], row["data_type"]): row
        for row in Entity.objects.filter(integration_id__in=ids)
        .order_by()
        .values("integration_id", "data_type")
        .annotate(
            backlog=Count("id", filter=Q(status__in=BACKLOG_STATUSES)),
            failures=Count("id", filter=Q(status=Entity.Status.NEEDS_ATTENTION)),
        )
    }
    cursors: dict[tuple[int, str, str], datetime | None] = {}
    any_direction: dict[tuple[int, str], datetime | None] = {}
    for row in TimeHistory.objects.filter(integration_id__in=ids).values(
        "integration_id", "data_type", "direction", "last_loaded_at"
    ):
        cursors[(row["integration_id"], row["data_type"], row["direction"])] = row["last_loaded_at"]
        any_direction.setdefault((row["integration_id"], row["data_type"]), row["last_loaded_at"])

    now = timezone.now()
    flows = flows_with_runs(Flow.objects.filter(integration_id__in=ids)).order_by("integration_id", "kind")
    for flow in flows:
        spec = registry.flow_spec(flow.kind)
        count = counts.get((flow.integration_id, spec.data_type), {})
        cursor_key = (flow.integration_id, spec.data_type, spec.direction)
        cursor = cursors[cursor_key] if cursor_key in cursors else any_direction.get(cursor_key[:2])
        result[flow.integration_id].append(
            FlowStatus(
                flow_id=flow.pk,
                kind=flow.kind,
                label=spec.label,
                data_type=spec.data_type,
                direction=spec.direction,
                enabled=flow.enabled,
                last_run_task_id=flow.last_run_task_id,
                last_run_at=flow.last_run_at,
                last_run_status=flow.last_run_status,
                last_success_at=flow.last_success_at,
                backlog=count.get("backlog", 0),
                failures=count.get("failures", 0),
                cursor=cursor,
                staleness_seconds=staleness_seconds(flow.last_success_at, now=now),
                **_stale(flow, flow.last_success_at, now),
            )
        )
    return result


def stale_after_seconds(flow: Flow) -> int | None:
    """The flow's staleness threshold from its settings (`stale_after_minutes`), if its kind has one."""
    if flow.kind not in master_settings.SETTINGS_CLASSES:
        return None
    try:
        minutes = master_settings.parse_settings(flow.kind, flow.settings).stale_after_minutes
    except ValueError:
        minutes = master_settings.SETTINGS_CLASSES[flow.kind]().stale_after_minutes  # the default
    return minutes * 60 if minutes else None


def _stale(flow: Flow, last_success_at: datetime | None, now: datetime) -> dict[str, object]:
    threshold = stale_after_seconds(flow)
    if threshold is None or not flow.enabled:
        return {"stale_after_seconds": threshold, "stale": False}
    age = staleness_seconds(last_success_at, now=now)
    return {"stale_after_seconds": threshold, "stale": age is None or age > threshold}


def flow_status(integration: Integration | int) -> list[FlowStatus]:
    """Per-flow status for one integration."""
    pk = integration if isinstance(integration, int) else integration.pk
    return flow_statuses([pk])[pk]


def catalogue_entry(code: str) -> errors.ErrorCode | None:
    """The catalogue entry of a code, with every connector's codes loaded."""
    if not code:
        return None
    entry = errors.lookup(code)
    if entry is None:
        registry.load_error_catalogue()
        entry = errors.lookup(code)
    return entry


def error_catalogue() -> list[errors.ErrorCode]:
    """Every registered error code, sorted by system and code.

    Connector packages register their codes on import. A connector package that
    cannot be imported is logged and skipped so the rest of the catalogue still shows.
    """
    registry.load_error_catalogue()
    return sorted(errors.CATALOGUE.values(), key=lambda entry: (entry.system != "brygga", entry.system, entry.code))


def log_counts_by_code() -> dict[str, int]:
    """How many log entries carry each code (for the catalogue page)."""
    return dict(
        LogEntry.objects.exclude(code="").order_by().values("code").annotate(n=Count("id")).values_list("code", "n")
    )


def search_catalogue(entries: Iterable[errors.ErrorCode], *, query: str) -> list[errors.ErrorCode]:
    """The entries whose code, title, hint or system contain every word of `query` (case-insensitive)."""
    words = query.casefold().split()
    if not words:
        return list(entries)
    return [
        entry
        for entry in entries
        if all(word in f"{entry.code} {entry.title} {entry.hint} {entry.system}".casefold() for word in words)
    ]


# --- Tasks and the errors of their records ------------------------------------------

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


def connectors_needing_reconnect() -> list[Connector]:
    """Connectors whose system refused Brygga's authorisation, with how many tasks wait for each."""
    connectors = list(
        Connector.objects.filter(reconnect_needed_at__isnull=False)
        .select_related("integration__merchant")
        .order_by("reconnect_needed_at")
    )
    waiting = dict(
        Task.objects.filter(
            integration_id__in=[c.integration_id for c in connectors],
            status=Task.Status.QUEUED,
            error_code="connector.reconnect_needed",
        )
        .values_list("integration_id")
        .annotate(n=Count("pk"))
        .values_list("integration_id", "n")
    )
    for connector in connectors:
        connector.waiting_tasks = waiting.get(connector.integration_id, 0)
    return connectors
