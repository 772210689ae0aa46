"""Under load: the fail-safe poll runs on time on the priority queue while a long ordinary queue
works, and a worker killed mid-task is noticed by its silent heartbeat, not after ten minutes."""

from __future__ import annotations

import time

import pytest

from integrations import services
from integrations.models import Entity, Task
from tests.e2e.harness import QCluster, wait_until
from tests.e2e.test_orders_to_invoices import confirmed, invoices_for, wait_confirmed

pytestmark = pytest.mark.e2e

PRIORITY = "brygga-e2e-priority"


def test_the_fail_safe_poll_runs_on_time_while_the_ordinary_queue_is_long(wired, norce, fortnox, settings):
    settings.BRYGGA = {**settings.BRYGGA, "PRIORITY_CLUSTER": PRIORITY}
    shared = {"Q_PRIORITY_CLUSTER": PRIORITY}
    ordinary = QCluster(workers=1, env=shared).start()
    priority = QCluster(workers=1, env={**shared, "Q_CLUSTER_NAME": PRIORITY}).start()
    try:
        fortnox.hold_after_create = 1.5  # each invoice takes a while: one worker has a long queue
        backlog = [norce.place_order()["ClientOrderRef"] for _ in range(15)]
        assert norce.wait_idle(30)
        norce.lose_pushes = 1
        norce.lose_events = 1
        missed = norce.place_order()["ClientOrderRef"]  # its push and its event are lost
        assert norce.wait_idle(10)

        poll = services.run_flow_now(wired.flows.get().pk, trigger=Task.Trigger.SCHEDULE)
        found = wait_until(
            lambda: Entity.objects.filter(source_id=missed).first(),
            timeout=20,
            message="the poll to store the missed order",
        )
        assert found.received_via == "poll"
        waiting = [ref for ref in backlog if not invoices_for(fortnox, ref)]
        assert len(waiting) >= 5, "the poll ran only after the ordinary queue drained"
        # the poll stores the order before it finishes its row: wait for the row, still ahead of the backlog
        wait_until(
            lambda: Task.objects.get(pk=poll.pk).status == Task.Status.SUCCEEDED,
            timeout=10,
            message="the poll task to finish",
        )
        assert len([ref for ref in backlog if not invoices_for(fortnox, ref)]) >= 3

        fortnox.hold_after_create = 0
        wait_confirmed(norce, [*backlog, missed], timeout=120)
        for ref in [*backlog, missed]:
            assert len(invoices_for(fortnox, ref)) == 1 and len(confirmed(norce, ref)) == 1
    finally:
        fortnox.hold_after_create = 0
        ordinary.stop()
        priority.stop()


def test_a_killed_worker_is_noticed_by_its_silent_heartbeat_and_its_order_invoiced_once(wired, norce, fortnox):
    env = {"TASK_STUCK_AFTER": "3", "TASK_HEARTBEAT_SECONDS": "1"}
    first = QCluster(workers=1, env=env).start()
    fortnox.hold_after_create = 30.0  # a long call: the task makes no progress of its own meanwhile
    ref = norce.place_order()["ClientOrderRef"]
    task = wait_until(
        lambda: Task.objects.filter(trigger=Task.Trigger.ORDER_PUSH, status=Task.Status.RUNNING).first(),
        timeout=30,
        message="the push task to run",
    )
    time.sleep(5)  # longer than TASK_STUCK_AFTER: a live worker's heartbeat keeps it off the sweeper
    assert services.sweep(stuck_after=3)["stuck"] == 0
    first.kill()
    fortnox.hold_after_create = 0
    wait_until(lambda: services.sweep(stuck_after=3)["stuck"], timeout=15, message="the silent task to be requeued")
    second = QCluster(workers=1, env=env).start()
    try:
        wait_confirmed(norce, [ref], timeout=90)
    finally:
        second.stop()
    assert len(invoices_for(fortnox, ref)) == 1
    assert Task.objects.get(pk=task.pk).status == Task.Status.SUCCEEDED
