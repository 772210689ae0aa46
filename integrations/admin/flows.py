"""Admin screens for what runs and when: flows, schedule rules and the time history cursors."""

from __future__ import annotations

from typing import Any

from croniter import croniter
from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django_q.models import Schedule

from core.errors import SyncError
from integrations import registry, schedules, selectors, services
from integrations.admin.display import (
    EMPTY,
    BryggaAdmin,
    IntegrationFilter,
    ObjectButton,
    ago,
    badge,
    changelist_url,
    flow_label,
    link,
    link_by_id,
    local,
    pretty_json,
)
from integrations.admin.views import describe_error
from integrations.flows.master_settings import MASTER_KINDS
from integrations.models import Flow, ResyncRun, ScheduleRule, Task, TimeHistory

# --- Flow ---------------------------------------------------------------------------

FULL_FILE_KINDS = MASTER_KINDS


def run_flow_now(model_admin: admin.ModelAdmin, request: HttpRequest, flow: Flow) -> None:
    """Queue a manual run of the flow and tell staff which task it became."""
    try:
        task = services.run_flow_now(flow.pk, trigger=Task.Trigger.MANUAL)
    except (SyncError, ValueError) as exc:
        text = describe_error(exc) if isinstance(exc, SyncError) else str(exc)
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
            text = describe_error(exc) if isinstance(exc, SyncError) else str(exc)
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
