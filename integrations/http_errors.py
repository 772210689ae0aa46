"""Error pages: JSON with a reason for the public endpoints (receiver, events, OAuth, API),
Django's own pages for the admin, which people read."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

HUMAN_PREFIXES = ("/admin/",)


def _for_people(request: HttpRequest) -> bool:
    return request.path.startswith(HUMAN_PREFIXES)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _for_people(request):
        return defaults.bad_request(request, exception)
    return JsonResponse(
        {"error": "bad request", "reason": "The request could not be read (malformed or too large)."}, status=400
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _for_people(request):
        return defaults.page_not_found(request, exception)
    return JsonResponse(
        {
            "error": "not found",
            "reason": f"No endpoint at {request.path[:200]}. The receiver is "
            "/norce/<integration id>/orders, the event webhook /norce/<integration id>/events and the "
            "status API /api/v1/ (documented at /api/docs/).",
        },
        status=404,
    )
