"""Admin screens for records: each record's history, its references and the webhook deliveries it came in."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from core import errors
from core.errors import REFERENCE_SAVED, SyncError
from integrations import services
from integrations.admin.display import (
    EMPTY,
    HistoryAdmin,
    IntegrationFilter,
    ObjectButton,
    badge,
    change_url,
    code_link,
    link,
    link_by_id,
    local,
    pretty_json,
)
from integrations.admin.views import describe_error
from integrations.flows import invoice_repair, order_records
from integrations.models import Entity, Reference, Task, WebhookDelivery

# --- Entity -------------------------------------------------------------------------


def live_invoice_rows(entity: Entity) -> tuple[list[dict[str, Any]], str]:
    """The order's live ERP invoices as rows of a confirmation page, or why the ERP could not be asked."""
    try:
        live = invoice_repair.live_invoices_for(entity_id=entity.pk)
    except SyncError as exc:
        return [], describe_error(exc)
    rows = [
        {
            "number": i.number,
            "date": i.date,
            "total": i.total,
            "currency": i.currency,
            "customer": i.customer_name,
            "booked": i.booked,
        }
        for i in live
    ]
    return rows, ""


# A fulfilment record's fields in the order a person reads them, with their labels.
LIFE_FIELDS = (
    "kind",
    "document",
    "order_reference",
    "erp_order",
    "delivered_on",
    "carrier",
    "parcels",
    "complete",
    "invoice_date",
    "due_date",
    "currency",
    "total",
    "vat",
    "round_off",
    "last_for_order",
    "reason",
)
LIFE_LINE_FIELDS = ("row_number", "part_no", "description", "quantity", "unit_price", "unit_vat", "vat_rate")
LIFE_LABELS = {
    "erp_order": "ERP order",
    "vat": "VAT",
    "unit_vat": "Unit VAT",
    "vat_rate": "VAT rate (%)",
    "unit_price": "Unit price excl. VAT",
    "part_no": "Part no.",
    "row_number": "Row",
    "complete": "Whole order delivered",
    "last_for_order": "Last invoice for the order",
    "round_off": "Round-off",
}


def _life_value(value):
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _cell(value):
    return "" if value is None else _life_value(value)


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
        ("In the target system", {"fields": ("target_id", "reference_link", "synced_at", "life_record")}),
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
        "life_record",
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

    @admin.display(description="Delivery, invoice or cancellation")
    def life_record(self, obj: Entity) -> SafeString | str:
        """What a fulfilment record tells the webshop, readable: its fields and its lines."""
        record = (obj.payload or {}).get("record") if obj.data_type == "fulfilment" else None
        if not isinstance(record, dict):
            return EMPTY
        order = {key: i for i, key in enumerate(LIFE_FIELDS)}
        head = [
            (LIFE_LABELS.get(k, k.replace("_", " ").capitalize()), _life_value(v))
            for k, v in sorted(record.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
            if k != "lines" and v not in ("", None, [])
        ]
        lines = record.get("lines") or []
        # A column no line fills (a delivery's row numbers, when the ERP names none) is left out.
        seen = {key for line in lines for key, value in line.items() if value not in ("", None)}
        columns = [c for c in LIFE_LINE_FIELDS if c in seen] + sorted(seen - set(LIFE_LINE_FIELDS))
        return format_html(
            "<table><tbody>{}</tbody></table>{}",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", head),
            format_html(
                "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
                format_html_join(
                    "", "<th>{}</th>", ((LIFE_LABELS.get(c, c.replace("_", " ").capitalize()),) for c in columns)
                ),
                format_html_join(
                    "",
                    "<tr>{}</tr>",
                    (
                        (format_html_join("", "<td>{}</td>", ((_cell(line.get(c)),) for c in columns)),)
                        for line in lines
                    ),
                ),
            )
            if lines
            else "",
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
            text = describe_error(exc) if isinstance(exc, SyncError) else str(exc)
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
        if obj.data_type != order_records.DATA_TYPE:
            raise Http404("Only orders become invoices")
        if request.method == "POST":
            try:
                task = invoice_repair.request_new_invoice(
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
        live, problem = live_invoice_rows(obj)
        context = {
            **self.admin_site.each_context(request),
            "title": "Create a new invoice anyway?",
            "opts": self.opts,
            "original": obj,
            "entity": obj,
            "erp": obj.integration.erp_label,
            "live": live,
            "problem": problem,
            "change_url": change_url(obj),
        }
        return TemplateResponse(request, "admin/integrations/entity/create_anyway.html", context)

    def credit_extra_view(self, request: HttpRequest, obj: Entity) -> HttpResponse:
        """Confirmation page: the order's live invoices, which one is linked and which are extra;
        its POST cancels or credits one extra invoice (idempotently)."""
        if obj.data_type != order_records.DATA_TYPE:
            raise Http404("Only orders have invoices")
        if request.method == "POST":
            number = (request.POST.get("invoice") or "").strip()
            try:
                done = invoice_repair.credit_extra_invoice(
                    entity_id=obj.pk, number=number, actor=request.user.get_username()
                )
            except ValueError as exc:
                self.message_user(request, f"{obj}: invoice {number} not credited. {exc}", messages.ERROR)
            except SyncError as exc:
                self.message_user(
                    request, f"{obj}: invoice {number} not credited. {describe_error(exc)}", messages.ERROR
                )
            else:
                self.message_user(request, f"{obj}: {obj.integration.erp_label} invoice {number} {done}.")
            return self.back_to(obj)
        rows, problem = live_invoice_rows(obj)
        reference = Reference.objects.filter(
            integration_id=obj.integration_id, data_type=obj.data_type, source_id=obj.source_id
        ).first()
        kept = reference.target_id if reference else ""
        left_behind = order_records.superseded_invoices(obj)
        for row in rows:
            number = row["number"]
            row["role"] = "linked" if number == kept else ("left behind by staff" if number in left_behind else "extra")
        context = {
            **self.admin_site.each_context(request),
            "title": "Credit the extra invoice?",
            "opts": self.opts,
            "original": obj,
            "entity": obj,
            "erp": obj.integration.erp_label,
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
