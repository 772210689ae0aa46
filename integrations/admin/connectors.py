"""Admin screen for connectors: a system's address, settings and write-only credentials."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from connectors.fortnox import settings as fortnox_settings
from core.errors import SyncError
from integrations import services
from integrations.admin.display import BryggaAdmin, IntegrationFilter, ObjectButton, ago, badge, link, local
from integrations.admin.views import describe_error, fortnox_connect
from integrations.models import Connector

# Secret values per system. Stored encrypted, written from the form, never shown again.
CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    Connector.System.NORCE: ("client_id", "client_secret", "receiver_username", "receiver_password", "event_secret"),
    Connector.System.FORTNOX: ("client_id", "client_secret"),
    Connector.System.VISMANET: ("client_id", "client_secret"),
}
CREDENTIAL_LABELS: dict[str, tuple[str, str]] = {
    "client_id": ("Client id", "The OAuth client id of the API application."),
    "client_secret": ("Client secret", "The OAuth client secret of the API application."),
    "receiver_username": (
        "Order receiver username",
        "Norce only: the user name Norce sends (Basic auth) when it pushes orders to Brygga.",
    ),
    "receiver_password": (
        "Order receiver password",
        "Norce only: the password Norce sends (Basic auth) when it pushes orders to Brygga.",
    ),
    "event_secret": ("Event secret", "Norce only: the shared secret Norce sends with event notifications."),
}


def credential_keys(system: str | None) -> tuple[str, ...]:
    """The credential keys for a system; all known keys when the system is not chosen yet."""
    if system in CREDENTIAL_KEYS:
        return CREDENTIAL_KEYS[system]
    keys: list[str] = []
    for system_keys in CREDENTIAL_KEYS.values():
        keys.extend(k for k in system_keys if k not in keys)
    return tuple(keys)


def credential_field(key: str) -> str:
    return f"credential_{key}"


def credential_input(key: str) -> forms.CharField:
    label, help_text = CREDENTIAL_LABELS[key]
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


def https_url_fields(field: models.Field, **kwargs: Any) -> forms.Field | None:
    """API hosts are HTTPS: an address typed without a scheme gets https://."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


FORTNOX_GRANT_FIELDS = ("fortnox_grant", "fortnox_tenant_id")


def fortnox_grant_fields() -> dict[str, forms.Field]:
    """The Fortnox grant inputs; they edit the settings JSON's keys "grant" and "tenant_id"."""
    return {
        "fortnox_grant": forms.ChoiceField(
            label="OAuth grant",
            choices=list(fortnox_settings.GRANTS.items()),
            required=False,
            initial=fortnox_settings.AUTHORIZATION_CODE,
            help_text='Fortnox only: how Brygga gets its tokens (settings key "grant"). Authorization code: a '
            "Fortnox administrator presses 'Connect to Fortnox'; Brygga keeps a refresh token. Client "
            "credentials: a service account approved once by a Fortnox system administrator through "
            "'Connect to Fortnox'; tokens are then fetched with the tenant id, without a refresh token.",
        ),
        "fortnox_tenant_id": forms.CharField(
            label="Tenant id",
            required=False,
            strip=True,
            help_text='Fortnox only, required with client credentials (settings key "tenant_id"): the company\'s '
            "Fortnox DatabaseNumber, shown by 'Test connection' as 'tenant …'.",
        ),
    }


class ConnectorForm(forms.ModelForm):
    """Connector settings plus write-only credential inputs: empty means "keep the current value".

    Every credential input is declared here; those that do not belong to the
    connector's system are removed when the form is built.
    """

    credential_client_id = credential_input("client_id")
    credential_client_secret = credential_input("client_secret")
    credential_receiver_username = credential_input("receiver_username")
    credential_receiver_password = credential_input("receiver_password")
    credential_event_secret = credential_input("event_secret")
    fortnox_grant = fortnox_grant_fields()["fortnox_grant"]
    fortnox_tenant_id = fortnox_grant_fields()["fortnox_tenant_id"]

    class Meta:
        model = Connector
        fields = ("integration", "system", "role", "base_url", "auth_url", "settings")
        formfield_callback = https_url_fields

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        keys = credential_keys(self.instance.system if self.instance.pk else None)
        stored = self.instance.credentials if self.instance.pk else {}
        if self.instance.pk and self.instance.system != Connector.System.FORTNOX:
            for name in FORTNOX_GRANT_FIELDS:
                self.fields.pop(name, None)
        elif self.instance.pk and isinstance(self.instance.settings, dict) and "fortnox_grant" in self.fields:
            self.fields["fortnox_grant"].initial = self.instance.settings.get("grant") or "authorization_code"
            self.fields["fortnox_tenant_id"].initial = str(self.instance.settings.get("tenant_id") or "")
        for key in CREDENTIAL_LABELS:
            name = credential_field(key)
            if name not in self.fields:
                continue
            if key not in keys:
                del self.fields[name]
            elif self.instance.pk:
                state = "Currently set; leave empty to keep it." if stored.get(key) else "Not set."
                self.fields[name].help_text = f"{state} {CREDENTIAL_LABELS[key][1]}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        system = cleaned.get("system") or self.instance.system
        if system == Connector.System.FORTNOX and "fortnox_grant" in self.fields and "settings" in cleaned:
            self._clean_fortnox_grant(cleaned)
        return cleaned

    def _clean_fortnox_grant(self, cleaned: dict[str, Any]) -> None:
        """Merge the Grant and Tenant id inputs into the settings JSON and validate them together.

        An input the user changed wins over the same key typed in the JSON.
        """
        raw = cleaned.get("settings")
        if raw in (None, ""):
            raw = {}
        if not isinstance(raw, dict):
            self.add_error("settings", "Connector settings must be a JSON object.")
            return
        merged = dict(raw)
        for name, key in (("fortnox_grant", "grant"), ("fortnox_tenant_id", "tenant_id")):
            if name in self.changed_data or key not in merged:
                value = cleaned.get(name)
                if value:
                    merged[key] = value
                else:
                    merged.pop(key, None)
        try:
            cleaned["settings"] = fortnox_settings.validate_settings(merged)
        except ValueError as exc:
            for problem in str(exc).split("; "):
                field = (
                    "fortnox_tenant_id"
                    if problem.startswith("'tenant_id'")
                    else "fortnox_grant"
                    if problem.startswith("'grant'")
                    else "settings"
                )
                self.add_error(field, problem[0].upper() + problem[1:] + ".")

    def credential_values(self) -> dict[str, str]:
        """The credentials typed in, limited to the keys of the connector's system."""
        system = self.cleaned_data.get("system") or self.instance.system
        return {
            key: value
            for key in CREDENTIAL_KEYS.get(system, ())
            if (value := self.cleaned_data.get(credential_field(key)))
        }


@admin.register(Connector)
class ConnectorAdmin(BryggaAdmin):
    form = ConnectorForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = (
        "__str__",
        "integration_link",
        "system",
        "role",
        "base_url",
        "credentials_summary",
        "token_status",
        "last_test",
    )
    list_filter = ("system", "role", ("integration", IntegrationFilter))
    search_fields = ("integration__name", "integration__merchant__name", "base_url")
    list_select_related = ("integration__merchant",)
    readonly_fields = (
        "credential_status",
        "grant_status",
        "token_status",
        "last_test",
        "last_test_message",
        "norce_endpoints",
        "updated_at",
    )
    actions = ("test_connections",)
    object_views = (("test", "test_connection_view", True), ("fortnox-connect", "fortnox_connect_view", True))

    def get_fieldsets(self, request: HttpRequest, obj: Connector | None = None):  # type: ignore[override]
        keys = [credential_field(key) for key in credential_keys(obj.system if obj else None)]
        grant_fields = list(FORTNOX_GRANT_FIELDS)
        if obj is None:
            return (
                (None, {"fields": ("integration", "system", "role", "base_url", "auth_url", "settings")}),
                ("Credentials", {"fields": keys}),
                ("Fortnox grant", {"fields": grant_fields}),
            )
        fortnox = obj.system == Connector.System.FORTNOX
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ("integration", "system", "role", "base_url", "auth_url", "settings")}),
            ("Credentials", {"fields": ["credential_status", *keys, *(grant_fields if fortnox else [])]}),
            (
                "Connection",
                {
                    "fields": (
                        *(("grant_status",) if fortnox else ()),
                        "token_status",
                        "last_test",
                        "last_test_message",
                        "updated_at",
                    )
                },
            ),
        ]
        if obj.system == Connector.System.NORCE:
            fieldsets.append(("Addresses to enter in Norce admin", {"fields": ("norce_endpoints",)}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Connector | None = None):  # type: ignore[override]
        fields = tuple(self.readonly_fields)
        return fields + ("integration", "system") if obj else fields

    def save_model(self, request: HttpRequest, obj: Connector, form: ConnectorForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        values = form.credential_values()
        if values:
            services.set_connector_credentials(obj.pk, values)

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: Connector) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Credentials")
    def credentials_summary(self, obj: Connector) -> str:
        missing = [key for key in credential_keys(obj.system) if not obj.credentials.get(key)]
        return f"missing: {', '.join(missing)}" if missing else "all set"

    @admin.display(description="Stored credentials")
    def credential_status(self, obj: Connector) -> SafeString:
        rows = [
            (CREDENTIAL_LABELS.get(key, (key, ""))[0], "set" if obj.credentials.get(key) else "not set")
            for key in credential_keys(obj.system)
        ]
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="Grant")
    def grant_status(self, obj: Connector) -> str:
        try:
            return fortnox_settings.parse_auth_settings(obj.settings).label
        except ValueError as exc:
            return f"Invalid: {exc}"

    @admin.display(description="Token")
    def token_status(self, obj: Connector) -> str | SafeString:
        if obj.needs_reconnect:
            return format_html(
                "{} since {}: {}",
                badge("needs_attention", f"Reconnect {obj.get_system_display()}"),
                local(obj.reconnect_needed_at),
                obj.reconnect_reason or "access was refused",
            )

        tokens = obj.tokens or {}
        expires = obj.token_expires_at
        service_account = (
            obj.system == Connector.System.FORTNOX
            and (obj.settings or {}).get("grant") == fortnox_settings.CLIENT_CREDENTIALS
        )
        if service_account and tokens.get("grant") != fortnox_settings.CLIENT_CREDENTIALS:
            return "No service-account token yet (fetched by client credentials on the first call)."
        if (
            obj.system == Connector.System.FORTNOX
            and not service_account
            and (not tokens.get("refresh_token") or tokens.get("grant") == fortnox_settings.CLIENT_CREDENTIALS)
        ):
            return "Not connected: press 'Connect to Fortnox'."
        if not tokens.get("access_token") or expires is None:
            return "Connected; no access token yet." if tokens else "No token yet (fetched on the first call)."
        when = local(expires)
        prefix = "Connected; " if obj.system == Connector.System.FORTNOX else ""
        if expires > timezone.now():
            return f"{prefix}access token expires at {when}"
        return f"{prefix}access token expired at {when} (renewed on the next call)"

    @admin.display(description="Last test")
    def last_test(self, obj: Connector) -> SafeString | str:
        if obj.last_test_at is None:
            return "never tested"
        outcome = badge("succeeded", "works") if obj.last_test_ok else badge("failed", "failed")
        return format_html("{} {}", outcome, ago(obj.last_test_at))

    @admin.display(description="Norce addresses")
    def norce_endpoints(self, obj: Connector) -> SafeString:
        orders = settings.SITE_URL + reverse("norce-order-receiver", args=[obj.integration_id])
        events = settings.SITE_URL + reverse("norce-events", args=[obj.integration_id])
        return format_html(
            "<table><tr><th>Order receiver URL</th><td><code>{}</code></td></tr>"
            "<tr><th>Event URL</th><td><code>{}</code></td></tr></table>",
            orders,
            events,
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):  # type: ignore[override]
        obj = self.get_object(request, unquote(object_id))
        if request.method == "GET" and obj is not None and obj.needs_reconnect:
            how = "press 'Connect to Fortnox' below" if obj.system == Connector.System.FORTNOX else "connect it again"
            messages.error(
                request,
                f"{obj.get_system_display()} no longer accepts Brygga's authorisation: "
                f"{obj.reconnect_reason or 'no reason given'} To go on, {how}; the "
                "integration's tasks wait meanwhile and continue by themselves afterwards.",
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def object_buttons(self, request: HttpRequest, obj: Connector) -> list[ObjectButton]:
        buttons = [ObjectButton("Test connection", self.object_view_url(obj, "test"))]
        if obj.system == Connector.System.FORTNOX:
            buttons.append(ObjectButton("Connect to Fortnox", self.object_view_url(obj, "fortnox-connect")))
        return buttons

    def _test(self, request: HttpRequest, connector: Connector) -> None:
        try:
            ok, message = services.test_connection(connector.pk)
        except SyncError as exc:
            ok, message = False, describe_error(exc)
        if ok:
            self.message_user(request, f"{connector}: connection works. {message}", messages.SUCCESS)
        else:
            self.message_user(request, f"{connector}: connection failed. {message}", messages.ERROR)

    def test_connection_view(self, request: HttpRequest, obj: Connector) -> HttpResponse:
        self._test(request, obj)
        return self.back_to(obj)

    def fortnox_connect_view(self, request: HttpRequest, obj: Connector) -> HttpResponse:
        if obj.system != Connector.System.FORTNOX:
            self.message_user(request, "Only Fortnox connectors connect through Fortnox.", messages.ERROR)
            return self.back_to(obj)
        try:
            return fortnox_connect(request, obj)
        except SyncError as exc:
            self.message_user(request, f"Cannot connect to Fortnox: {describe_error(exc)}", messages.ERROR)
            return self.back_to(obj)

    @admin.action(description="Test connection", permissions=["operate"])
    def test_connections(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        for connector in queryset.select_related("integration__merchant"):
            self._test(request, connector)
