"""`/healthz`: is the database answering, is a task cluster alive, and (with a priority queue)
does a cluster serve the priority queue?

Load balancers and uptime monitors call it without credentials. django-q2 clusters
write their statistics to the shared cache every few seconds; a cluster that stopped
disappears from there within seconds.
"""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from integrations.schedules import SWEEPER_NAME
from integrations.services import priority_cluster

log = logging.getLogger("brygga.health")


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means "not healthy"; the reason goes to the log
        log.exception("health check: database did not answer")
        return False
    return True


def cluster_count() -> int | None:
    """How many django-q2 clusters reported in; None when the statistics cannot be read."""
    from django_q.status import Stat

    try:
        return len(Stat.get_all())
    except Exception:
        log.exception("health check: cluster statistics unreadable")
        return None


def priority_queue_state(priority: str) -> str:
    """ "ok" when a cluster serves the priority queue. Only that queue's cluster fires the sweeper's
    schedule (every minute; django-q2's scheduler looks every 30 s), so a sweeper schedule that is
    overdue by more than `PRIORITY_OVERDUE` means no cluster serves it. (The clusters' statistics
    do not say which queue a cluster serves.)"""
    from django_q.models import Schedule

    schedule = Schedule.objects.filter(name=SWEEPER_NAME).values("next_run", "cluster").first()
    if schedule is None:
        return "no sweeper schedule: run migrate"
    if schedule["cluster"] != priority:
        return "the sweeper is not on the priority queue: run migrate"
    late = (timezone.now() - schedule["next_run"]).total_seconds() if schedule["next_run"] else 0.0
    if late > PRIORITY_OVERDUE:
        return f"no cluster serves {priority} (the sweeper is {late:.0f} s overdue)"
    return "ok"


PRIORITY_OVERDUE = 120  # seconds


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    body: dict[str, str | int] = {}
    healthy = True

    if database_ok():
        body["database"] = "ok"
    else:
        body["database"] = "unavailable"
        healthy = False

    clusters = cluster_count()
    if clusters is None:
        body["cluster"] = "status unreadable"
        healthy = False
    elif clusters == 0:
        body["cluster"] = "no cluster running"
        healthy = False
    else:
        body["cluster"] = "ok"
    body["clusters"] = clusters or 0

    # With a priority queue, a cluster must serve it too: the sweeper, the schedule rules and the
    # fail-safe order polls run only there.
    priority = priority_cluster()
    if priority:
        body["priority_queue"] = priority_queue_state(priority)
        healthy = healthy and body["priority_queue"] == "ok"

    return JsonResponse(body, status=200 if healthy else 503)
