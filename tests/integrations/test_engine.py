"""The task engine: claiming, outcomes, owned retries, leases, the sweeper, cursors, schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule

from core.errors import SyncError
from integrations import registry, schedules, services
from integrations.models import Entity, Flow, LogEntry, ScheduleRule, Task, TimeHistory
from tests.conftest import build_integration

BEHAVIOUR: dict = {}


def stub_runner(task: Task, ctx: services.FlowContext) -> None:
    """A flow whose per-record outcome is chosen by the test through BEHAVIOUR."""
    if "raise" in BEHAVIOUR:
        raise BEHAVIOUR["raise"]
    for entity_id in task.params.get("entity_ids", []):
        entity = ctx.claim(entity_id)
        if entity is None:
            continue
        outcome = BEHAVIOUR.get(entity.source_id, "ok")
        if outcome == "ok":
            ctx.succeed(entity, f"{entity.source_id} done", target_id=f"T-{entity.source_id}")
        elif outcome == "skip":
            ctx.skip(entity, "skipped")
        elif outcome == "transient":
            ctx.fail(entity, SyncError("http.server_error", "503 from ERP"))
        else:
            ctx.fail(entity, SyncError("fortnox.validation", "bad data", permanent=True))


@pytest.fixture
def stub_flow(db, monkeypatch):
    BEHAVIOUR.clear()
    monkeypatch.setitem(
        registry.FLOWS,
        "stub",
        registry.FlowSpec(
            kind="stub",
            label="Stub",
            data_type="thing",
            direction="a_to_b",
            source_role="commerce",
            target_role="erp",
            runner="tests.integrations.test_engine.stub_runner",
        ),
    )
    integration = build_integration()
    return Flow.objects.create(integration=integration, kind="stub")


def make_entities(flow: Flow, *names: str) -> list[int]:
    return [
        Entity.objects.create(integration=flow.integration, data_type="thing", source_id=n, reference=n).pk
        for n in names
    ]


def new_task(flow: Flow, ids: list[int]) -> Task:
    return Task.objects.create(
        integration=flow.integration, flow=flow, trigger=Task.Trigger.MANUAL, params={"entity_ids": ids}, max_attempts=3
    )


def test_all_records_succeed(stub_flow):
    task = new_task(stub_flow, make_entities(stub_flow, "a", "b"))
    assert services.execute_task(task.pk) == Task.Status.SUCCEEDED
    task.refresh_from_db()
    assert (task.count_total, task.count_succeeded, task.attempts) == (2, 2, 1)
    assert task.finished_at is not None
    assert set(Entity.objects.values_list("status", flat=True)) == {Entity.Status.SYNCED}
    assert LogEntry.objects.filter(task=task, level=LogEntry.Level.EXPORTED).count() == 2


def test_a_task_runs_only_once_when_claimed_twice(stub_flow):
    task = new_task(stub_flow, make_entities(stub_flow, "a"))
    assert services.execute_task(task.pk) == Task.Status.SUCCEEDED
    assert services.execute_task(task.pk) == "not-claimed"
    assert LogEntry.objects.filter(task=task).count() == 1


def test_permanent_record_error_needs_attention_and_others_go_on(stub_flow):
    BEHAVIOUR.update({"bad": "permanent"})
    task = new_task(stub_flow, make_entities(stub_flow, "a", "bad", "c"))
    assert services.execute_task(task.pk) == Task.Status.PARTLY_FAILED
    bad = Entity.objects.get(source_id="bad")
    assert bad.status == Entity.Status.NEEDS_ATTENTION
    assert bad.last_error_code == "fortnox.validation"
    assert Entity.objects.filter(status=Entity.Status.SYNCED).count() == 2
    error = LogEntry.objects.get(task=task, level=LogEntry.Level.ERROR)
    assert error.reference == "bad" and error.code == "fortnox.validation"


def test_only_permanent_failures_mean_needs_attention(stub_flow):
    BEHAVIOUR.update({"bad": "permanent"})
    task = new_task(stub_flow, make_entities(stub_flow, "bad"))
    assert services.execute_task(task.pk) == Task.Status.NEEDS_ATTENTION


def test_transient_record_error_requeues_only_that_record_with_backoff(stub_flow):
    BEHAVIOUR.update({"flaky": "transient"})
    ids = make_entities(stub_flow, "a", "flaky")
    task = new_task(stub_flow, ids)
    before = timezone.now()
    assert services.execute_task(task.pk) == Task.Status.QUEUED
    task.refresh_from_db()
    assert task.params["entity_ids"] == [ids[1]]
    assert task.next_retry_at > before + timedelta(seconds=services.backoff_delay(1) - 1)
    assert Schedule.objects.filter(func=services.RUN_TASK, schedule_type=Schedule.ONCE).count() == 1
    # The retry succeeds once the ERP recovers; counts accumulate over attempts.
    BEHAVIOUR["flaky"] = "ok"
    assert services.execute_task(task.pk) == Task.Status.SUCCEEDED
    task.refresh_from_db()
    assert (task.attempts, task.count_succeeded, task.count_failed) == (2, 2, 1)


def test_transient_errors_stop_after_max_attempts(stub_flow):
    BEHAVIOUR.update({"flaky": "transient"})
    task = new_task(stub_flow, make_entities(stub_flow, "flaky"))
    statuses = [services.execute_task(task.pk) for _ in range(3)]
    assert statuses == [Task.Status.QUEUED, Task.Status.QUEUED, Task.Status.FAILED]


def test_task_level_errors(stub_flow):
    BEHAVIOUR["raise"] = SyncError("auth.failed", "401", permanent=True)
    task = new_task(stub_flow, [])
    assert services.execute_task(task.pk) == Task.Status.NEEDS_ATTENTION
    task.refresh_from_db()
    assert task.error_code == "auth.failed"
    BEHAVIOUR["raise"] = RuntimeError("boom")
    task = new_task(stub_flow, [])
    assert services.execute_task(task.pk) == Task.Status.QUEUED
    assert Task.objects.get(pk=task.pk).error_code == "internal.unexpected"


def test_retry_after_is_honoured(stub_flow):
    BEHAVIOUR["raise"] = SyncError("http.rate_limited", "429", retry_after=900)
    task = new_task(stub_flow, [])
    services.execute_task(task.pk)
    task.refresh_from_db()
    assert task.next_retry_at >= timezone.now() + timedelta(seconds=890)


def test_paused_integration_keeps_the_task_queued(stub_flow):
    stub_flow.integration.status = "paused"
    stub_flow.integration.save()
    task = new_task(stub_flow, make_entities(stub_flow, "a"))
    assert services.execute_task(task.pk) == Task.Status.QUEUED
    assert Entity.objects.get(source_id="a").status == Entity.Status.PENDING


@pytest.mark.parametrize("waiting", ["paused", "busy"])
def test_waiting_is_no_attempt_so_the_first_real_failure_after_it_is_still_retried(stub_flow, waiting):
    task = new_task(stub_flow, make_entities(stub_flow, "a"))  # max_attempts 3
    if waiting == "paused":
        stub_flow.integration.status = "paused"
        stub_flow.integration.save()
    else:
        BEHAVIOUR["raise"] = SyncError("task.busy", "Another follow-up task is sending order statuses", retry_after=5)
    for _ in range(task.max_attempts + 5):
        Task.objects.filter(pk=task.pk).update(next_retry_at=None)
        assert services.execute_task(task.pk) == Task.Status.QUEUED
    task.refresh_from_db()
    assert task.attempts == 0

    stub_flow.integration.status = "active"
    stub_flow.integration.save()
    BEHAVIOUR.clear()
    BEHAVIOUR["a"] = "transient"
    assert services.execute_task(task.pk) == Task.Status.QUEUED  # retried, not failed at once
    task.refresh_from_db()
    assert task.attempts == 1 and task.status == Task.Status.QUEUED


def retry_schedules(task: Task) -> list[Schedule]:
    return list(Schedule.objects.filter(name__startswith=f"brygga-retry-{task.pk}-"))


def test_a_task_that_runs_leaves_no_one_off_schedule_behind_and_its_next_retry_keeps_one(stub_flow):
    BEHAVIOUR["a"] = "transient"
    task = new_task(stub_flow, make_entities(stub_flow, "a"))
    other = new_task(stub_flow, make_entities(stub_flow, "b"))
    later = timezone.now() + timedelta(minutes=5)
    services.enqueue(task.pk, at=later)
    services.enqueue(task.pk, at=later + timedelta(minutes=1))
    services.enqueue(other.pk, at=later)
    assert len(retry_schedules(task)) == 2

    # Started through another path (the sweeper, or a person) before its schedules fired.
    assert services.execute_task(task.pk) == Task.Status.QUEUED
    (retry,) = retry_schedules(task)  # only the one for the retry just decided
    task.refresh_from_db()
    assert abs((retry.next_run - task.next_retry_at).total_seconds()) < 1
    assert len(retry_schedules(other)) == 1  # another task's schedule is left alone

    assert services.execute_task(task.pk) == Task.Status.QUEUED  # attempt 2 of 3
    (again,) = retry_schedules(task)
    assert again.pk != retry.pk


def test_claim_respects_a_live_lease_and_takes_over_an_expired_one(stub_flow):
    (entity_id,) = make_entities(stub_flow, "a")
    first = services.FlowContext(task=new_task(stub_flow, [entity_id]))
    second = services.FlowContext(task=new_task(stub_flow, [entity_id]))
    assert first.claim(entity_id) is not None
    assert second.claim(entity_id) is None
    Entity.objects.filter(pk=entity_id).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert second.claim(entity_id) is not None
    second.succeed(Entity.objects.get(pk=entity_id), "done", target_id="1")
    assert first.claim(entity_id) is None  # synced records are never claimed again


def test_retry_entity_and_retry_task(stub_flow):
    BEHAVIOUR.update({"bad": "permanent"})
    task = new_task(stub_flow, make_entities(stub_flow, "a", "bad"))
    services.execute_task(task.pk)
    BEHAVIOUR["bad"] = "ok"
    retry = services.retry_task(task.pk)
    assert retry.params == {"entity_ids": [Entity.objects.get(source_id="bad").pk]}
    assert retry.trigger == Task.Trigger.RETRY
    assert services.execute_task(retry.pk) == Task.Status.SUCCEEDED
    assert Entity.objects.get(source_id="bad").status == Entity.Status.SYNCED
    again = services.retry_entity(Entity.objects.get(source_id="a").pk)
    assert again.params == {"entity_ids": [Entity.objects.get(source_id="a").pk]}


def test_sweeper_requeues_stuck_tasks(stub_flow):
    task = new_task(stub_flow, [])
    Task.objects.filter(pk=task.pk).update(status=Task.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1))
    fresh = new_task(stub_flow, [])
    Task.objects.filter(pk=fresh.pk).update(status=Task.Status.RUNNING, heartbeat_at=timezone.now())
    queued_before = OrmQ.objects.count()
    result = services.sweep(stuck_after=600)
    assert result["stuck"] == 1
    assert Task.objects.get(pk=task.pk).status == Task.Status.QUEUED
    assert Task.objects.get(pk=fresh.pk).status == Task.Status.RUNNING
    assert OrmQ.objects.count() >= queued_before + 1
    assert LogEntry.objects.filter(task=task, code="task.stuck").exists()


def test_cursor_only_moves_forward(integration):
    now = timezone.now()
    services.advance_cursor(integration, "order", "commerce_to_erp", now)
    services.advance_cursor(integration, "order", "commerce_to_erp", now - timedelta(hours=1))
    assert services.get_cursor(integration, "order", "commerce_to_erp") == now
    TimeHistory.objects.filter(integration=integration).update(
        last_loaded_at=now - timedelta(days=2)
    )  # staff moves it back
    assert services.get_cursor(integration, "order", "commerce_to_erp") == now - timedelta(days=2)


def test_schedule_rule_is_kept_in_step_with_django_q(integration):
    flow = integration.flows.get()
    rule = ScheduleRule.objects.create(integration=integration, name="poll", interval_minutes=10)
    rule.flows.add(flow)
    schedule = schedules.sync_schedule(rule)
    assert (schedule.schedule_type, schedule.minutes, schedule.func) == (Schedule.MINUTES, 10, schedules.RULE_FUNC)
    rule.schedule_type, rule.cron = ScheduleRule.Type.CRON, "0 3 * * 0"
    schedules.sync_schedule(rule)
    schedule.refresh_from_db()
    assert (schedule.schedule_type, schedule.cron) == (Schedule.CRON, "0 3 * * 0")
    assert Schedule.objects.filter(func=schedules.RULE_FUNC).count() == 1
    rule.enabled = False
    schedules.sync_schedule(rule)
    assert not Schedule.objects.filter(func=schedules.RULE_FUNC).exists()


def test_a_firing_rule_queues_one_task_per_flow_and_not_twice(integration, django_capture_on_commit_callbacks):
    flow = integration.flows.get()
    rule = ScheduleRule.objects.create(integration=integration, name="poll", interval_minutes=10)
    rule.flows.add(flow)
    with django_capture_on_commit_callbacks(execute=True):
        first = schedules.trigger_rule(rule.pk)
    second = schedules.trigger_rule(rule.pk)
    assert len(first) == 1 and second == []
    assert Task.objects.get(pk=first[0]).params == {"mode": "incremental"}


def test_only_one_follow_up_task_sends_statuses_at_a_time(integration):
    flow = integration.flows.get(kind="orders_to_erp")
    running = Task.objects.create(
        integration=integration,
        flow=flow,
        trigger=Task.Trigger.FOLLOW_UP,
        params={"acknowledge": True},
        status=Task.Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    waiting = Task.objects.create(
        integration=integration, flow=flow, trigger=Task.Trigger.FOLLOW_UP, params={"acknowledge": True}
    )
    assert services.execute_task(waiting.pk) == Task.Status.QUEUED
    waiting.refresh_from_db()
    assert waiting.error_code == "task.busy" and waiting.next_retry_at is not None
    assert not LogEntry.objects.filter(task=waiting).exists()  # "not now" is not an error
    assert Task.objects.get(pk=running.pk).status == Task.Status.RUNNING


def test_holding_a_record_keeps_other_tasks_out_until_released(stub_flow):
    (entity_id,) = make_entities(stub_flow, "customer-key")
    first = services.FlowContext(task=new_task(stub_flow, []))
    second = services.FlowContext(task=new_task(stub_flow, []))
    with first.holding(entity_id):
        with pytest.raises(SyncError) as busy, second.holding(entity_id, wait=0.3):
            pass
        assert busy.value.code == "task.busy" and not busy.value.permanent
    with second.holding(entity_id, wait=0.3):
        assert Entity.objects.get(pk=entity_id).claimed_by_task == second.task.pk
    assert Entity.objects.get(pk=entity_id).lease_until is None
