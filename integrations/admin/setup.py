"""Admin screens for what staff set up first: merchants and their integrations."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from integrations import selectors
from integrations.admin.display import (
    EMPTY,
    BryggaAdmin,
    ReadOnlyInline,
    ago,
    badge,
    changelist_url,
    flow_label,
    format_duration,
    link,
    link_by_id,
    local,
)
from integrations.models import (
    Connector,
    Entity,
    Flow,
    Integration,
    LogEntry,
    Merchant,
    Reference,
    ScheduleRule,
    Task,
    TimeHistory,
    WebhookDelivery,
)

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
