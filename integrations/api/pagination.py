"""Pages of the status API: `limit` (1 to 500, default 100) and `offset`, both strict.

A value that is not a plain whole number in range answers 400 naming the parameter, instead
of being silently replaced by a default."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from integrations.api.filters import MAX_ID, parse_id

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


class StatusPagination(LimitOffsetPagination):
    default_limit = DEFAULT_PAGE_SIZE
    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request: Any) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return self.default_limit
        limit = parse_id(name=self.limit_query_param, raw=raw)
        if not 1 <= limit <= self.max_limit:
            raise ValidationError({self.limit_query_param: f"Enter a page size from 1 to {self.max_limit}."})
        return limit

    def get_offset(self, request: Any) -> int:
        raw = request.query_params.get(self.offset_query_param)
        return 0 if raw is None else parse_id(name=self.offset_query_param, raw=raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Number of results per page (at most {self.max_limit}; default {self.default_limit}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit},
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "The index of the first result to return.",
                "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_ID},
            },
        ]
