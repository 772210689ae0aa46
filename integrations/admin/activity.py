"""Admin screens for what ran: tasks and their log entries. Read-only history."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from core.errors import SyncError
from integrations import selectors, services
from integrations.admin.display import (
    EMPTY,
    FlowFilter,
    HistoryAdmin,
    IntegrationFilter,
    ObjectButton,
    badge,
    changelist_url,
    code_link,
    flow_label,
    flow_over_integration,
    format_duration,
    link,
    link_by_id,
    moment_cell,
    narrow_code_link,
    pretty_json,
)
from integrations.admin.flows import run_flow_now
from integrations.admin.views import describe_error, error_catalogue
from integrations.models import Entity, Flow, LogEntry, Task

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
            text = describe_error(exc) if isinstance(exc, SyncError) else str(exc)
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
        return error_catalogue(request, admin_site=self.admin_site)

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
