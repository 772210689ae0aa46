"""Admin screen for connectors: a system's address, settings and write-only credentials."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from connectors.fortnox import settings as fortnox_settings
from core.errors import SyncError
from core.systems import Credential
from integrations import registry, services
from integrations.admin.display import BryggaAdmin, IntegrationFilter, ObjectButton, ago, badge, link, local
from integrations.admin.views import describe_error, oauth_connect
from integrations.models import Connector


def system_credentials(system: str | None) -> tuple[Credential, ...]:
    """The credentials a system declares; every declared system's (each key once) when the system
    is not chosen yet or declared by no package in settings.BRYGGA_CONNECTORS."""
    declared = registry.system(system) if system else None
    if declared is not None:
        return declared.credentials
    union: dict[str, Credential] = {}
    for each in registry.systems().values():
        for credential in each.credentials:
            union.setdefault(credential.key, credential)
    return tuple(union.values())


def credential_keys(system: str | None) -> tuple[str, ...]:
    return tuple(credential.key for credential in system_credentials(system))


def credential_field(key: str) -> str:
    return f"credential_{key}"


def credential_input(credential: Credential) -> forms.CharField:
    return forms.CharField(
        label=credential.label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=credential.help_text,
    )


def consent_label(system: str) -> str | None:
    """The system's name when staff connect it by consent (its declaration names an OAuth module)."""
    declared = registry.system(system)
    return declared.label if declared and declared.oauth else None


def https_url_fields(field: models.Field, **kwargs: Any) -> forms.Field | None:
    """API hosts are HTTPS: an address typed without a scheme gets https://."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


FORTNOX_GRANT_FIELDS = ("fortnox_grant", "fortnox_tenant_id")
FORTNOX_SETTINGS = f"{fortnox_settings.__name__}.validate_settings"


def takes_fortnox_grant(system: str | None) -> bool:
    """Whether the system's settings are Fortnox's, with their "grant" and "tenant_id" keys.
    Without a system: whether any declared system's are."""
    if system is None:
        return any(each.settings_validator == FORTNOX_SETTINGS for each in registry.systems().values())
    declared = registry.system(system)
    return declared is not None and declared.settings_validator == FORTNOX_SETTINGS


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

    `connector_form()` declares an input for every credential of every declared system;
    those that do not belong to the connector's system are removed when the form is built.
    """

    fortnox_grant = fortnox_grant_fields()["fortnox_grant"]
    fortnox_tenant_id = fortnox_grant_fields()["fortnox_tenant_id"]

    class Meta:
        model = Connector
        fields = ("integration", "system", "role", "base_url", "auth_url", "settings")
        formfield_callback = https_url_fields

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        system = self.instance.system if self.instance.pk else None
        own = {credential.key: credential for credential in system_credentials(system)}
        stored = self.instance.credentials if self.instance.pk else {}
        if not takes_fortnox_grant(system):
            for name in FORTNOX_GRANT_FIELDS:
                self.fields.pop(name, None)
        elif self.instance.pk and isinstance(self.instance.settings, dict) and "fortnox_grant" in self.fields:
            self.fields["fortnox_grant"].initial = self.instance.settings.get("grant") or "authorization_code"
            self.fields["fortnox_tenant_id"].initial = str(self.instance.settings.get("tenant_id") or "")
        for credential in system_credentials(None):
            name = credential_field(credential.key)
            if name not in self.fields:
                continue
            if credential.key not in own:
                del self.fields[name]
            elif self.instance.pk:
                state = "Currently set; leave empty to keep it." if stored.get(credential.key) else "Not set."
                self.fields[name].help_text = f"{state} {own[credential.key].help_text}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        system = cleaned.get("system") or self.instance.system
        if takes_fortnox_grant(system) and "fortnox_grant" in self.fields and "settings" in cleaned:
            self._clean_fortnox_grant(cleaned)
        elif "settings" in cleaned:
            self._clean_declared_settings(system, cleaned)
        return cleaned

    def _clean_declared_settings(self, system: str | None, cleaned: dict[str, Any]) -> None:
        """The settings JSON checked by the system's declared validator, when it has one."""
        declared = registry.system(system or "")
        if declared is None or not declared.settings_validator:
            return
        raw = cleaned.get("settings")
        if not isinstance(raw, dict):
            self.add_error("settings", "Connector settings must be a JSON object.")
            return
        try:
            cleaned["settings"] = registry.import_string(declared.settings_validator)(raw)
        except ValueError as exc:
            self.add_error("settings", f"{exc}.")

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
        declared = registry.system(self.cleaned_data.get("system") or self.instance.system)
        return {
            credential.key: value
            for credential in (declared.credentials if declared else ())
            if (value := self.cleaned_data.get(credential_field(credential.key)))
        }


def connector_form() -> type[ConnectorForm]:
    """The connector form with an input for every credential of every declared system."""
    inputs = {credential_field(c.key): credential_input(c) for c in system_credentials(None)}
    return type(ConnectorForm.__name__, (ConnectorForm,), inputs)


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
    object_views = (("test", "test_connection_view", True),)

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        connect = path(
            "<path:object_id>/<slug:system>-connect/",
            self.admin_site.admin_view(self.oauth_connect_view),
            name=f"{opts.app_label}_{opts.model_name}_oauth_connect",
        )
        return [connect, *super().get_urls()]

    def get_form(self, request: HttpRequest, obj: Connector | None = None, change: bool = False, **kwargs: Any):
        kwargs.setdefault("form", connector_form())
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Connector | None = None):  # type: ignore[override]
        keys = [credential_field(key) for key in credential_keys(obj.system if obj else None)]
        grant_fields = list(FORTNOX_GRANT_FIELDS)
        if obj is None:
            return (
                (None, {"fields": ("integration", "system", "role", "base_url", "auth_url", "settings")}),
                ("Credentials", {"fields": keys}),
                *((("Fortnox grant", {"fields": grant_fields}),) if takes_fortnox_grant(None) else ()),
            )
        fortnox = takes_fortnox_grant(obj.system)
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
            (credential.label, "set" if obj.credentials.get(credential.key) else "not set")
            for credential in system_credentials(obj.system)
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
        consent = consent_label(obj.system)
        service_account = (
            takes_fortnox_grant(obj.system) and (obj.settings or {}).get("grant") == fortnox_settings.CLIENT_CREDENTIALS
        )
        if service_account and tokens.get("grant") != fortnox_settings.CLIENT_CREDENTIALS:
            return "No service-account token yet (fetched by client credentials on the first call)."
        if (
            consent
            and not service_account
            and (not tokens.get("refresh_token") or tokens.get("grant") == fortnox_settings.CLIENT_CREDENTIALS)
        ):
            return f"Not connected: press 'Connect to {consent}'."
        if not tokens.get("access_token") or expires is None:
            return "Connected; no access token yet." if tokens else "No token yet (fetched on the first call)."
        when = local(expires)
        prefix = "Connected; " if consent else ""
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
            consent = consent_label(obj.system)
            how = f"press 'Connect to {consent}' below" if consent else "connect it again"
            messages.error(
                request,
                f"{obj.get_system_display()} no longer accepts Brygga's authorisation: "
                f"{obj.reconnect_reason or 'no reason given'} To go on, {how}; the "
                "integration's tasks wait meanwhile and continue by themselves afterwards.",
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def object_buttons(self, request: HttpRequest, obj: Connector) -> list[ObjectButton]:
        buttons = [ObjectButton("Test connection", self.object_view_url(obj, "test"))]
        consent = consent_label(obj.system)
        if consent:
            buttons.append(ObjectButton(f"Connect to {consent}", self.connect_url(obj)))
        return buttons

    def connect_url(self, obj: Connector) -> str:
        opts = self.opts
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_oauth_connect", args=[obj.pk, obj.system])

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

    def oauth_connect_view(self, request: HttpRequest, object_id: str, system: str) -> HttpResponse:
        """`<id>/<system>-connect/`: the "Connect to …" button of a system staff connect by consent."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None or obj.system != system:
            raise Http404(f"No {system} connector with id {object_id}")
        if not self.has_operate_permission(request):
            raise PermissionDenied
        label = consent_label(obj.system)
        if label is None:
            self.message_user(
                request, f"{obj.get_system_display()} connectors are not connected by consent.", messages.ERROR
            )
            return self.back_to(obj)
        try:
            return oauth_connect(request, obj)
        except SyncError as exc:
            self.message_user(request, f"Cannot connect to {label}: {describe_error(exc)}", messages.ERROR)
            return self.back_to(obj)

    @admin.action(description="Test connection", permissions=["operate"])
    def test_connections(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        for connector in queryset.select_related("integration__merchant"):
            self._test(request, connector)
