"""Query-parameter filters for the status API.

Each list endpoint declares the parameters it accepts; values are validated (a bad
value answers 400 naming the parameter) and applied as plain queryset filters.
The same declarations document the parameters in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from integrations.models import ConnectJob, Integration, LogEntry, Reference, Task

Kind = Literal["str", "int", "datetime"]

# Ids are PostgreSQL bigints; larger numbers name nothing and cannot be sent to the database.
MAX_ID = 2**63 - 1
MAX_ID_DIGITS = len(str(MAX_ID))
# Free-text values may hold any character PostgreSQL text can store: everything but NUL.
TEXT_PATTERN = "^[^\\x00]*$"


@dataclass(frozen=True)
class Param:
    name: str
    lookup: str
    description: str
    kind: Kind = "str"
    choices: tuple[str, ...] = ()

    def parse(self, raw: str) -> Any:
        if self.kind == "int":
            return parse_id(name=self.name, raw=raw, minimum=1)
        if self.kind == "datetime":
            return parse_moment(name=self.name, raw=raw)
        if self.choices:
            if raw not in self.choices:
                raise ValidationError({self.name: f"Must be one of: {', '.join(self.choices)}."})
            return raw
        if "\x00" in raw:
            raise ValidationError({self.name: "Must not contain NUL (0x00) characters."})
        return raw

    def openapi(self) -> OpenApiParameter:
        if self.kind == "int":
            schema: dict[str, Any] = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
        elif self.kind == "datetime":
            schema = {"type": "string", "format": "date-time"}
        elif self.choices:
            schema = {"type": "string", "enum": list(self.choices)}
        else:
            schema = {"type": "string", "pattern": TEXT_PATTERN}
        return OpenApiParameter(self.name, schema, OpenApiParameter.QUERY, description=self.description)

    @property
    def ignores_blank(self) -> bool:
        """Free-text filters treat an empty value as absent; typed ones must hold a valid value."""
        return self.kind == "str" and not self.choices


def parse_id(*, name: str, raw: str, minimum: int = 0) -> int:
    """A whole number such as a database id: ASCII digits only (no sign, no spaces, no other scripts'
    digits), from `minimum` up to the bigint limit."""
    digits = raw.lstrip("0") or "0"  # leading zeros are harmless, but int() refuses very long strings
    if not (raw.isascii() and raw.isdigit()) or len(digits) > MAX_ID_DIGITS or not minimum <= int(digits) <= MAX_ID:
        raise ValidationError({name: f"Enter a whole number from {minimum} to {MAX_ID}."})
    return int(digits)


def parse_moment(*, name: str, raw: str) -> datetime:
    """An ISO 8601 date or date-time; naive values are read in the site's time zone.

    The moment is returned in UTC, so any offset Python accepts (up to ±23:59) names one instant,
    even those beyond what PostgreSQL takes in a literal (±15:59)."""
    message = "Enter an ISO 8601 date or date-time, e.g. 2025-01-31T08:00:00Z."
    if not raw.isascii():
        raise ValidationError({name: message})
    try:
        moment = parse_datetime(raw)
        if moment is None:
            day = parse_date(raw)
            if day is None:
                raise ValidationError({name: message})
            moment = datetime(day.year, day.month, day.day)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # 2025-02-30, +24:00, 25:00, a moment beyond year 1..9999
        raise ValidationError({name: f"{message} ({exc})"}) from None


def apply(queryset: QuerySet, *, params: Mapping[str, str], declared: Sequence[Param]) -> QuerySet:
    """Filter `queryset` by every declared parameter present in `params`.

    An empty free-text value means "no filter"; an empty typed value (id, moment, choice) is an error."""
    conditions = {}
    for param in declared:
        if param.name not in params:
            continue
        raw = params[param.name]
        if param.ignores_blank and not raw.strip():
            continue
        conditions[param.lookup] = param.parse(raw.strip() if param.ignores_blank else raw)
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
