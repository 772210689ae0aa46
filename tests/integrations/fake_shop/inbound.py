"""The fake shop's notices: `{"order": "<reference>"}` names an order, `{"changed": "<key>", "types":
[...], "id": "<notice id>"}` a changed record, anything else is ignored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.inbound import (
    Ignored,
    Inbound,
    OrderEvent,
    Outcome,
    RecordChanged,
    Webhook,
    credential_bytes,
    same_secret,
)


class Notices(Webhook):
    what = "Fake shop notice"
    delivery_kind = "norce_event"
    reference_field = "order"

    def authenticated(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        return same_secret(credential_bytes(headers.get("X-Shop-Token", "")), credentials.get("hook_token", ""))

    def read(self, body: Any) -> Inbound:
        if isinstance(body, dict) and isinstance(body.get("order"), str) and body["order"].strip():
            return OrderEvent(reference=body["order"].strip())
        if isinstance(body, dict) and isinstance(body.get("changed"), str):
            return RecordChanged(
                data_types=tuple(body.get("types", ())), key=body["changed"], reference=body.get("id", "")
            )
        return Ignored(reason="not an order notice")

    def answer(self, outcome: Outcome) -> dict[str, Any]:
        return {"result": outcome.status}

    def refusal(self, status: int, reason: str) -> dict[str, Any]:
        return {"refused": reason, "status": status}


NOTICES = Notices()
