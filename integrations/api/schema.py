"""OpenAPI additions: the error answers every status endpoint can give, each a JSON reason."""

from __future__ import annotations

from typing import Any

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "Why the request was refused."}},
    "required": ["detail"],
}
INVALID_PARAMETERS = {
    "type": "object",
    "description": "Each rejected query parameter with the reasons it was rejected.",
    "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
}
ERRORS = {
    "400": ("Bad query parameter (the body names it).", "InvalidParameters"),
    "401": ("No valid token or session.", "ErrorDetail"),
    "403": ("Authenticated, but not a staff user.", "ErrorDetail"),
    "404": ("No such object.", "ErrorDetail"),
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document 400/401/403/404 with their JSON bodies."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorDetail"] = DETAIL
    schemas["InvalidParameters"] = INVALID_PARAMETERS
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, (description, component) in ERRORS.items():
                if code == "400" and not operation.get("parameters"):
                    continue
                responses.setdefault(
                    code,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
                    },
                )
    return result
