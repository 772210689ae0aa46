"""ScheduleRule ↔ django-q2 Schedule, and what happens when a rule fires."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from integrations import services
from integrations.models import ScheduleRule, Task

RULE_FUNC = "integrations.jobs.run_schedule_rule"
SWEEPER_NAME = "brygga-sweeper"


def sync_schedule(rule: ScheduleRule) -> Schedule | None:
    """Create, update or remove the django-q2 schedule that fires `rule`."""
    if not rule.enabled:
        remove_schedule(rule)
        return None
    schedule = Schedule.objects.filter(pk=rule.q_schedule_id).first() if rule.q_schedule_id else None
    if schedule is None:
        schedule = Schedule(func=RULE_FUNC, next_run=timezone.now())
    schedule.name = f"brygga-rule-{rule.pk}"
    schedule.cluster = services.priority_cluster() or None
    schedule.args = repr((rule.pk,))
    schedule.repeats = -1
    if rule.schedule_type == ScheduleRule.Type.CRON:
        schedule.schedule_type, schedule.cron, schedule.minutes = Schedule.CRON, rule.cron, None
    else:
        schedule.schedule_type, schedule.minutes, schedule.cron = Schedule.MINUTES, max(1, rule.interval_minutes), None
    schedule.save()
    if rule.q_schedule_id != schedule.pk:
        ScheduleRule.objects.filter(pk=rule.pk).update(q_schedule_id=schedule.pk)
        rule.q_schedule_id = schedule.pk
    return schedule


def remove_schedule(rule: ScheduleRule) -> None:
    if rule.q_schedule_id:
        Schedule.objects.filter(pk=rule.q_schedule_id).delete()
        ScheduleRule.objects.filter(pk=rule.pk).update(q_schedule_id=None)
        rule.q_schedule_id = None


def trigger_rule(rule_id: int) -> list[int]:
    """Queue one task per enabled flow of the rule (unless one is already waiting)."""
    rule = ScheduleRule.objects.select_related("integration").filter(pk=rule_id).first()
    if rule is None or not rule.enabled or not rule.integration.is_active:
        return []
    created = []
    with transaction.atomic():
        for flow in rule.flows.filter(enabled=True):
            waiting = Task.objects.filter(
                flow=flow, trigger=Task.Trigger.SCHEDULE, status__in=[Task.Status.QUEUED, Task.Status.RUNNING]
            ).exists()
            if waiting:
                continue
            task = services.create_task(
                integration=rule.integration, flow=flow, trigger=Task.Trigger.SCHEDULE, params={"mode": rule.mode}
            )
            created.append(task.pk)
        ScheduleRule.objects.filter(pk=rule.pk).update(last_triggered_at=timezone.now())
    return created


def ensure_system_schedules() -> None:
    """The sweeper runs every minute, on the priority queue's cluster when there is one (else on
    whichever cluster picks it up), so a long ordinary queue never delays it."""
    cluster = services.priority_cluster() or None
    schedule, created = Schedule.objects.get_or_create(
        name=SWEEPER_NAME,
        defaults={
            "func": "integrations.jobs.sweep",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "next_run": timezone.now(),
            "cluster": cluster,
        },
    )
    if not created and schedule.cluster != cluster:
        Schedule.objects.filter(pk=schedule.pk).update(cluster=cluster)
    # Rules' schedules follow too (a schedule left on a cluster nobody runs would never fire).
    rules = list(ScheduleRule.objects.exclude(q_schedule_id=None).values_list("q_schedule_id", flat=True))
    Schedule.objects.filter(pk__in=rules).update(cluster=cluster)
    retries = Schedule.objects.filter(name__startswith="brygga-retry-", schedule_type=Schedule.ONCE)
    for pk, args in retries.values_list("pk", "args"):
        task = Task.objects.filter(pk=_task_id(args)).first()
        Schedule.objects.filter(pk=pk).update(cluster=services.queue_of(task) if task else None)


def _task_id(args: str) -> int | None:
    try:
        return int(str(args).strip("(), "))
    except ValueError:
        return None


def on_post_migrate(**kwargs) -> None:
    """After every `migrate` (each deploy): the system schedules exist, on the right cluster."""
    ensure_system_schedules()
