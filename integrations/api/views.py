"""Read-only status endpoints. Authentication, permissions and pagination come from settings."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from integrations import selectors
from integrations.api import filters
from integrations.api.pagination import StatusPagination
from integrations.api.serializers import (
    ConnectJobSerializer,
    IntegrationSerializer,
    LogEntrySerializer,
    ReferenceSerializer,
    TaskSerializer,
)
from integrations.models import ConnectJob, Connector, Integration, LogEntry, Reference, Task

PAGE_PARAMS = {StatusPagination.limit_query_param, StatusPagination.offset_query_param}


class FilteredViewSet(viewsets.ReadOnlyModelViewSet):
    """A read-only viewset whose list is filtered by its declared query parameters."""

    filter_params: tuple[filters.Param, ...] = ()
    # Ids are ASCII digits; anything else in the path is an unknown page (a JSON 404).
    lookup_value_regex = "[0-9]+"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        # An unknown (e.g. misspelt) parameter would otherwise be ignored and answer every record.
        known = {param.name for param in self.filter_params} | PAGE_PARAMS if self.action == "list" else set()
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise ValidationError(dict.fromkeys(unknown, "Unknown query parameter."))

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if self.action == "list":
            queryset = filters.apply(queryset, params=self.request.query_params, declared=self.filter_params)
        return queryset


@extend_schema_view(list=extend_schema(parameters=filters.openapi_parameters(filters.INTEGRATION_FILTERS)))
class IntegrationViewSet(FilteredViewSet):
    """Integrations with their connectors (no secrets) and the status of each flow."""

    serializer_class = IntegrationSerializer
    filter_params = filters.INTEGRATION_FILTERS
    queryset = (
        Integration.objects.select_related("merchant")
        .prefetch_related(
            Prefetch(
                "connectors",
                queryset=Connector.objects.only(
                    "id",
                    "integration_id",
                    "system",
                    "role",
                    "base_url",
                    "last_test_ok",
                    "last_test_at",
                    "token_expires_at",
                    "reconnect_needed_at",
                    "reconnect_reason",
                ).order_by("role"),
            )
        )
        .order_by("merchant__name", "name", "id")
    )

    def paginate_queryset(self, queryset: QuerySet) -> list[Integration] | None:
        page = super().paginate_queryset(queryset)
        self.flow_statuses = selectors.flow_statuses(page if page is not None else list(queryset))
        return page

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "flow_statuses": getattr(self, "flow_statuses", None)}


@extend_schema_view(list=extend_schema(parameters=filters.openapi_parameters(filters.TASK_FILTERS)))
class TaskViewSet(FilteredViewSet):
    serializer_class = TaskSerializer
    filter_params = filters.TASK_FILTERS
    queryset = Task.objects.select_related("flow").order_by("-created_at", "-id")


@extend_schema_view(list=extend_schema(parameters=filters.openapi_parameters(filters.LOG_FILTERS)))
class LogEntryViewSet(FilteredViewSet):
    serializer_class = LogEntrySerializer
    filter_params = filters.LOG_FILTERS
    queryset = LogEntry.objects.order_by("-created_at", "-id")


@extend_schema_view(list=extend_schema(parameters=filters.openapi_parameters(filters.REFERENCE_FILTERS)))
class ReferenceViewSet(FilteredViewSet):
    serializer_class = ReferenceSerializer
    filter_params = filters.REFERENCE_FILTERS
    queryset = Reference.objects.order_by("-created_at", "-id")


@extend_schema_view(list=extend_schema(parameters=filters.openapi_parameters(filters.CONNECT_JOB_FILTERS)))
class ConnectJobViewSet(FilteredViewSet):
    """Norce Connect import jobs: what was sent, and how Norce's processing ended."""

    serializer_class = ConnectJobSerializer
    filter_params = filters.CONNECT_JOB_FILTERS
    queryset = ConnectJob.objects.order_by("-created_at", "-id")


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under `api/`: a JSON 404 like the API's own, whatever the method."""
    return JsonResponse({"detail": "Not found."}, status=404)
