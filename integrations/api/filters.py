"""Query-parameter filters for the status API.

Each list endpoint declares the parameters it accepts; values are validated (a bad
value answers 400 naming the parameter) and applied as plain queryset filters.
The same declarations document the parameters in the OpenAPI schema.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from integrations.models import ConnectJob, Integration, LogEntry, Reference, Task

Kind = Literal["str", "int", "datetime"]


@dataclass(frozen=True)
class Param:
    name: str
    lookup: str
    description: str
    kind: Kind = "str"
    choices: tuple[str, ...] = ()

    def parse(self, raw: str) -> Any:
        if self.kind == "int":
            if not raw.isdigit():
                raise ValidationError({self.name: "Enter a whole number (an id)."})
            return int(raw)
        if self.kind == "datetime":
            return parse_moment(self.name, raw)
        if self.choices and raw not in self.choices:
            raise ValidationError({self.name: f"Must be one of: {', '.join(self.choices)}."})
        return raw

    def openapi(self) -> OpenApiParameter:
        types = {"str": OpenApiTypes.STR, "int": OpenApiTypes.INT, "datetime": OpenApiTypes.DATETIME}
        return OpenApiParameter(
            self.name, types[self.kind], OpenApiParameter.QUERY, description=self.description,
            enum=list(self.choices) or None,
        )


def parse_moment(name: str, raw: str) -> datetime:
    """An ISO 8601 date or date-time; naive values are read in the site's time zone."""
    moment = parse_datetime(raw)
    if moment is None:
        day = parse_date(raw)
        if day is None:
            raise ValidationError({name: "Enter an ISO 8601 date or date-time, e.g. 2025-01-31T08:00:00Z."})
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def apply(queryset: QuerySet, params: Mapping[str, str], declared: Sequence[Param]) -> QuerySet:
    """Filter `queryset` by every declared parameter present (and non-empty) in `params`."""
    conditions = {
        param.lookup: param.parse(params[param.name].strip())
        for param in declared
        if params.get(param.name, "").strip()
    }
    return queryset.filter(**conditions) if conditions else queryset


def openapi_parameters(declared: Sequence[Param]) -> list[OpenApiParameter]:
    return [param.openapi() for param in declared]


INTEGRATION_FILTERS = (
    Param("status", "status", "Integration status.", choices=tuple(Integration.Status.values)),
    Param("merchant", "merchant__slug", "Merchant slug."),
)

TASK_FILTERS = (
    Param("integration", "integration_id", "Integration id.", kind="int"),
    Param("flow", "flow_id", "Flow id.", kind="int"),
    Param("flow_kind", "flow__kind", "Flow kind, e.g. orders_to_erp."),
    Param("status", "status", "Task status.", choices=tuple(Task.Status.values)),
    Param("trigger", "trigger", "What started the task.", choices=tuple(Task.Trigger.values)),
    Param("created_after", "created_at__gte", "Tasks created at or after this moment (ISO 8601).", kind="datetime"),
    Param("created_before", "created_at__lt", "Tasks created before this moment (ISO 8601).", kind="datetime"),
)

LOG_FILTERS = (
    Param("integration", "integration_id", "Integration id.", kind="int"),
    Param("level", "level", "Log level.", choices=tuple(LogEntry.Level.values)),
    Param("code", "code", "Error code from the catalogue, e.g. order.missing_vat."),
    Param("reference", "reference", "Human reference, e.g. an order number."),
    Param("task", "task_id", "Task id.", kind="int"),
    Param("data_type", "data_type", "Data type, e.g. order."),
    Param("created_after", "created_at__gte", "Entries created at or after this moment (ISO 8601).", kind="datetime"),
)

CONNECT_JOB_FILTERS = (
    Param("integration", "integration_id", "Integration id.", kind="int"),
    Param("flow", "flow_id", "Flow id.", kind="int"),
    Param("status", "status", "Job status.", choices=tuple(ConnectJob.Status.values)),
    Param("job_id", "job_id", "Norce's JobId."),
    Param("method", "method", "Connect method, e.g. Product/ImportProducts."),
)

REFERENCE_FILTERS = (
    Param("integration", "integration_id", "Integration id.", kind="int"),
    Param("data_type", "data_type", "Data type, e.g. order or customer."),
    Param("source_id", "source_id", "Id in the source system."),
    Param("target_id", "target_id", "Id in the target system."),
    Param("origin", "origin", "How the reference came about.", choices=tuple(Reference.Origin.values)),
)
