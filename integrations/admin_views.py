"""Admin pages beyond the model screens: the error catalogue and connecting a Fortnox account.

Fortnox uses the OAuth authorization-code flow: staff press "Connect to Fortnox" on the
connector, log in at Fortnox and approve; Fortnox sends the browser back to
`/oauth/fortnox/callback` with a one-time code, which is exchanged for tokens here.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core import signing
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from integrations import selectors
from integrations.errors import SyncError
from integrations.models import Connector


def describe_error(exc: SyncError) -> str:
    """One line for staff: what happened, its code, and what to do."""
    text = f"{exc.message} (code {exc.code})"
    return f"{text}. {exc.hint}" if exc.hint else text


def error_catalogue(request: HttpRequest, *, admin_site: admin.AdminSite) -> HttpResponse:
    """Every error code Brygga can record, with its hint, and how often it was seen."""
    counts = selectors.log_counts_by_code()
    entries = [
        {"entry": entry, "seen": counts.get(entry.code, 0)}
        for entry in selectors.error_catalogue()
    ]
    context = {
        **admin_site.each_context(request),
        "title": "Error catalogue",
        "entries": entries,
        "logentry_changelist_url": reverse("admin:integrations_logentry_changelist"),
    }
    return TemplateResponse(request, "admin/integrations/error_catalogue.html", context)


def fortnox_redirect_uri() -> str:
    """The redirect URI registered for Brygga's app in the Fortnox developer portal."""
    return settings.SITE_URL + reverse("fortnox-oauth-callback")


def fortnox_connect(request: HttpRequest, connector: Connector) -> HttpResponse:
    """Send the browser to Fortnox to approve Brygga's access for this connector."""
    from connectors.fortnox import oauth

    url = oauth.authorization_url(
        connector,
        redirect_uri=fortnox_redirect_uri(),
        state=oauth.make_state(connector.pk),
        service_account=bool(connector.settings.get("service_account", False)),
    )
    return HttpResponseRedirect(url)


def _connector_page(connector_id: int | None = None) -> HttpResponseRedirect:
    if connector_id is None:
        return HttpResponseRedirect(reverse("admin:integrations_connector_changelist"))
    return HttpResponseRedirect(reverse("admin:integrations_connector_change", args=[connector_id]))


@staff_member_required
@require_GET
def fortnox_callback(request: HttpRequest) -> HttpResponse:
    """Where Fortnox sends the browser back: check the state, exchange the code, report the outcome."""
    from connectors.fortnox import oauth

    if not request.user.has_perm("integrations.change_connector"):
        messages.error(request, "You may not change connectors, so the Fortnox connection was not stored.")
        return HttpResponseRedirect(reverse("admin:index"))

    try:
        connector_id = oauth.read_state(request.GET.get("state", ""))
    except SyncError as exc:
        messages.error(request, f"Fortnox connection failed: {describe_error(exc)}")
        return _connector_page()
    except (ValueError, LookupError, signing.BadSignature):
        messages.error(
            request,
            "Fortnox connection failed: the answer from Fortnox does not belong to a connection started here, "
            "or it is too old. Press 'Connect to Fortnox' on the connector again.",
        )
        return _connector_page()

    connector = Connector.objects.filter(pk=connector_id, system=Connector.System.FORTNOX).first()
    if connector is None:
        messages.error(request, "Fortnox connection failed: the connector no longer exists.")
        return _connector_page()

    if request.GET.get("error"):
        reason = request.GET.get("error_description") or request.GET.get("error")
        messages.error(
            request,
            f"Fortnox did not grant access: {reason}. "
            "Log in as a Fortnox user with administrator rights and approve all requested scopes.",
        )
        return _connector_page(connector.pk)

    code = request.GET.get("code", "")
    if not code:
        messages.error(request, "Fortnox connection failed: Fortnox sent no authorization code. Try again.")
        return _connector_page(connector.pk)

    try:
        oauth.exchange_code(connector, code=code, redirect_uri=fortnox_redirect_uri())
    except SyncError as exc:
        messages.error(request, f"Fortnox connection failed: {describe_error(exc)}")
    else:
        messages.success(request, f"{connector}: connected to Fortnox.")
    return _connector_page(connector.pk)
