"""Admin screens for Connect jobs and full-file resyncs, and django-q2's own queue shown read-only."""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django_q import models as q_models

from core.errors import SyncError
from integrations.admin.display import (
    EMPTY,
    FlowFilter,
    HistoryAdmin,
    IntegrationFilter,
    NoEditing,
    ObjectButton,
    badge,
    change_url,
    changelist_url,
    flow_label,
    flow_over_integration,
    link,
    link_by_id,
    moment_cell,
    pretty_json,
)
from integrations.admin.views import describe_error
from integrations.flows import connect_jobs
from integrations.models import ConnectJob, Entity, ResyncRun

# --- Connect jobs and full-file resyncs ----------------------------------------------


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
            self.message_user(request, f"Job {job.job_id}: not restarted. {describe_error(exc)}", messages.ERROR)
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
    for model in (q_models.Schedule, q_models.Success, q_models.Failure, q_models.OrmQ):
        if not site.is_registered(model):
            continue
        current = type(site.get_model_admin(model))
        site.unregister(model)
        site.register(model, _internals_readonly(current))
    apps.get_app_config("django_q").verbose_name = "Internals: task queue (read-only)"


register_internals(admin.site)
