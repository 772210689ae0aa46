"""Admin pages beyond the model screens: the error catalogue and connecting a system by consent.

A system whose declaration names an OAuth module (`SystemDeclaration.oauth`: Fortnox) uses the
authorization-code flow: staff press "Connect to <system>" on the connector, log in at the
system and approve; it sends the browser back to `/oauth/fortnox/callback` (the address
registered in Fortnox's developer portal, and the one callback for every such system) with a
one-time code and the signed state naming the connector, and the code is exchanged for tokens here.
"""

from __future__ import annotations

import logging
from importlib import import_module
from types import ModuleType

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from core.errors import SyncError
from integrations import registry, selectors, services
from integrations.engine.clients import client_for
from integrations.models import Connector


def describe_error(exc: SyncError) -> str:
    """One line for staff: what happened, its code, and what to do."""
    text = f"{exc.message} (code {exc.code})"
    return f"{text}. {exc.hint}" if exc.hint else text


def error_catalogue(request: HttpRequest, *, admin_site: admin.AdminSite) -> HttpResponse:
    """Every error code Brygga can record, with its hint, and how often it was seen."""
    counts = selectors.log_counts_by_code()
    query = request.GET.get("q", "").strip()[:200]
    catalogue = selectors.error_catalogue()
    found = selectors.search_catalogue(catalogue, query=query)
    rows = [{"entry": entry, "seen": counts.get(entry.code, 0)} for entry in found]
    sections = [
        (
            "errors-permanent",
            "Errors that need a person",
            "Follow the hint, then retry the record.",
            [row for row in rows if not row["entry"].is_info and row["entry"].permanent],
        ),
        (
            "errors-transient",
            "Errors Brygga retries by itself",
            "Transient: retried with backoff; act only if they persist.",
            [row for row in rows if not row["entry"].is_info and not row["entry"].permanent],
        ),
        (
            "information",
            "Information: outcomes and notices, not failures",
            "Lines on a record's timeline that need nobody.",
            [row for row in rows if row["entry"].is_info],
        ),
    ]
    context = {
        **admin_site.each_context(request),
        "title": "Error catalogue",
        "sections": sections,
        "query": query,
        "found": len(found),
        "total": len(catalogue),
        "logentry_changelist_url": reverse("admin:integrations_logentry_changelist"),
    }
    return TemplateResponse(request, "admin/integrations/error_catalogue.html", context)


def oauth_redirect_uri() -> str:
    """The redirect URI registered for Brygga's app in the system's developer portal."""
    return settings.SITE_URL + reverse("fortnox-oauth-callback")


def oauth_connect(request: HttpRequest, connector: Connector) -> HttpResponse:
    """Send the browser to the connector's system to approve Brygga's access for this connector.

    Only a POST (the "Connect to …" button's form) starts the flow: following a link or
    reloading a page never does. Fortnox's consent page asks for a service account when
    the connector's grant is client credentials.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    oauth = registry.oauth_module(connector.system)
    if oauth is None:
        return _connector_page(connector.pk)
    url = oauth.authorization_url(
        connector,
        redirect_uri=oauth_redirect_uri(),
        state=oauth.make_state(connector.pk),
    )
    return HttpResponseRedirect(url)


def _consent_systems() -> dict[str, list[str]]:
    """The OAuth modules of the declared systems, each with the keys of the systems using it."""
    modules: dict[str, list[str]] = {}
    for key, declared in registry.systems().items():
        if declared.oauth:
            modules.setdefault(declared.oauth, []).append(key)
    return modules


def _consent_label() -> str:
    """Who sends the browser back here, before the state names a connector: "Fortnox"."""
    labels = [declared.label for declared in registry.systems().values() if declared.oauth]
    return " or ".join(labels) or "OAuth"


def _read_state(state: str) -> tuple[int, ModuleType]:
    """The connector id in the signed state, and the OAuth module that signed it.

    Raises what the modules' `read_state` raise: a SyncError at once, else the last refusal.
    """
    refusal: Exception = signing.BadSignature("no system connects by consent")
    for path in _consent_systems():
        oauth = import_module(path)
        try:
            return oauth.read_state(state), oauth
        except (ValueError, LookupError, TypeError, OverflowError, signing.BadSignature) as exc:
            refusal = exc
    raise refusal


def _connector_page(connector_id: int | None = None) -> HttpResponseRedirect:
    if connector_id is None:
        return HttpResponseRedirect(reverse("admin:integrations_connector_changelist"))
    return HttpResponseRedirect(reverse("admin:integrations_connector_change", args=[connector_id]))


# Authorization codes are short; anything longer, or with control characters, is not one.
_MAX_CODE_LENGTH = 2000


def _callback_refused(request: HttpRequest, reason: str, label: str) -> HttpResponse:
    """A 400 for a callback that does not belong to a connection started here: a readable page
    for a browser (which asks for HTML), the reason as JSON for any other client."""
    logging.getLogger("brygga.oauth").warning("%s callback refused: %s", label, reason)
    if "text/html" not in request.headers.get("Accept", ""):
        return JsonResponse({"error": f"{label} connection failed", "reason": reason}, status=400)
    context = {
        **admin.site.each_context(request),
        "title": f"{label} connection failed",
        "reason": f"{label} connection failed: {reason}",
        "system_label": label,
        "connectors_url": reverse("admin:integrations_connector_changelist"),
    }
    return TemplateResponse(request, "admin/integrations/fortnox_callback_refused.html", context, status=400)


@staff_member_required
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    """Where the system sends the browser back: check the state, exchange the code, report the outcome.

    The signed state names the connector, and so the system. A request that does not belong
    to a connection started here (no or a forged or expired state, a connector that is gone,
    a code the system cannot have issued) gets a 400 page saying why; the system's own
    answers (denied, or the exchange failed) go back to the connector with a message.
    """
    label = _consent_label()
    if not request.user.has_perm("integrations.change_connector"):
        messages.error(request, f"You may not change connectors, so the {label} connection was not stored.")
        return HttpResponseRedirect(reverse("admin:index"))

    try:
        connector_id, oauth = _read_state(request.GET.get("state", ""))
    except SyncError as exc:
        return _callback_refused(request, describe_error(exc), label)
    except (ValueError, LookupError, TypeError, OverflowError, signing.BadSignature):
        return _callback_refused(
            request,
            f"the answer from {label} does not belong to a connection started here, or it is too old. "
            f"Press 'Connect to {label}' on the connector again.",
            label,
        )

    systems = _consent_systems()[oauth.__name__]
    connector = Connector.objects.filter(pk=connector_id, system__in=systems).first()
    if connector is None:
        return _callback_refused(request, "the connector no longer exists.", label)
    label = connector.get_system_display()

    if request.GET.get("error"):
        reason = (request.GET.get("error_description") or request.GET.get("error") or "")[:300]
        messages.error(
            request,
            f"{label} did not grant access: {reason}. "
            f"Log in as a {label} user with administrator rights and approve all requested scopes.",
        )
        return _connector_page(connector.pk)

    code = request.GET.get("code", "")
    if not code:
        messages.error(request, f"{label} connection failed: {label} sent no authorization code. Try again.")
        return _connector_page(connector.pk)
    if len(code) > _MAX_CODE_LENGTH or not code.isprintable():
        return _callback_refused(request, f"the authorization code is not one {label} issues.", label)

    try:
        client_for(connector).exchange_code(code=code, redirect_uri=oauth_redirect_uri())
    except SyncError as exc:
        messages.error(request, f"{label} connection failed: {describe_error(exc)}")
    else:
        resumed = services.resume_after_reconnect(connector.pk)
        messages.success(
            request,
            f"{connector}: connected to {label}." + (f" {resumed} waiting task(s) go on now." if resumed else ""),
        )
    return _connector_page(connector.pk)
