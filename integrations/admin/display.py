"""Shared pieces of the admin screens: rendering helpers, list filters and the base classes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from core import errors
from integrations import registry
from integrations.models import Flow, Integration

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
