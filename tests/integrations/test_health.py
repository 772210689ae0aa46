"""/healthz: 200 only when the database answers and a task cluster reports in through the shared cache."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from django_q.status import Stat, Status

from integrations import health


@pytest.fixture(autouse=True)
def empty_cache(db):
    cache.clear()
    yield
    cache.clear()


def report_cluster(cluster_id: str = "test-cluster") -> None:
    """Store a cluster status the way a running django-q2 cluster does."""
    status = Status(pid=4242, cluster_id=cluster_id)
    get_broker().set_stat(Stat.get_key(cluster_id), SignedPackage.dumps(status, True), 30)


def test_unhealthy_without_a_cluster(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "cluster": "no cluster running", "clusters": 0}


def test_healthy_with_a_cluster(client):
    report_cluster()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cluster": "ok", "clusters": 1}
    assert "no-cache" in response["Cache-Control"]


def test_counts_every_cluster(client):
    report_cluster("one")
    report_cluster("two")
    assert client.get("/healthz").json()["clusters"] == 2


def test_unhealthy_when_the_database_fails(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise OSError("connection refused")

    report_cluster()
    monkeypatch.setattr(health, "connection", BrokenConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert response.json()["cluster"] == "ok"


def test_unhealthy_when_cluster_status_cannot_be_read(client, monkeypatch):
    def unreadable(broker=None):
        raise ConnectionError("cache down")

    monkeypatch.setattr(Stat, "get_all", staticmethod(unreadable))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["cluster"] == "status unreadable"


def test_with_a_priority_queue_a_cluster_must_serve_it(client, settings):
    from datetime import timedelta

    from django.utils import timezone
    from django_q.models import Schedule

    from integrations import schedules

    settings.BRYGGA = {**settings.BRYGGA, "PRIORITY_CLUSTER": "brygga-priority"}
    schedules.ensure_system_schedules()
    report_cluster()  # an ordinary cluster runs
    sweeper = Schedule.objects.filter(name=schedules.SWEEPER_NAME)

    # Nobody fired the sweeper for five minutes: only the priority queue's cluster would.
    sweeper.update(next_run=timezone.now() - timedelta(minutes=5))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["priority_queue"] == "no cluster serves brygga-priority (the sweeper is 300 s overdue)"
    assert response.json()["cluster"] == "ok"

    sweeper.update(next_run=timezone.now() + timedelta(seconds=40))  # its cluster fired it
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cluster": "ok", "clusters": 1, "priority_queue": "ok"}

    sweeper.update(cluster=None)  # switched on without migrate: the sweeper runs on either queue
    assert client.get("/healthz").json()["priority_queue"] == "the sweeper is not on the priority queue: run migrate"


def test_needs_no_login(client):
    report_cluster()
    assert client.get("/healthz").status_code == 200
