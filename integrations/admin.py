"""Django admin: where support staff set up integrations and follow every record.

History (tasks, log entries, records, webhook deliveries) is read-only: editing it
would falsify what happened. Operations (test a connection, run a flow, retry) are
admin actions and buttons on the change page; they call the service functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from croniter import croniter
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, Model, OuterRef, Prefetch, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django_q.models import Schedule

from connectors.fortnox import settings as fortnox_settings
from core import errors
from core.errors import REFERENCE_SAVED, SyncError
from integrations import admin_views, registry, schedules, selectors, services
from integrations.flows import connect_jobs, orders
from integrations.flows.master_settings import MASTER_KINDS
from integrations.models import (
    ConnectJob,
    Connector,
    Entity,
    Flow,
    Integration,
    LogEntry,
    Merchant,
    Reference,
    ResyncRun,
    ScheduleRule,
    Task,
    TimeHistory,
    WebhookDelivery,
)

EMPTY = "–"

# --- Small rendering helpers ------------------------------------------------------

BADGE_COLOURS: dict[str, str] = {
    # task status
    "queued": "#6c757d",
    "running": "#0d6efd",
    "succeeded": "#198754",
    "partly_failed": "#fd7e14",
    "failed": "#dc3545",
    "needs_attention": "#842029",
    # entity status
    "pending": "#6c757d",
    "processing": "#0d6efd",
    "synced": "#198754",
    "skipped": "#6c757d",
    # log level
    "exported": "#198754",
    "info": "#0d6efd",
    "warning": "#fd7e14",
    "error": "#dc3545",
    # webhook outcome
    "accepted": "#198754",
    "duplicate": "#6c757d",
    "rejected": "#dc3545",
    "ignored": "#6c757d",
    # integration status
    "active": "#198754",
    "paused": "#fd7e14",
    # Connect job status (queued, running, succeeded, partly_failed and failed as above)
    "validation_failed": "#dc3545",
}


def badge(value: str, label: str | None = None) -> SafeString:
    colour = BADGE_COLOURS.get(value, "#6c757d")
    return format_html(
        '<span style="background:{};color:#fff;padding:1px 7px;border-radius:9px;'
        'font-size:11px;white-space:nowrap">{}</span>',
        colour,
        label or value,
    )


def change_url(obj: Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def changelist_url(model: type[Model], **params: object) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def link(obj: Model | None, text: object = None) -> SafeString | str:
    if obj is None:
        return EMPTY
    return format_html('<a href="{}">{}</a>', change_url(obj), text if text is not None else str(obj))


def link_by_id(model: type[Model], pk: int | None, text: object = None) -> SafeString | str:
    if pk is None:
        return EMPTY
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else f"#{pk}")


def catalogue_url(code: str = "") -> str:
    url = reverse("admin:integrations_error_catalogue")
    return f"{url}#code-{code}" if code else url


def code_link(code: str) -> SafeString | str:
    if not code:
        return EMPTY
    entry = errors.lookup(code)
    return format_html('<a href="{}" title="{}">{}</a>', catalogue_url(code), entry.title if entry else "", code)


def narrow_code_link(code: str) -> SafeString | str:
    """`code_link` for narrow list columns: the code may wrap after its system prefix."""
    if not code:
        return EMPTY
    entry = errors.lookup(code)
    system, dot, rest = code.partition(".")
    text = format_html("{}{}<wbr>{}", system, dot, rest) if dot else code
    return format_html('<a href="{}" title="{}">{}</a>', catalogue_url(code), entry.title if entry else "", text)


def pretty_json(value: Any) -> SafeString:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', text)


def format_duration(delta: timedelta | None) -> str:
    if delta is None:
        return EMPTY
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def local(moment: datetime, *, seconds: bool = False) -> str:
    """A moment in the site's time zone, e.g. 2025-01-31 08:00."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def moment_cell(moment: datetime, *, seconds: bool = False, note: str = "") -> SafeString:
    """A list cell with the date over the time (and a quiet note), narrow enough for 1440 px."""
    date, time_of_day = local(moment, seconds=seconds).split(" ")
    if not note:
        return format_html("{}<br>{}", date, time_of_day)
    return format_html('{}<br>{} <span class="quiet">{}</span>', date, time_of_day, note)


def flow_over_integration(flow: Flow | None, integration: Integration) -> SafeString:
    """A list cell with the flow over its integration."""
    shown = link(flow, flow_label(flow.kind)) if flow else EMPTY
    return format_html('{}<br><span class="quiet">{}</span>', shown, link(integration))


def ago(moment: datetime | None) -> str:
    return f"{timesince(moment)} ago" if moment else "never"


def flow_label(kind: str) -> str:
    return registry.flow_spec(kind).label


# --- List filters that do not query once per choice ----------------------------------


class IntegrationFilter(admin.RelatedFieldListFilter):
    def field_choices(self, field, request, model_admin):  # type: ignore[override]
        return [(i.pk, str(i)) for i in Integration.objects.select_related("merchant")]


class FlowFilter(admin.RelatedFieldListFilter):
    def field_choices(self, field, request, model_admin):  # type: ignore[override]
        return [(f.pk, str(f)) for f in Flow.objects.select_related("integration__merchant")]


# --- Base classes -------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectButton:
    """A button in the change page's object tools. POST buttons run an operation."""

    label: str
    url: str
    post: bool = True


class BryggaAdmin(admin.ModelAdmin):
    """Adds per-object operation views (`<id>/<name>/`) and buttons for them on the change page.

    `object_views` lists (url segment, method name, POST only). The method takes
    (request, obj) and returns a response. Operations need the model's change
    permission, also on read-only screens.
    """

    object_views: tuple[tuple[str, str, bool], ...] = ()

    def has_operate_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('change', opts)}")

    def object_view_url(self, obj: Model, segment: str) -> str:
        opts = self.opts
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{segment.replace('-', '_')}", args=[obj.pk])

    def object_buttons(self, request: HttpRequest, obj: Model) -> list[ObjectButton]:
        return []

    def get_urls(self) -> list[URLPattern]:
        opts = self.opts
        custom = [
            path(
                f"<path:object_id>/{segment}/",
                self.admin_site.admin_view(self._object_view(method_name, post_only)),
                name=f"{opts.app_label}_{opts.model_name}_{segment.replace('-', '_')}",
            )
            for segment, method_name, post_only in self.object_views
        ]
        return custom + super().get_urls()

    def _object_view(self, method_name: str, post_only: bool) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            if post_only and request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            obj = self.get_object(request, unquote(object_id))
            if obj is None:
                raise Http404(f"No {self.opts.verbose_name} with id {object_id}")
            if not self.has_operate_permission(request):
                raise PermissionDenied
            return getattr(self, method_name)(request, obj)

        view.__name__ = method_name
        return view

    def change_view(self, request, object_id, form_url="", extra_context=None):  # type: ignore[override]
        extra_context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id)) if self.object_views else None
        if obj is not None and self.has_operate_permission(request):
            extra_context["object_buttons"] = self.object_buttons(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def back_to(self, obj: Model) -> HttpResponseRedirect:
        return HttpResponseRedirect(change_url(obj))


class HistoryAdmin(BryggaAdmin):
    """A record of what happened: viewable, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class NoEditing:
    """Admin mixin: the objects are shown, never added, changed or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyInline(NoEditing, admin.TabularInline):
    extra = 0
    show_change_link = True
    can_delete = False


# --- Merchant ---------------------------------------------------------------------


class IntegrationInline(admin.TabularInline):
    model = Integration
    fields = ("name", "status", "order_exclusion_date")
    extra = 0
    show_change_link = True


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "contact_email", "integration_count", "created_at")
    search_fields = ("name", "slug", "contact_email")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (IntegrationInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Merchant]:
        return super().get_queryset(request).annotate(integration_count=Count("integrations"))

    @admin.display(description="Integrations", ordering="integration_count")
    def integration_count(self, obj: Merchant) -> SafeString:
        return format_html(
            '<a href="{}">{}</a>', changelist_url(Integration, merchant__id__exact=obj.pk), obj.integration_count
        )


# --- Integration ------------------------------------------------------------------


class ConnectorInline(ReadOnlyInline):
    model = Connector
    fields = ("system", "role", "base_url", "last_test_ok", "last_test_at")
    readonly_fields = fields


class FlowInline(ReadOnlyInline):
    model = Flow
    fields = ("label", "enabled")
    readonly_fields = fields

    @admin.display(description="Flow")
    def label(self, obj: Flow) -> str:
        return flow_label(obj.kind)


@admin.register(Integration)
class IntegrationAdmin(BryggaAdmin):
    list_display = (
        "name",
        "merchant_link",
        "status_badge",
        "systems",
        "flow_count",
        "last_task",
        "attention",
        "staleness",
    )
    list_filter = ("status", "merchant")
    search_fields = ("name", "merchant__name", "merchant__slug", "notes")
    list_select_related = ("merchant",)
    autocomplete_fields = ("merchant",)
    inlines = (ConnectorInline, FlowInline)
    readonly_fields = ("created_at", "flow_status_table", "related_records")
    actions = ("pause", "activate")

    def get_fieldsets(self, request: HttpRequest, obj: Integration | None = None):  # type: ignore[override]
        main = (None, {"fields": ("merchant", "name", "status", "order_exclusion_date", "notes")})
        if obj is None:
            return (main,)
        return (
            main,
            ("Flow status", {"fields": ("flow_status_table", "related_records")}),
            ("Record", {"fields": ("created_at",), "classes": ("collapse",)}),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Integration]:
        connectors = Connector.objects.only("id", "integration_id", "system", "role", "reconnect_needed_at").order_by(
            "role"
        )
        return selectors.integrations_with_summary(
            super().get_queryset(request).prefetch_related(Prefetch("connectors", queryset=connectors))
        )

    @admin.display(description="Merchant", ordering="merchant__name")
    def merchant_link(self, obj: Integration) -> SafeString | str:
        return link(obj.merchant)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Integration) -> SafeString:
        stopped = [c for c in obj.connectors.all() if c.needs_reconnect]
        if stopped:
            return format_html_join(
                " ",
                '<a href="{}">{}</a>',
                [
                    (
                        reverse("admin:integrations_connector_change", args=[c.pk]),
                        badge("needs_attention", f"Reconnect {c.get_system_display()}"),
                    )
                    for c in stopped
                ],
            )
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Systems")
    def systems(self, obj: Integration) -> str:
        return " → ".join(c.get_system_display() for c in obj.connectors.all()) or EMPTY

    @admin.display(description="Flows", ordering="flow_count")
    def flow_count(self, obj: Integration) -> int:
        return obj.flow_count

    @admin.display(description="Last task")
    def last_task(self, obj: Integration) -> SafeString | str:
        if not obj.last_task_status:
            return EMPTY
        return badge(obj.last_task_status, Task.Status(obj.last_task_status).label)

    @admin.display(description="Need attention", ordering="attention_count")
    def attention(self, obj: Integration) -> SafeString | int:
        if not obj.attention_count:
            return 0
        url = changelist_url(Entity, integration__id__exact=obj.pk, status__exact=Entity.Status.NEEDS_ATTENTION)
        return format_html('<a href="{}">{}</a>', url, obj.attention_count)

    @admin.display(description="Last success", ordering="last_success_at")
    def staleness(self, obj: Integration) -> str:
        return ago(obj.last_success_at)

    @admin.display(description="Per flow")
    def flow_status_table(self, obj: Integration) -> SafeString:
        statuses = selectors.flow_status(obj)
        if not statuses:
            return format_html(
                '<p>No flows yet. <a href="{}">Add a flow</a>.</p>',
                reverse("admin:integrations_flow_add") + f"?integration={obj.pk}",
            )
        header = format_html_join(
            "",
            "<th>{}</th>",
            [(h,) for h in ("Flow", "Enabled", "Last run", "Last success", "Backlog", "Need attention", "Cursor")],
        )
        rows = format_html_join("", "<tr>{}</tr>", [(self._flow_row(obj, status),) for status in statuses])
        return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", header, rows)

    @staticmethod
    def _age(status: selectors.FlowStatus) -> SafeString | str:
        if not status.stale:
            return ago(status.last_success_at)
        limit = format_duration(timedelta(seconds=status.stale_after_seconds or 0))
        return format_html("{} {}", badge("failed", f"stale (over {limit})"), ago(status.last_success_at))

    def _flow_row(self, integration: Integration, status: selectors.FlowStatus) -> SafeString:
        if status.last_run_task_id:
            last_run = format_html(
                "{} {} ({})",
                link_by_id(Task, status.last_run_task_id),
                badge(status.last_run_status or "", Task.Status(status.last_run_status).label),
                ago(status.last_run_at),
            )
        else:
            last_run = "never"
        entities = {"integration__id__exact": integration.pk, "data_type__exact": status.data_type}
        backlog = format_html(
            '<a href="{}">{}</a>',
            changelist_url(Entity, **entities, status__in=",".join(selectors.BACKLOG_STATUSES)),
            status.backlog,
        )
        failures = format_html(
            '<a href="{}">{}</a>',
            changelist_url(Entity, **entities, status__exact=Entity.Status.NEEDS_ATTENTION),
            status.failures,
        )
        cursor = format_html(
            '<a href="{}">{}</a>',
            changelist_url(TimeHistory, integration__id__exact=integration.pk, data_type__exact=status.data_type),
            local(status.cursor, seconds=True) if status.cursor else "not set",
        )
        return format_html_join(
            "",
            "<td>{}</td>",
            [
                (link_by_id(Flow, status.flow_id, status.label),),
                ("yes" if status.enabled else "no",),
                (last_run,),
                (self._age(status),),
                (backlog,),
                (failures,),
                (cursor,),
            ],
        )

    @admin.display(description="Related")
    def related_records(self, obj: Integration) -> SafeString:
        by_integration = {"integration__id__exact": obj.pk}
        targets = [
            ("Connectors", changelist_url(Connector, **by_integration)),
            ("Flows", changelist_url(Flow, **by_integration)),
            ("Schedule rules", changelist_url(ScheduleRule, **by_integration)),
            ("Time history", changelist_url(TimeHistory, **by_integration)),
            ("Tasks", changelist_url(Task, **by_integration)),
            ("Log entries", changelist_url(LogEntry, **by_integration)),
            ("Records", changelist_url(Entity, **by_integration)),
            ("References", changelist_url(Reference, **by_integration)),
            ("Webhook deliveries", changelist_url(WebhookDelivery, **by_integration)),
            ("Add connector", reverse("admin:integrations_connector_add") + f"?integration={obj.pk}"),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', [(url, label) for label, url in targets])

    @admin.action(description="Pause selected integrations", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        updated = queryset.update(status=Integration.Status.PAUSED)
        self.message_user(request, f"Paused {updated} integration(s). Records queue up until it is activated.")

    @admin.action(description="Activate selected integrations", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        updated = queryset.update(status=Integration.Status.ACTIVE)
        self.message_user(request, f"Activated {updated} integration(s).")


# --- Connector --------------------------------------------------------------------

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
            ok, message = False, admin_views.describe_error(exc)
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
            return admin_views.fortnox_connect(request, obj)
        except SyncError as exc:
            self.message_user(request, f"Cannot connect to Fortnox: {admin_views.describe_error(exc)}", messages.ERROR)
            return self.back_to(obj)

    @admin.action(description="Test connection", permissions=["operate"])
    def test_connections(self, request: HttpRequest, queryset: QuerySet[Connector]) -> None:
        for connector in queryset.select_related("integration__merchant"):
            self._test(request, connector)


# --- Flow ---------------------------------------------------------------------------


def run_flow_now(model_admin: admin.ModelAdmin, request: HttpRequest, flow: Flow) -> None:
    """Queue a manual run of the flow and tell staff which task it became."""
    try:
        task = services.run_flow_now(flow.pk, trigger=Task.Trigger.MANUAL)
    except (SyncError, ValueError) as exc:
        text = admin_views.describe_error(exc) if isinstance(exc, SyncError) else str(exc)
        model_admin.message_user(request, f"{flow}: not started. {text}", messages.ERROR)
    else:
        model_admin.message_user(request, format_html("{}: queued as task {}.", str(flow), link(task, f"#{task.pk}")))


def flow_kind_choices() -> list[tuple[str, str]]:
    return [(kind, spec.label) for kind, spec in registry.FLOWS.items()]


class FlowForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=flow_kind_choices, help_text="What the flow moves, and in which direction.")

    class Meta:
        model = Flow
        fields = ("integration", "kind", "enabled", "settings")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "settings" not in cleaned:
            return cleaned
        spec = registry.FLOWS.get(cleaned.get("kind") or self.instance.kind)
        raw = cleaned.get("settings") or {}
        if not isinstance(raw, dict):
            self.add_error("settings", 'The settings must be a JSON object, e.g. {"batch_size": 50}.')
            return cleaned
        if spec is None or not spec.settings_validator:
            return cleaned
        validate = registry.import_string(spec.settings_validator)
        try:
            normalised = validate(raw)
        except ValueError as exc:
            self.add_error("settings", str(exc))
        else:
            # Keep only what staff set (with normalised values) so code defaults still apply to the rest.
            cleaned["settings"] = {key: normalised[key] for key in raw if key in normalised}
        return cleaned


@admin.register(Flow)
class FlowAdmin(BryggaAdmin):
    form = FlowForm
    list_display = ("label", "integration_link", "enabled", "last_run", "last_success", "tasks_link")
    list_filter = ("enabled", "kind", ("integration", IntegrationFilter))
    search_fields = ("kind", "integration__name", "integration__merchant__name")
    list_select_related = ("integration__merchant",)
    readonly_fields = ("effective_settings", "created_at")
    actions = ("run_now",)
    object_views = (("run", "run_now_view", True), ("full-file", "full_file_view", True))

    def get_fieldsets(self, request: HttpRequest, obj: Flow | None = None):  # type: ignore[override]
        main = (None, {"fields": ("integration", "kind", "enabled", "settings")})
        if obj is None:
            return (main,)
        return (main, ("Settings in effect", {"fields": ("effective_settings", "created_at")}))

    def get_readonly_fields(self, request: HttpRequest, obj: Flow | None = None):  # type: ignore[override]
        fields = tuple(self.readonly_fields)
        return fields + ("integration", "kind") if obj else fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Flow]:
        return selectors.flows_with_runs(super().get_queryset(request))

    @admin.display(description="Flow", ordering="kind")
    def label(self, obj: Flow) -> str:
        return flow_label(obj.kind)

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: Flow) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Last run", ordering="last_run_at")
    def last_run(self, obj: Flow) -> SafeString | str:
        if not getattr(obj, "last_run_task_id", None):
            return "never"
        return format_html(
            "{} {} {}",
            link_by_id(Task, obj.last_run_task_id),
            badge(obj.last_run_status, Task.Status(obj.last_run_status).label),
            ago(obj.last_run_at),
        )

    @admin.display(description="Last success", ordering="last_success_at")
    def last_success(self, obj: Flow) -> str:
        return ago(obj.last_success_at)

    @admin.display(description="Tasks")
    def tasks_link(self, obj: Flow) -> SafeString:
        return format_html('<a href="{}">tasks</a>', changelist_url(Task, flow__id__exact=obj.pk))

    @admin.display(description="Settings with defaults")
    def effective_settings(self, obj: Flow) -> SafeString | str:
        spec = registry.FLOWS.get(obj.kind)
        if spec is None or not spec.settings_validator:
            return pretty_json(obj.settings)
        try:
            return pretty_json(registry.import_string(spec.settings_validator)(obj.settings))
        except ValueError as exc:
            return format_html('<span class="errornote">{}</span>', str(exc))

    def object_buttons(self, request: HttpRequest, obj: Flow) -> list[ObjectButton]:
        buttons = [ObjectButton("Run now", self.object_view_url(obj, "run"))]
        if obj.kind in FULL_FILE_KINDS:
            buttons.append(ObjectButton("Send full file now", self.object_view_url(obj, "full-file")))
        return buttons

    def run_now_view(self, request: HttpRequest, obj: Flow) -> HttpResponse:
        run_flow_now(self, request, obj)
        return self.back_to(obj)

    def full_file_view(self, request: HttpRequest, obj: Flow) -> HttpResponse:
        """Queue a full file (FullFile=true: what the ERP lacks is deactivated in Norce), resuming an unfinished one."""
        if obj.kind not in FULL_FILE_KINDS:
            self.message_user(request, f"{obj}: this flow has no full file.", messages.ERROR)
            return self.back_to(obj)
        task = services.run_flow_now(obj.pk, trigger=Task.Trigger.RESYNC, params={"mode": "full"})
        self.message_user(
            request,
            format_html(
                "{}: full file queued as task {}. Progress: {}.",
                str(obj),
                link(task, f"#{task.pk}"),
                format_html('<a href="{}">full-file resyncs</a>', changelist_url(ResyncRun, flow__id__exact=obj.pk)),
            ),
        )
        return self.back_to(obj)

    @admin.action(description="Run now", permissions=["operate"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Flow]) -> None:
        for flow in queryset:
            run_flow_now(self, request, flow)


# --- Schedule rule ------------------------------------------------------------------


class ScheduleRuleForm(forms.ModelForm):
    class Meta:
        model = ScheduleRule
        fields = ("integration", "name", "flows", "schedule_type", "interval_minutes", "cron", "mode", "enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "flows" not in self.fields:
            return
        integration_id = self.instance.integration_id if self.instance.pk else None
        if integration_id is None:
            chosen = self.data.get("integration") or self.initial.get("integration")
            integration_id = int(chosen) if str(chosen or "").isdigit() else None
        flows = Flow.objects.select_related("integration__merchant")
        if integration_id is not None:
            flows = flows.filter(integration_id=integration_id)
        self.fields["flows"].queryset = flows

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        schedule_type = cleaned.get("schedule_type")
        cron = (cleaned.get("cron") or "").strip()
        cleaned["cron"] = cron
        if schedule_type == ScheduleRule.Type.CRON:
            if not cron:
                self.add_error("cron", "Enter a cron expression for a cron schedule, e.g. '0 3 * * 0'.")
            elif not croniter.is_valid(cron):
                self.add_error("cron", f"'{cron}' is not a valid cron expression (minute hour day month weekday).")
        elif schedule_type == ScheduleRule.Type.INTERVAL and not cleaned.get("interval_minutes"):
            self.add_error("interval_minutes", "Enter how many minutes apart the runs are (at least 1).")
        integration = cleaned.get("integration") or getattr(self.instance, "integration", None)
        flows = cleaned.get("flows")
        if integration is not None and flows:
            foreign = [str(f) for f in flows if f.integration_id != integration.pk]
            if foreign:
                self.add_error("flows", f"These flows belong to another integration: {', '.join(foreign)}")
        return cleaned


@admin.register(ScheduleRule)
class ScheduleRuleAdmin(admin.ModelAdmin):
    form = ScheduleRuleForm
    list_display = (
        "name",
        "integration_link",
        "flow_labels",
        "when",
        "mode",
        "enabled",
        "next_run",
        "last_triggered_at",
    )
    list_filter = ("enabled", "schedule_type", "mode", ("integration", IntegrationFilter))
    search_fields = ("name", "integration__name", "integration__merchant__name")
    list_select_related = ("integration__merchant",)
    filter_horizontal = ("flows",)
    readonly_fields = ("next_run", "last_triggered_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScheduleRule]:
        next_run = Schedule.objects.filter(pk=OuterRef("q_schedule_id")).values("next_run")[:1]
        return (
            super()
            .get_queryset(request)
            .annotate(next_run_at=Subquery(next_run))
            .prefetch_related(Prefetch("flows", queryset=Flow.objects.only("id", "kind")))
        )

    def get_readonly_fields(self, request: HttpRequest, obj: ScheduleRule | None = None):  # type: ignore[override]
        return self.readonly_fields + ("integration",) if obj else self.readonly_fields

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: ScheduleRule) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Flows")
    def flow_labels(self, obj: ScheduleRule) -> str:
        return ", ".join(flow_label(f.kind) for f in obj.flows.all()) or EMPTY

    @admin.display(description="When")
    def when(self, obj: ScheduleRule) -> str:
        if obj.schedule_type == ScheduleRule.Type.CRON:
            return f"cron {obj.cron}"
        return f"every {obj.interval_minutes} min"

    @admin.display(description="Next run", ordering="next_run_at")
    def next_run(self, obj: ScheduleRule) -> str:
        if not obj.enabled:
            return "disabled"
        moment = getattr(obj, "next_run_at", None)
        return local(moment) if moment else "not scheduled"

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        schedules.sync_schedule(form.instance)

    def delete_model(self, request: HttpRequest, obj: ScheduleRule) -> None:
        schedules.remove_schedule(obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ScheduleRule]) -> None:
        for rule in queryset:
            schedules.remove_schedule(rule)
        super().delete_queryset(request, queryset)


# --- Time history -------------------------------------------------------------------


# What a run after moving a cursor back sends, per kind of flow (shown on the cursor and after "Run now").
UNCHANGED_NOT_SENT = (
    "Records read again whose content equals what Norce last confirmed are not sent again, so a run after "
    "moving the cursor back sends nothing when nothing changed. Use \u201cRewind and resend\u201d to send every "
    "record read since the cursor, changed or not."
)
ORDERS_NOT_TWICE = (
    "Orders read again are recognised by their order reference and never invoiced twice; a run after moving "
    "the cursor back only picks up orders Brygga has not received yet."
)


def cursor_flow(cursor: TimeHistory) -> Flow | None:
    """The integration's flow that reads from this cursor (same data type and direction)."""
    kinds = [
        kind
        for kind, spec in registry.FLOWS.items()
        if spec.data_type == cursor.data_type and spec.direction == cursor.direction
    ]
    return Flow.objects.filter(integration_id=cursor.integration_id, kind__in=kinds).first() if kinds else None


@admin.register(TimeHistory)
class TimeHistoryAdmin(BryggaAdmin):
    list_display = ("__str__", "integration_link", "data_type", "direction", "last_loaded_at", "updated_at")
    list_editable = ("last_loaded_at",)
    list_filter = ("data_type", "direction", ("integration", IntegrationFilter))
    search_fields = ("data_type", "integration__name", "integration__merchant__name")
    list_select_related = ("integration__merchant",)
    fields = ("integration", "data_type", "direction", "last_loaded_at", "updated_at", "run_note")
    readonly_fields = ("updated_at", "run_note")
    object_views = (("run", "run_now_view", True), ("resend", "rewind_and_resend_view", True))

    def get_readonly_fields(self, request: HttpRequest, obj: TimeHistory | None = None):  # type: ignore[override]
        return self.readonly_fields + ("integration", "data_type", "direction") if obj else self.readonly_fields

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: TimeHistory) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="After moving the cursor back")
    def run_note(self, obj: TimeHistory) -> SafeString | str:
        if obj.pk is None:
            return EMPTY
        flow = cursor_flow(obj)
        if flow is None:
            return "No flow of this integration reads from this cursor."
        text = ORDERS_NOT_TWICE if flow.kind not in MASTER_KINDS else UNCHANGED_NOT_SENT
        return format_html(
            "{} Flow: {}. Save the cursor first, then press a button above.", text, link(flow, flow_label(flow.kind))
        )

    def object_buttons(self, request: HttpRequest, obj: TimeHistory) -> list[ObjectButton]:
        flow = cursor_flow(obj)
        if flow is None:
            return []
        buttons = [ObjectButton("Run now", self.object_view_url(obj, "run"))]
        if flow.kind in MASTER_KINDS:
            buttons.append(ObjectButton("Rewind and resend", self.object_view_url(obj, "resend")))
        return buttons

    def _queue(self, request: HttpRequest, cursor: TimeHistory, *, force: bool) -> HttpResponse:
        flow = cursor_flow(cursor)
        if flow is None:
            self.message_user(
                request, f"{cursor}: no flow reads from this cursor; nothing was started.", messages.ERROR
            )
            return self.back_to(cursor)
        if force and flow.kind not in MASTER_KINDS:
            self.message_user(request, f"{flow}: orders are never sent twice; use \u201cRun now\u201d.", messages.ERROR)
            return self.back_to(cursor)
        params = {"mode": "incremental", "force": True} if force else None
        try:
            task = services.run_flow_now(flow.pk, trigger=Task.Trigger.MANUAL, params=params)
        except (SyncError, ValueError) as exc:
            text = admin_views.describe_error(exc) if isinstance(exc, SyncError) else str(exc)
            self.message_user(request, f"{flow}: not started. {text}", messages.ERROR)
            return self.back_to(cursor)
        since = local(cursor.last_loaded_at) if cursor.last_loaded_at else "the beginning"
        if force:
            note = "every record read is sent to Norce, changed or not."
        elif flow.kind in MASTER_KINDS:
            note = (
                "records whose content is unchanged are not sent again, so this run may send nothing. "
                "To send them anyway, press \u201cRewind and resend\u201d."
            )
        else:
            note = "orders Brygga already has are recognised and not invoiced twice."
        self.message_user(
            request,
            format_html(
                "{}: queued as task {}, reading from {}; {}", str(flow), link(task, f"#{task.pk}"), since, note
            ),
        )
        return self.back_to(cursor)

    def run_now_view(self, request: HttpRequest, obj: TimeHistory) -> HttpResponse:
        return self._queue(request, obj, force=False)

    def rewind_and_resend_view(self, request: HttpRequest, obj: TimeHistory) -> HttpResponse:
        return self._queue(request, obj, force=True)


# --- Task ---------------------------------------------------------------------------


@admin.register(Task)
class TaskAdmin(HistoryAdmin):
    # Compact columns (integration under the flow, trigger under the status, duration under the time)
    # so the list fits a 1440 px screen with both sidebars open.
    list_display = (
        "id",
        "flow_cell",
        "status_cell",
        "records",
        "created_cell",
        "error_code_link",
        "record_references",
    )
    list_filter = ("status", "trigger", ("integration", IntegrationFilter), ("flow", FlowFilter))
    search_fields = ("error_code", "error_message", "logs__reference")
    list_select_related = ("integration__merchant", "flow")
    fieldsets = (
        (None, {"fields": ("integration", "flow", "trigger", "status_badge", "params_pretty")}),
        ("Error", {"fields": ("error_code_shown", "error_message_text", "error_hint")}),
        ("Record errors", {"fields": ("record_errors_table",)}),
        ("Records", {"fields": ("count_total", "count_succeeded", "count_failed", "count_skipped", "log_link")}),
        (
            "Timing",
            {
                "fields": (
                    "created_at",
                    "started_at",
                    "finished_at",
                    "duration",
                    "heartbeat_at",
                    "attempts",
                    "max_attempts",
                    "next_retry_at",
                    "worker",
                    "q_task_id",
                )
            },
        ),
    )
    readonly_fields = (
        "status_badge",
        "params_pretty",
        "log_link",
        "error_code_shown",
        "error_message_text",
        "error_hint",
        "record_errors_table",
        "duration",
    )
    actions = ("retry", "run_flow_now")
    object_views = (("retry", "retry_view", True),)
    record_errors_limit = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Task]:
        tasks = selectors.tasks_with_record_error_code(super().get_queryset(request))
        return selectors.tasks_with_record_references(tasks)

    def _record_errors(self, obj: Task) -> list[selectors.RecordError]:
        if not hasattr(obj, "_record_errors_cache"):
            obj._record_errors_cache = selectors.task_record_errors(obj, limit=self.record_errors_limit)
        return obj._record_errors_cache

    def _error(self, obj: Task) -> selectors.TaskError:
        return selectors.task_error(obj, self._record_errors(obj))

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Task], search_term: str):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().lstrip("#")
        if term.isdigit():
            results = results | queryset.filter(pk=int(term))
        return results, may_have_duplicates

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: Task) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Flow", ordering="flow__kind")
    def flow_link(self, obj: Task) -> SafeString | str:
        return link(obj.flow, flow_label(obj.flow.kind)) if obj.flow else EMPTY

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Task) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Records")
    def records(self, obj: Task) -> SafeString:
        return format_html(
            '<span title="total · ok · failed · skipped; attempt {} of {}">{} · {} · {} · {}</span>',
            obj.attempts,
            obj.max_attempts,
            obj.count_total,
            obj.count_succeeded,
            obj.count_failed,
            obj.count_skipped,
        )

    @admin.display(description="Flow", ordering="flow__kind")
    def flow_cell(self, obj: Task) -> SafeString:
        return flow_over_integration(obj.flow, obj.integration)

    @admin.display(description="Status", ordering="status")
    def status_cell(self, obj: Task) -> SafeString:
        return format_html('{}<br><span class="quiet">{}</span>', self.status_badge(obj), obj.get_trigger_display())

    @admin.display(description="Created", ordering="created_at")
    def created_cell(self, obj: Task) -> SafeString:
        took = f"took {format_duration(obj.duration)}" if obj.duration is not None else ""
        return moment_cell(obj.created_at, note=took)

    @admin.display(description="Duration")
    def duration(self, obj: Task) -> str:
        return format_duration(obj.duration)

    @admin.display(description="Error code", ordering="shown_error_code")
    def error_code_link(self, obj: Task) -> SafeString | str:
        return narrow_code_link(getattr(obj, "shown_error_code", None) or obj.error_code)

    @admin.display(description="Error code")
    def error_code_shown(self, obj: Task) -> SafeString | str:
        return code_link(self._error(obj).code)

    @admin.display(description="Message")
    def error_message_text(self, obj: Task) -> SafeString | str:
        error = self._error(obj)
        if not error.message:
            return EMPTY
        if error.from_records:
            return format_html("{} <em>(from its records, below)</em>", error.message)
        return error.message

    @admin.display(description="What to do")
    def error_hint(self, obj: Task) -> str:
        return self._error(obj).hint or EMPTY

    @admin.display(description="Orders / records")
    def record_references(self, obj: Task) -> SafeString | str:
        records = selectors.task_records(obj)
        if not records.references:
            return EMPTY
        shown = ", ".join(records.references)
        more = records.count - len(records.references)
        if more > 0:
            url = changelist_url(LogEntry, task__id__exact=obj.pk)
            return format_html('{} <a href="{}">+{} more</a>', shown, url, more)
        return shown

    @admin.display(description="Errors of the task's records")
    def record_errors_table(self, obj: Task) -> SafeString | str:
        rows = self._record_errors(obj)
        if not rows:
            return "None: no record of this task logged an error or a warning."
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            [
                (
                    format_html("{} {}", badge(row.level, row.level), code_link(row.code)),
                    format_html("{}{}", row.message, f" (×{row.times})" if row.times > 1 else ""),
                    row.hint or EMPTY,
                    self._record_cell(row),
                )
                for row in rows
            ],
        )
        logs = format_html(
            '<p><a href="{}">All warnings and errors of this task in the log</a></p>',
            changelist_url(LogEntry, task__id__exact=obj.pk, level__in="error,warning"),
        )
        return format_html(
            '<table class="record-errors"><thead><tr><th>Code</th><th>Message</th><th>Hint</th><th>Record</th>'
            "</tr></thead><tbody>{}</tbody></table>{}",
            body,
            logs,
        )

    @staticmethod
    def _record_cell(row: selectors.RecordError) -> SafeString | str:
        label = f"{row.data_type} {row.reference}".strip() or (f"#{row.entity_id}" if row.entity_id else EMPTY)
        if row.entity_id is None:
            return label
        status = Entity.Status(row.entity_status).label if row.entity_status else ""
        return format_html("{}{}", link_by_id(Entity, row.entity_id, label), f" ({status})" if status else "")

    @admin.display(description="Parameters")
    def params_pretty(self, obj: Task) -> SafeString:
        return pretty_json(obj.params)

    @admin.display(description="Log entries")
    def log_link(self, obj: Task) -> SafeString:
        count = obj.logs.count()
        return format_html('<a href="{}">{} log entries</a>', changelist_url(LogEntry, task__id__exact=obj.pk), count)

    def object_buttons(self, request: HttpRequest, obj: Task) -> list[ObjectButton]:
        buttons = []
        if obj.status in selectors.RETRYABLE_TASK_STATUSES:
            buttons.append(ObjectButton("Retry failed records", self.object_view_url(obj, "retry")))
        return buttons

    def _retry(self, request: HttpRequest, task: Task) -> None:
        try:
            new_task = services.retry_task(task.pk)
        except (SyncError, ValueError) as exc:
            text = admin_views.describe_error(exc) if isinstance(exc, SyncError) else str(exc)
            self.message_user(request, f"Task #{task.pk}: not retried. {text}", messages.ERROR)
        else:
            self.message_user(
                request, format_html("Task #{}: retry queued as task {}.", task.pk, link(new_task, f"#{new_task.pk}"))
            )

    def retry_view(self, request: HttpRequest, obj: Task) -> HttpResponse:
        self._retry(request, obj)
        return self.back_to(obj)

    @admin.action(description="Retry failed records of selected tasks", permissions=["operate"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        retryable = [task for task in queryset if task.status in selectors.RETRYABLE_TASK_STATUSES]
        skipped = queryset.count() - len(retryable)
        for task in retryable:
            self._retry(request, task)
        if skipped:
            self.message_user(
                request,
                f"{skipped} task(s) skipped: only failed, partly failed or needs-attention tasks are retried.",
                messages.WARNING,
            )

    @admin.action(description="Run the flow of selected tasks now", permissions=["operate"])
    def run_flow_now(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        flows = Flow.objects.filter(pk__in=queryset.exclude(flow=None).values("flow")).select_related(
            "integration__merchant"
        )
        for flow in flows:
            run_flow_now(self, request, flow)
        if not flows:
            self.message_user(request, "None of the selected tasks belongs to a flow.", messages.WARNING)


# --- Log entry ----------------------------------------------------------------------


@admin.register(LogEntry)
class LogEntryAdmin(HistoryAdmin):
    # Five columns so the message and its hint get the room: the hint sits under the message and
    # the related task, record and integration share one column.
    list_display = ("created_cell", "level_code", "reference", "short_message", "related")
    list_filter = ("created_at", "level", "code", "data_type", ("integration", IntegrationFilter))
    date_hierarchy = "created_at"
    search_fields = ("reference", "code", "message")
    list_select_related = ("integration__merchant", "entity")
    fieldsets = (
        (None, {"fields": ("created_at", "level_badge", "code_link", "data_type", "reference", "message", "hint")}),
        ("Related", {"fields": ("integration_link", "flow_link", "task_link", "entity_link")}),
        ("Details", {"fields": ("details_pretty",)}),
    )
    readonly_fields = (
        "level_badge",
        "code_link",
        "integration_link",
        "flow_link",
        "task_link",
        "entity_link",
        "details_pretty",
    )

    def get_urls(self) -> list[URLPattern]:
        catalogue = path(
            "catalogue/",
            self.admin_site.admin_view(self.error_catalogue_view),
            name="integrations_error_catalogue",
        )
        return [catalogue, *super().get_urls()]

    def error_catalogue_view(self, request: HttpRequest) -> HttpResponse:
        return admin_views.error_catalogue(request, admin_site=self.admin_site)

    @admin.display(description="Level", ordering="level")
    def level_badge(self, obj: LogEntry) -> SafeString:
        return badge(obj.level, obj.get_level_display())

    @admin.display(description="Code", ordering="code")
    def code_link(self, obj: LogEntry) -> SafeString | str:
        return code_link(obj.code)

    @admin.display(description="When", ordering="created_at")
    def created_cell(self, obj: LogEntry) -> SafeString:
        return moment_cell(obj.created_at, seconds=True)

    @admin.display(description="Level · code", ordering="level")
    def level_code(self, obj: LogEntry) -> SafeString:
        return format_html("{}<br>{}", self.level_badge(obj), narrow_code_link(obj.code) if obj.code else "")

    @admin.display(description="Message and what to do")
    def short_message(self, obj: LogEntry) -> SafeString | str:
        message = self._clipped(obj.message, self.message_chars)
        hint = self.short_hint(obj)
        if hint == EMPTY:
            return message
        return format_html('{}<div class="hint">{}</div>', message, hint)

    @admin.display(description="Hint")
    def short_hint(self, obj: LogEntry) -> SafeString | str:
        hint = obj.hint or (entry.hint if (entry := selectors.catalogue_entry(obj.code)) else "")
        return self._clipped(hint, self.hint_chars) if hint else EMPTY

    @admin.display(description="Task · record · integration")
    def related(self, obj: LogEntry) -> SafeString:
        parts = [
            part
            for part in (
                format_html("task {}", self.task_link(obj)) if obj.task_id else "",
                self.entity_link(obj) if obj.entity_id else "",
                self.integration_link(obj),
            )
            if part
        ]
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))

    # Long texts are cut in the list only; the full text is in the tooltip and on the entry's page.
    message_chars = 400
    hint_chars = 300

    @staticmethod
    def _clipped(text: str, limit: int) -> SafeString | str:
        short = Truncator(text).chars(limit)
        return short if short == text else format_html('<span title="{}">{}</span>', text, short)

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: LogEntry) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Flow")
    def flow_link(self, obj: LogEntry) -> SafeString | str:
        return link(obj.flow, flow_label(obj.flow.kind)) if obj.flow else EMPTY

    @admin.display(description="Task", ordering="task_id")
    def task_link(self, obj: LogEntry) -> SafeString | str:
        return link_by_id(Task, obj.task_id)

    @admin.display(description="Record")
    def entity_link(self, obj: LogEntry) -> SafeString | str:
        return link(obj.entity) if obj.entity_id else EMPTY

    @admin.display(description="Details")
    def details_pretty(self, obj: LogEntry) -> SafeString:
        return pretty_json(obj.details)


# --- Entity -------------------------------------------------------------------------


@admin.register(Entity)
class EntityAdmin(HistoryAdmin):
    list_display = (
        "data_type",
        "reference_display",
        "customer",
        "status_badge",
        "target_id",
        "attempts",
        "error_code_link",
        "updated_at",
        "integration_link",
    )
    list_filter = ("status", "data_type", ("integration", IntegrationFilter))
    search_fields = ("reference", "source_id", "label", "target_id")
    list_select_related = ("integration__merchant",)
    fieldsets = (
        (None, {"fields": ("integration_link", "data_type", "source_id", "reference", "label", "status_badge")}),
        ("In the target system", {"fields": ("target_id", "reference_link", "synced_at")}),
        ("Last error", {"fields": ("error_code_link", "last_error_message", "error_hint", "attempts")}),
        ("Received", {"fields": ("received_via", "deliveries", "created_at", "updated_at", "payload_hash")}),
        ("Timeline", {"fields": ("timeline",)}),
        ("Payload", {"fields": ("payload_pretty",), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "integration_link",
        "status_badge",
        "reference_link",
        "error_code_link",
        "error_hint",
        "deliveries",
        "timeline",
        "payload_pretty",
    )
    actions = ("retry",)
    object_views = (
        ("retry", "retry_view", True),
        ("create-anyway", "create_anyway_view", False),
        ("credit-extra", "credit_extra_view", False),
    )
    timeline_limit = 200

    @admin.display(description="Reference", ordering="reference")
    def reference_display(self, obj: Entity) -> str:
        return obj.reference or obj.source_id

    @admin.display(description="Customer", ordering="label")
    def customer(self, obj: Entity) -> str:
        return obj.label or EMPTY

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: Entity) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Entity) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Error code", ordering="last_error_code")
    def error_code_link(self, obj: Entity) -> SafeString | str:
        return code_link(obj.last_error_code)

    @admin.display(description="What to do")
    def error_hint(self, obj: Entity) -> str:
        entry = errors.lookup(obj.last_error_code) if obj.last_error_code else None
        return entry.hint if entry else EMPTY

    @admin.display(description="Reference (source → target)")
    def reference_link(self, obj: Entity) -> SafeString | str:
        reference = Reference.objects.filter(
            integration_id=obj.integration_id, data_type=obj.data_type, source_id=obj.source_id
        ).first()
        return link(reference) if reference else "none yet"

    @admin.display(description="Webhook deliveries")
    def deliveries(self, obj: Entity) -> SafeString | str:
        rows = [
            (change_url(d), f"{local(d.received_at, seconds=True)} {d.get_kind_display()} ({d.get_outcome_display()})")
            for d in obj.deliveries.order_by("-received_at")[:20]
        ]
        return format_html_join(mark_safe("<br>"), '<a href="{}">{}</a>', rows) if rows else EMPTY

    @admin.display(description="Log entries, newest first")
    def timeline(self, obj: Entity) -> SafeString | str:
        entries = list(obj.logs.order_by("-created_at", "-id")[: self.timeline_limit])
        if not entries:
            return EMPTY
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            [
                (
                    link(e, local(e.created_at, seconds=True)),
                    badge(e.level, e.get_level_display()),
                    code_link(e.code),
                    e.message,
                    e.hint or EMPTY,
                    e.actor or EMPTY,
                    link_by_id(Task, e.task_id),
                )
                for e in entries
            ],
        )
        return format_html(
            "<table><thead><tr><th>When</th><th>Level</th><th>Code</th><th>Message</th><th>Hint</th><th>By</th>"
            "<th>Task</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="Payload as received")
    def payload_pretty(self, obj: Entity) -> SafeString:
        return pretty_json(obj.payload)

    def object_buttons(self, request: HttpRequest, obj: Entity) -> list[ObjectButton]:
        buttons = [ObjectButton("Retry this record", self.object_view_url(obj, "retry"))]
        if obj.data_type == "order":
            # A link to a confirmation page; only its POST creates anything.
            buttons.append(
                ObjectButton("Create a new invoice anyway", self.object_view_url(obj, "create-anyway"), post=False)
            )
            if obj.last_error_code == "order.duplicate_invoice":  # flagged by the reconciliation
                buttons.append(
                    ObjectButton("Credit the extra invoice", self.object_view_url(obj, "credit-extra"), post=False)
                )
        return buttons

    def _retry(self, request: HttpRequest, entity: Entity) -> None:
        try:
            task = services.retry_entity(entity.pk)
        except (SyncError, ValueError) as exc:
            text = admin_views.describe_error(exc) if isinstance(exc, SyncError) else str(exc)
            self.message_user(request, f"{entity}: not retried. {text}", messages.ERROR)
        else:
            actor = request.user.get_username()
            services.record_staff_action(
                entity=entity, actor=actor, task=task, message=f"{actor} pressed 'Retry this record' (task #{task.pk})"
            )
            queued = format_html("{}: retry queued as task {}.", str(entity), link(task, f"#{task.pk}"))
            self.message_user(request, queued)

    def create_anyway_view(self, request: HttpRequest, obj: Entity) -> HttpResponse:
        """Confirmation page naming the live invoice(s); its POST asks for a new invoice (once)."""
        from django.template.response import TemplateResponse

        if obj.data_type != orders.DATA_TYPE:
            raise Http404("Only orders become invoices")
        if request.method == "POST":
            try:
                task = orders.request_new_invoice(
                    entity_id=obj.pk, superseded=request.POST.getlist("superseded"), actor=request.user.get_username()
                )
            except ValueError as exc:
                self.message_user(request, f"{obj}: no new invoice. {exc}", messages.ERROR)
            else:
                if task is None:
                    self.message_user(
                        request,
                        f"{obj}: a new invoice was already requested; nothing more was queued.",
                        messages.WARNING,
                    )
                else:
                    self.message_user(
                        request,
                        format_html(
                            "{}: a new invoice will be created by task {}.", str(obj), link(task, f"#{task.pk}")
                        ),
                    )
            return self.back_to(obj)
        problem, live = "", []
        try:
            live = orders.live_invoices_for(entity_id=obj.pk)
        except SyncError as exc:
            problem = admin_views.describe_error(exc)
        context = {
            **self.admin_site.each_context(request),
            "title": "Create a new invoice anyway?",
            "opts": self.opts,
            "original": obj,
            "entity": obj,
            "live": [
                {
                    "number": str(i.get("DocumentNumber") or ""),
                    "date": i.get("InvoiceDate") or "",
                    "total": i.get("Total"),
                    "currency": i.get("Currency") or "",
                    "customer": i.get("CustomerName") or "",
                }
                for i in live
            ],
            "problem": problem,
            "change_url": change_url(obj),
        }
        return TemplateResponse(request, "admin/integrations/entity/create_anyway.html", context)

    def credit_extra_view(self, request: HttpRequest, obj: Entity) -> HttpResponse:
        """Confirmation page: the order's live invoices, which one is linked and which are extra;
        its POST cancels or credits one extra invoice (idempotently)."""
        from django.template.response import TemplateResponse

        if obj.data_type != orders.DATA_TYPE:
            raise Http404("Only orders have invoices")
        if request.method == "POST":
            number = (request.POST.get("invoice") or "").strip()
            try:
                done = orders.credit_extra_invoice(entity_id=obj.pk, number=number, actor=request.user.get_username())
            except ValueError as exc:
                self.message_user(request, f"{obj}: invoice {number} not credited. {exc}", messages.ERROR)
            except SyncError as exc:
                self.message_user(
                    request, f"{obj}: invoice {number} not credited. {admin_views.describe_error(exc)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{obj}: Fortnox invoice {number} {done}.")
            return self.back_to(obj)
        problem, live = "", []
        try:
            live = orders.live_invoices_for(entity_id=obj.pk)
        except SyncError as exc:
            problem = admin_views.describe_error(exc)
        reference = Reference.objects.filter(
            integration_id=obj.integration_id, data_type=obj.data_type, source_id=obj.source_id
        ).first()
        kept = reference.target_id if reference else ""
        left_behind = orders.superseded_invoices(obj)
        rows = [
            {
                "number": str(i.get("DocumentNumber") or ""),
                "date": i.get("InvoiceDate") or "",
                "total": i.get("Total"),
                "currency": i.get("Currency") or "",
                "customer": i.get("CustomerName") or "",
                "booked": str(i.get("Booked")).lower() == "true",
                "role": "linked"
                if str(i.get("DocumentNumber")) == kept
                else ("left behind by staff" if str(i.get("DocumentNumber")) in left_behind else "extra"),
            }
            for i in live
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Credit the extra invoice?",
            "opts": self.opts,
            "original": obj,
            "entity": obj,
            "kept": kept,
            "live": rows,
            "extra": [r for r in rows if r["role"] == "extra"],
            "problem": problem,
            "change_url": change_url(obj),
        }
        return TemplateResponse(request, "admin/integrations/entity/credit_extra.html", context)

    def retry_view(self, request: HttpRequest, obj: Entity) -> HttpResponse:
        self._retry(request, obj)
        return self.back_to(obj)

    @admin.action(description="Retry selected records", permissions=["operate"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Entity]) -> None:
        for entity in queryset:
            self._retry(request, entity)


# --- Reference ----------------------------------------------------------------------


@admin.register(Reference)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = ("data_type", "source_id", "target_id", "origin", "integration_link", "note", "created_at")
    list_filter = ("data_type", "origin", ("integration", IntegrationFilter))
    search_fields = ("source_id", "target_id", "note")
    list_select_related = ("integration__merchant",)
    fields = (
        "integration",
        "data_type",
        "source_id",
        "target_id",
        "note",
        "origin",
        "entity_link",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("origin", "entity_link", "created_at", "updated_at")

    def delete_model(self, request: HttpRequest, obj: Reference) -> None:
        services.forget_references([obj], actor=request.user.get_username())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Reference]) -> None:
        services.forget_references(queryset, actor=request.user.get_username())

    def save_model(self, request: HttpRequest, obj: Reference, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.origin = Reference.Origin.STAFF
        super().save_model(request, obj, form, change)
        entity = Entity.objects.filter(
            integration_id=obj.integration_id, data_type=obj.data_type, source_id=obj.source_id
        ).first()
        if entity is not None:
            actor = request.user.get_username()
            before = form.initial.get("target_id") if change else None
            what = (
                f"changed the reference from {before} to {obj.target_id}"
                if change and before != obj.target_id
                else f"{'saved' if change else 'added'} the reference → {obj.target_id}"
            )
            services.record_staff_action(
                entity=entity,
                actor=actor,
                code=REFERENCE_SAVED.code,
                message=f"{actor} {what} ({obj.data_type} {obj.source_id})",
                details={"target_id": obj.target_id, "previous": before or ""},
            )

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: Reference) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Record")
    def entity_link(self, obj: Reference) -> SafeString | str:
        if obj.pk is None:
            return EMPTY
        entity = Entity.objects.filter(
            integration_id=obj.integration_id, data_type=obj.data_type, source_id=obj.source_id
        ).first()
        return link(entity) if entity else "no record synced yet"


# --- Webhook delivery ---------------------------------------------------------------


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(HistoryAdmin):
    list_display = (
        "received_at",
        "kind",
        "outcome_badge",
        "reference",
        "short_reason",
        "integration_link",
        "entity_link",
    )
    list_filter = ("kind", "outcome", ("integration", IntegrationFilter))
    search_fields = ("reference", "reason")
    list_select_related = ("integration__merchant", "entity")
    fields = (
        "integration_link",
        "kind",
        "outcome_badge",
        "received_at",
        "reference",
        "reason",
        "entity_link",
        "body_pretty",
    )
    readonly_fields = ("integration_link", "outcome_badge", "entity_link", "body_pretty")

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_badge(self, obj: WebhookDelivery) -> SafeString:
        return badge(obj.outcome, obj.get_outcome_display())

    @admin.display(description="Reason")
    def short_reason(self, obj: WebhookDelivery) -> str:
        return Truncator(obj.reason).chars(100) or EMPTY

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: WebhookDelivery) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Record")
    def entity_link(self, obj: WebhookDelivery) -> SafeString | str:
        return link(obj.entity) if obj.entity_id else EMPTY

    @admin.display(description="Body as received")
    def body_pretty(self, obj: WebhookDelivery) -> SafeString:
        try:
            return pretty_json(json.loads(obj.body))
        except ValueError:
            return format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', obj.body)


# --- Connect jobs and full-file resyncs ----------------------------------------------

FULL_FILE_KINDS = MASTER_KINDS


@admin.register(ConnectJob)
class ConnectJobAdmin(HistoryAdmin):
    # Fits 1440 px beside both sidebars (the integration under the flow, the rows' outcome as one
    # column); full file and restarts are on the change page (and a filter).
    list_display = ("job_id", "flow_cell", "method", "status_badge", "items", "rows", "created_cell")
    list_filter = ("status", "method", "full_file", ("integration", IntegrationFilter), ("flow", FlowFilter))
    search_fields = ("job_id", "method")
    list_select_related = ("integration__merchant", "flow")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "integration",
                    "flow",
                    "task",
                    "job_id",
                    "method",
                    "status_badge",
                    "status_id",
                    "full_file",
                    "item_count",
                )
            },
        ),
        (
            "Outcome",
            {
                "fields": (
                    "written",
                    "ignored",
                    "rejected",
                    "inserts",
                    "updates",
                    "failures",
                    "messages_table",
                    "records_link",
                )
            },
        ),
        ("Request", {"fields": ("header_pretty", "body_size")}),
        ("Timing", {"fields": ("created_at", "finished_at", "last_checked_at", "checks", "restarts", "restarted_at")}),
    )
    readonly_fields = (
        "status_badge",
        "written",
        "ignored",
        "rejected",
        "messages_table",
        "records_link",
        "header_pretty",
        "body_size",
    )
    actions = ("restart",)
    object_views = (("restart", "restart_view", True),)

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: ConnectJob) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Flow · integration", ordering="flow__kind")
    def flow_cell(self, obj: ConnectJob) -> SafeString:
        return flow_over_integration(obj.flow, obj.integration)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: ConnectJob) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description="Rows written", ordering="rows_written")
    def written(self, obj: ConnectJob) -> int | str:
        return obj.rows_written if obj.is_finished else EMPTY

    @admin.display(description="Rows ignored", ordering="rows_ignored")
    def ignored(self, obj: ConnectJob) -> int | str:
        return obj.rows_ignored if obj.is_finished else EMPTY

    @admin.display(description="Rows rejected", ordering="rows_rejected")
    def rejected(self, obj: ConnectJob) -> int | str:
        return obj.rows_rejected if obj.is_finished else EMPTY

    @admin.display(description="Items", ordering="item_count")
    def items(self, obj: ConnectJob) -> int:
        return obj.item_count

    @admin.display(description="Created", ordering="created_at")
    def created_cell(self, obj: ConnectJob) -> SafeString:
        return moment_cell(obj.created_at)

    @admin.display(description="Rows")
    def rows(self, obj: ConnectJob) -> SafeString | str:
        """What happened to the job's rows, one labelled count a line (narrow enough for the list)."""
        if not obj.is_finished:
            return EMPTY
        warn = mark_safe(' style="color:#b45309;font-weight:600"')
        bad = mark_safe(' style="color:#dc3545;font-weight:600"')
        return format_html(
            "{}&nbsp;written<br><span{}>{}&nbsp;ignored</span><br><span{}>{}&nbsp;rejected</span>",
            obj.rows_written,
            warn if obj.rows_ignored else "",
            obj.rows_ignored,
            bad if obj.rows_rejected else "",
            obj.rows_rejected,
        )

    @admin.display(description="Norce's messages")
    def messages_table(self, obj: ConnectJob) -> SafeString | str:
        from django.template.loader import render_to_string

        rows = connect_jobs.message_rows(obj)
        if not rows:
            return EMPTY
        return render_to_string(
            "admin/integrations/connectjob/messages_table.html",
            {
                "rows": [
                    {
                        "row": row.row,
                        "severity": row.severity,
                        "message": row.message,
                        "record": link_by_id(Entity, row.entity_id, row.reference or f"#{row.entity_id}")
                        if row.entity_id
                        else EMPTY,
                    }
                    for row in rows
                ]
            },
        )

    @admin.display(description="X-StormConnect-Header")
    def header_pretty(self, obj: ConnectJob) -> SafeString:
        return pretty_json(obj.header)

    @admin.display(description="Request kept")
    def body_size(self, obj: ConnectJob) -> str:
        if not obj.request_body:
            return "not kept (full files are re-sent from the ERP)" if obj.full_file else EMPTY
        return f"{len(obj.request_body):,} bytes (gzip)"

    @admin.display(description="Records")
    def records_link(self, obj: ConnectJob) -> SafeString | str:
        if not obj.entity_ids:
            return EMPTY
        return format_html(
            '<a href="{}">{} records</a>', changelist_url(Entity, target_id=f"job:{obj.job_id}"), len(obj.entity_ids)
        )

    def object_buttons(self, request: HttpRequest, obj: ConnectJob) -> list[ObjectButton]:
        ok, _reason = connect_jobs.restartable(obj)
        return [ObjectButton("Restart job", self.object_view_url(obj, "restart"))] if ok else []

    def _restart(self, request: HttpRequest, job: ConnectJob) -> None:
        try:
            connect_jobs.restart(job.pk)
        except SyncError as exc:
            self.message_user(
                request, f"Job {job.job_id}: not restarted. {admin_views.describe_error(exc)}", messages.ERROR
            )
        else:
            self.message_user(request, f"Job {job.job_id}: restarted in Norce; Brygga follows it again.")

    def restart_view(self, request: HttpRequest, obj: ConnectJob) -> HttpResponse:
        self._restart(request, obj)
        return self.back_to(obj)

    @admin.action(description="Restart job (finished, within two weeks)", permissions=["operate"])
    def restart(self, request: HttpRequest, queryset: QuerySet[ConnectJob]) -> None:
        for job in queryset:
            self._restart(request, job)


@admin.register(ResyncRun)
class ResyncRunAdmin(HistoryAdmin):
    list_display = ("id", "integration_link", "flow_link", "status", "progress", "items", "started_at", "finished_at")
    list_filter = ("status", ("integration", IntegrationFilter), ("flow", FlowFilter))
    list_select_related = ("integration__merchant", "flow")
    readonly_fields = ("progress", "jobs_link")
    fields = (
        "integration",
        "flow",
        "status",
        "progress",
        "items",
        "pages_done",
        "total_pages",
        "jobs_link",
        "started_at",
        "updated_at",
        "finished_at",
        "error",
    )

    @admin.display(description="Integration", ordering="integration__name")
    def integration_link(self, obj: ResyncRun) -> SafeString | str:
        return link(obj.integration)

    @admin.display(description="Flow", ordering="flow__kind")
    def flow_link(self, obj: ResyncRun) -> SafeString | str:
        return link(obj.flow, flow_label(obj.flow.kind))

    @admin.display(description="Progress")
    def progress(self, obj: ResyncRun) -> str:
        if obj.total_pages:
            return f"{obj.pages_done}/{obj.total_pages} pages ({obj.pages_done / obj.total_pages:.0%})"
        return f"{obj.pages_done} pages"

    @admin.display(description="Connect jobs")
    def jobs_link(self, obj: ResyncRun) -> SafeString | str:
        if not obj.job_ids:
            return EMPTY
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((change_url(job), str(job)) for job in ConnectJob.objects.filter(pk__in=obj.job_ids)),
        )


# --- Internals: django-q2's own queue, read-only ------------------------------------------
#
# django-q2 registers its schedules, finished and failed queue messages and the ORM queue as
# editable screens with a "resubmit" action. They are the machinery under Brygga's Tasks:
# changing them by hand bypasses Brygga (schedule rules own the schedules; Brygga's tasks own
# their retries). They are shown read-only under their own heading.


def _internals_readonly(base: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    class ReadOnly(NoEditing, base):  # type: ignore[misc, valid-type]
        actions = ()

        def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None):  # type: ignore[override]
            return [field.name for field in self.model._meta.fields]

    ReadOnly.__name__ = ReadOnly.__qualname__ = f"ReadOnly{base.__name__}"
    return ReadOnly


def register_internals(site: admin.AdminSite) -> None:
    from django.apps import apps
    from django_q import models as q_models

    for model in (q_models.Schedule, q_models.Success, q_models.Failure, q_models.OrmQ):
        if not site.is_registered(model):
            continue
        current = type(site.get_model_admin(model))
        site.unregister(model)
        site.register(model, _internals_readonly(current))
    apps.get_app_config("django_q").verbose_name = "Internals: task queue (read-only)"


register_internals(admin.site)
