"""The engine recovers by itself: records that wait, runs stopped by the queue's timeout,
leases that follow the worker's heartbeat, and backlogs sent in slices."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import SyncError
from integrations import registry, services
from integrations.engine.clients import client_for
from integrations.models import Entity, Flow, LogEntry, Task
from simulators.norce.server import NorceSimulator
from tests.conftest import build_integration

BEHAVIOUR: dict = {}


def recovery_runner(task: Task, ctx: services.FlowContext) -> None:
    """A flow whose records do what the test says: wait, succeed, fail, stop the run, or hold on."""
    for entity_id in task.params.get("entity_ids", []):
        entity = ctx.claim(entity_id)
        if entity is None:
            continue
        outcome = BEHAVIOUR.get(entity.source_id, "ok")
        if outcome == "wait" and not BEHAVIOUR.get("waited"):
            ctx.wait(entity, seconds=120, code="order.create_unconfirmed", message=f"{entity.source_id} waits")
        elif outcome == "transient":
            ctx.fail(entity, SyncError("http.server_error", "503 from ERP"))
        elif outcome == "timeout":
            raise SystemExit("Task exceeded maximum timeout value (300 seconds)")
        elif outcome == "hold":
            BEHAVIOUR["held"].set()
            BEHAVIOUR["release"].wait(10)
            ctx.succeed(entity, "done", target_id="T")
        else:
            ctx.succeed(entity, f"{entity.source_id} done", target_id=f"T-{entity.source_id}")


@pytest.fixture
def flow(db, monkeypatch) -> Flow:
    BEHAVIOUR.clear()
    monkeypatch.setitem(
        registry.FLOWS,
        "recovery",
        registry.FlowSpec(
            kind="recovery",
            label="Recovery",
            data_type="thing",
            direction="a_to_b",
            source_role="commerce",
            target_role="erp",
            runner="tests.integrations.test_engine_recovery.recovery_runner",
        ),
    )
    return Flow.objects.create(integration=build_integration(), kind="recovery")


def entities(flow: Flow, *names: str) -> list[int]:
    return [
        Entity.objects.create(integration=flow.integration, data_type="thing", source_id=n, reference=n).pk
        for n in names
    ]


def task_for(flow: Flow, ids: list[int], max_attempts: int = 3) -> Task:
    return Task.objects.create(
        integration=flow.integration,
        flow=flow,
        trigger=Task.Trigger.MANUAL,
        params={"entity_ids": ids},
        max_attempts=max_attempts,
    )


# -- records that wait ----------------------------------------------------------------------------


def test_a_waiting_record_is_no_failure_and_no_attempt_and_its_task_comes_back_when_the_wait_is_over(flow):
    BEHAVIOUR.update({"a": "wait"})
    ids = entities(flow, "a", "b")
    task = task_for(flow, ids)
    before = timezone.now()
    for _ in range(task.max_attempts + 2):  # waiting again and again never uses up the task
        Task.objects.filter(pk=task.pk).update(next_retry_at=None)
        assert services.execute_task(task.pk) == Task.Status.QUEUED
    task.refresh_from_db()
    waiting = Entity.objects.get(source_id="a")
    assert (task.attempts, task.params["entity_ids"]) == (0, [waiting.pk])
    assert task.next_retry_at >= before + timedelta(seconds=119)
    assert (waiting.status, waiting.attempts) == (Entity.Status.PENDING, 0)
    assert Entity.objects.get(source_id="b").status == Entity.Status.SYNCED
    assert not LogEntry.objects.filter(task=task, level=LogEntry.Level.ERROR).exists()
    assert LogEntry.objects.filter(entity=waiting, code="order.create_unconfirmed", level=LogEntry.Level.INFO).exists()

    BEHAVIOUR["waited"] = True
    assert services.execute_task(task.pk) == Task.Status.SUCCEEDED
    assert Entity.objects.get(source_id="a").status == Entity.Status.SYNCED


def test_a_record_that_waits_beside_one_that_fails_goes_on_even_when_the_failures_use_up_the_task(flow):
    BEHAVIOUR.update({"a": "wait", "bad": "transient"})
    ids = entities(flow, "a", "bad")
    task = task_for(flow, ids, max_attempts=1)
    assert services.execute_task(task.pk) == Task.Status.FAILED
    (later,) = Task.objects.exclude(pk=task.pk)
    assert later.status == Task.Status.QUEUED and later.params["entity_ids"] == [Entity.objects.get(source_id="a").pk]
    assert later.next_retry_at > timezone.now() + timedelta(seconds=100)


# -- a run stopped by the queue's timeout ---------------------------------------------------------


def test_the_queues_timeout_hands_the_task_back_at_once_and_frees_its_record(flow):
    BEHAVIOUR.update({"b": "timeout"})
    ids = entities(flow, "a", "b", "c")
    task = task_for(flow, ids)
    with pytest.raises(SystemExit):  # the worker still ends as django-q2 intends
        services.execute_task(task.pk)
    task.refresh_from_db()
    held = Entity.objects.get(source_id="b")
    assert task.status == Task.Status.QUEUED and task.error_code == "task.interrupted"
    assert task.next_retry_at is not None and task.next_retry_at < timezone.now() + timedelta(seconds=30)
    assert (held.lease_until, held.claimed_by_task) == (None, None)
    assert Entity.objects.get(source_id="a").status == Entity.Status.SYNCED
    assert LogEntry.objects.filter(task=task, code="task.interrupted").exists()

    BEHAVIOUR.clear()
    assert services.execute_task(task.pk) == Task.Status.SUCCEEDED
    assert set(Entity.objects.values_list("status", flat=True)) == {Entity.Status.SYNCED}


# -- leases follow the heartbeat ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_running_task_keeps_its_record_and_its_row_alive_past_the_lease_while_its_worker_lives(flow, settings):
    settings.BRYGGA = {**settings.BRYGGA, "TASK_STUCK_AFTER": 1, "TASK_HEARTBEAT_SECONDS": 10}
    BEHAVIOUR.update({"a": "hold", "held": threading.Event(), "release": threading.Event()})
    (entity_id,) = entities(flow, "a")
    task = task_for(flow, [entity_id])
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(services.execute_task(task.pk)))
    worker.start()
    try:
        assert BEHAVIOUR["held"].wait(10)
        time.sleep(2.5)  # more than twice the lease, with no progress of the task's own
        other = services.FlowContext(task=task_for(flow, [entity_id]))
        assert other.claim(entity_id) is None  # the lease was renewed by the heartbeat
        assert services.sweep()["stuck"] == 0
        assert Task.objects.get(pk=task.pk).heartbeat_at > timezone.now() - timedelta(seconds=1)
    finally:
        BEHAVIOUR["release"].set()
        worker.join(10)
    assert result == [Task.Status.SUCCEEDED]


@pytest.mark.django_db(transaction=True)
def test_a_dead_workers_task_and_records_free_after_the_short_lease(flow, settings):
    settings.BRYGGA = {**settings.BRYGGA, "TASK_STUCK_AFTER": 1}
    (entity_id,) = entities(flow, "a")
    dead = services.FlowContext(task=task_for(flow, [entity_id]))
    Task.objects.filter(pk=dead.task.pk).update(status=Task.Status.RUNNING, heartbeat_at=timezone.now())
    assert dead.claim(entity_id) is not None  # then its worker dies: nothing beats any more
    time.sleep(1.3)
    assert services.sweep()["stuck"] == 1
    assert services.FlowContext(task=task_for(flow, [entity_id])).claim(entity_id) is not None


# -- the status follow-up works in slices ----------------------------------------------------------


@pytest.fixture
def norce_server() -> Iterator[NorceSimulator]:
    simulator = NorceSimulator(seed=5)
    simulator.start()
    yield simulator
    simulator.stop()


def test_the_status_follow_up_sends_in_slices_and_each_next_slice_starts_after_the_last_one_finished(
    db, norce_server, settings, django_capture_on_commit_callbacks
):
    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False, "TASK_SLICE_SECONDS": 0}
    integration = build_integration(norce_url=norce_server.url)
    flow = integration.flows.get(kind="orders_to_erp")
    refs = sorted(norce_server.place_order(push=False)["ClientOrderRef"] for _ in range(4))
    for n, ref in enumerate(refs):
        Entity.objects.create(
            integration=integration,
            data_type="order",
            source_id=ref,
            reference=ref,
            status=Entity.Status.SYNCED,
            target_id=str(100 + n),
        )
    first = Task.objects.create(
        integration=integration, flow=flow, trigger=Task.Trigger.FOLLOW_UP, params={"acknowledge": True}
    )
    ran = []
    task = first
    while task is not None and len(ran) < 10:
        with django_capture_on_commit_callbacks(execute=True):
            assert services.execute_task(task.pk) == Task.Status.SUCCEEDED  # never "busy": the last one is done
        task.refresh_from_db()
        ran.append(task)
        task = Task.objects.filter(flow=flow, status=Task.Status.QUEUED).first()
        if task is not None:
            assert task.created_at >= ran[-1].finished_at and task.params == {"acknowledge": True}
    assert [t.count_succeeded for t in ran][:4] == [1, 1, 1, 1]
    assert sorted(s["client_order_ref"] for s in norce_server.order_statuses if s["status_name"] == "Confirmed") == refs
    assert not Entity.objects.filter(data_type="order", acknowledged_at__isnull=True).exists()


def test_order_statuses_may_use_the_connect_requests_kept_from_bulk_imports(db, norce_server, settings):
    """50 of Norce Connect's 60 a minute are spent (all a bulk import may use): a status still goes
    out at once, from the reserve, and is counted in the same shared window."""
    import time as clock

    from connectors.norce.client import CONNECT_LIMIT
    from integrations.models import RateLimitBucket

    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": True, "CONNECT_PRIORITY_RESERVE": 10}
    integration = build_integration(norce_url=norce_server.url)
    flow = integration.flows.get(kind="orders_to_erp")
    ref = norce_server.place_order(push=False)["ClientOrderRef"]
    Entity.objects.create(
        integration=integration,
        data_type="order",
        source_id=ref,
        reference=ref,
        status=Entity.Status.SYNCED,
        target_id="100",
    )
    key = f"norce-connect:{client_for(integration.connectors.get(role='commerce')).host}"
    spent = CONNECT_LIMIT.limit - 10
    RateLimitBucket.objects.update_or_create(key=key, defaults={"hits": [clock.time()] * spent})
    task = Task.objects.create(
        integration=integration, flow=flow, trigger=Task.Trigger.FOLLOW_UP, params={"acknowledge": True}
    )
    assert services.execute_task(task.pk) == Task.Status.SUCCEEDED
    assert Entity.objects.get(source_id=ref).acknowledged_at is not None
    # Sent within the same window: a bulk caller would have waited for the 50 hits to expire first.
    assert len(RateLimitBucket.objects.get(key=key).hits) == spent + 1


# -- the sweeper hands out only what has no live message; on-time polls have their own queue ------


def overdue(task: Task) -> None:
    Task.objects.filter(pk=task.pk).update(created_at=timezone.now() - timedelta(minutes=5))


def messages_for(task: Task, key: str | None = None) -> list:
    from django_q.conf import Conf
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    rows = OrmQ.objects.filter(key=key or Conf.CLUSTER_NAME)
    return [row for row in rows if SignedPackage.loads(row.payload)["args"] == (task.pk,)]


def test_the_sweeper_hands_out_again_only_a_task_whose_message_was_lost(flow):
    from django_q.models import OrmQ

    in_queue, scheduled, lost = (task_for(flow, []) for _ in range(3))
    services.enqueue(in_queue.pk)
    services.enqueue(scheduled.pk, at=timezone.now() + timedelta(minutes=10))
    for task in (in_queue, scheduled, lost):
        overdue(task)
    assert len(messages_for(in_queue)) == 1

    for _ in range(3):  # a sweep every minute
        assert services.sweep()["due"] <= 1
    assert len(messages_for(in_queue)) == 1  # never a second copy of a waiting message
    assert messages_for(scheduled) == []  # its schedule will hand it out
    assert len(messages_for(lost)) == 1  # the lost one got exactly one

    OrmQ.objects.all().delete()  # the queue lost everything (a broker without persistence restarted)
    assert services.sweep()["due"] == 2
    assert len(messages_for(in_queue)) == 1 and len(messages_for(lost)) == 1


def test_a_retry_whose_schedule_never_fired_is_handed_out_by_the_sweeper(flow):
    from django_q.models import Schedule

    task = task_for(flow, [])
    services.enqueue(task.pk, at=timezone.now() + timedelta(seconds=20))
    retry = Schedule.objects.filter(name__startswith=f"brygga-retry-{task.pk}-")
    assert retry.count() == 1 and messages_for(task) == []

    # Due 30 s ago: django-q2's scheduler may still fire it (it looks about every 30 s).
    Task.objects.filter(pk=task.pk).update(next_retry_at=timezone.now() - timedelta(seconds=30))
    retry.update(next_run=timezone.now() - timedelta(seconds=30))
    assert services.sweep()["due"] == 0 and messages_for(task) == []

    # Due five minutes ago and never fired (no cluster lived long enough to run the scheduler).
    Task.objects.filter(pk=task.pk).update(next_retry_at=timezone.now() - timedelta(minutes=5))
    retry.update(next_run=timezone.now() - timedelta(minutes=5))
    assert services.sweep()["due"] == 1
    assert len(messages_for(task)) == 1 and not retry.exists()  # handed out once, the schedule gone
    assert services.sweep()["due"] == 0


def cluster_born(at, cluster_id: str) -> None:
    """A live cluster started at `at`, as django-q2 reports it in the shared cache."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage
    from django_q.status import Stat, Status

    status = Status(pid=4242, cluster_id=cluster_id)
    status.tob = at
    get_broker().set_stat(Stat.get_key(cluster_id), SignedPackage.dumps(status, True), 30)


def test_a_message_handed_to_a_cluster_that_died_counts_as_lost(flow, settings):
    from django_q.brokers import get_broker
    from django_q.models import OrmQ
    from django_q.status import Stat

    held = task_for(flow, [])
    services.enqueue(held.pk)
    overdue(held)
    handed_out_at = timezone.now() - timedelta(seconds=30)
    # The ORM queue handed the message to a cluster 30 s ago: locked until `retry` after that.
    OrmQ.objects.filter(pk=messages_for(held)[0].pk).update(
        lock=handed_out_at + timedelta(seconds=settings.Q_CLUSTER["retry"])
    )
    assert get_broker().queue_size() == 0  # nobody else can take it before the lock runs out

    cluster_born(handed_out_at - timedelta(minutes=5), "old")  # alive, and may hold it: wait
    assert services.sweep()["due"] == 0
    assert len(messages_for(held)) == 1

    get_broker().cache.delete(Stat.get_key("old"))  # that cluster died; a new one started since
    cluster_born(handed_out_at + timedelta(seconds=2), "new")
    assert services.sweep()["due"] == 1
    assert len(messages_for(held)) == 2 and get_broker().queue_size() == 1  # one copy to take now
    assert services.sweep()["due"] == 0  # and never another


def test_an_on_time_poll_and_its_retries_go_to_the_priority_queue_and_the_rest_to_the_ordinary_one(
    integration, settings
):
    from django_q.models import Schedule

    settings.BRYGGA = {**settings.BRYGGA, "PRIORITY_CLUSTER": "brygga-priority"}
    orders = integration.flows.get(kind="orders_to_erp")
    poll = Task.objects.create(integration=integration, flow=orders, trigger=Task.Trigger.SCHEDULE)
    push = Task.objects.create(integration=integration, flow=orders, trigger=Task.Trigger.ORDER_PUSH)
    services.enqueue(poll.pk)
    services.enqueue(push.pk)
    services.enqueue(poll.pk, at=timezone.now() + timedelta(minutes=1))
    assert len(messages_for(poll, "brygga-priority")) == 1 and messages_for(poll) == []
    assert len(messages_for(push)) == 1 and messages_for(push, "brygga-priority") == []
    assert Schedule.objects.get(name__startswith=f"brygga-retry-{poll.pk}-").cluster == "brygga-priority"
    # The priority queue's messages count as live for the sweeper too.
    overdue(poll)
    Schedule.objects.filter(name__startswith=f"brygga-retry-{poll.pk}-").delete()
    services.sweep()
    assert len(messages_for(poll, "brygga-priority")) == 1


def test_the_sweeper_and_the_rules_follow_the_priority_cluster_setting(integration, settings):
    from django_q.models import Schedule

    from integrations import schedules
    from integrations.models import ScheduleRule

    rule = ScheduleRule.objects.create(integration=integration, name="poll", interval_minutes=5)
    rule.flows.add(integration.flows.get(kind="orders_to_erp"))
    schedules.sync_schedule(rule)
    settings.BRYGGA = {**settings.BRYGGA, "PRIORITY_CLUSTER": "brygga-priority"}
    schedules.ensure_system_schedules()
    assert Schedule.objects.get(name=schedules.SWEEPER_NAME).cluster == "brygga-priority"
    assert Schedule.objects.get(name=f"brygga-rule-{rule.pk}").cluster == "brygga-priority"
    settings.BRYGGA = {**settings.BRYGGA, "PRIORITY_CLUSTER": ""}
    schedules.ensure_system_schedules()  # switched off again: nothing is left on a cluster nobody runs
    assert set(Schedule.objects.values_list("cluster", flat=True)) == {None}


def test_a_scheduled_poll_only_stores_and_a_follow_up_on_the_ordinary_queue_invoices(
    db, norce_server, fortnox, settings, django_capture_on_commit_callbacks
):
    from integrations.engine.tokens import store_tokens
    from integrations.models import Connector

    settings.BRYGGA = {**settings.BRYGGA, "RATE_LIMITS": False, "PRIORITY_CLUSTER": "brygga-priority"}
    integration = build_integration(
        norce_url=norce_server.url, fortnox_url=fortnox.url, flow_settings={"freight_article": "FRAKT"}
    )
    store_tokens(integration.connectors.get(role=Connector.Role.ERP), fortnox.issue_tokens("fortnox-client"))
    flow = integration.flows.get(kind="orders_to_erp")
    ref = norce_server.place_order(push=False)["ClientOrderRef"]
    poll = Task.objects.create(
        integration=integration, flow=flow, trigger=Task.Trigger.SCHEDULE, params={"mode": "incremental"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.execute_task(poll.pk) == Task.Status.SUCCEEDED
    order = Entity.objects.get(data_type="order", source_id=ref)
    assert order.status == Entity.Status.PENDING and fortnox.invoices == {}
    (work,) = Task.objects.filter(status=Task.Status.QUEUED, params__pending=True)
    assert messages_for(work) and not messages_for(work, "brygga-priority")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.execute_task(work.pk) == Task.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.status == Entity.Status.SYNCED
    assert [i["ExternalInvoiceReference1"] for i in fortnox.invoices.values()] == [ref]
