"""`/healthz`: is the database answering and is a task cluster alive?

Load balancers and uptime monitors call it without credentials. django-q2 clusters
write their statistics to the shared cache every few seconds; a cluster that stopped
disappears from there within seconds.
"""
from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

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

    return JsonResponse(body, status=200 if healthy else 503)
