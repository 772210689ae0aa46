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

from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations import registry
from integrations.flows import master_settings
from integrations.models import Connector, Entity, Flow, Integration, Task, TimeHistory

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
