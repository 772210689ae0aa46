"""Visma.net's webhook: thin notifications from the Visma Developer Portal's subscriptions.

A notification names a changed entity and carries no record: ``{"notificationId", "tenantId",
"event": "<Entity>.<Action>", "entity", "id", "timestamp"}`` (Visma does not publish the payload;
this is the wire contract's assumption). The flows of its data types read the entity again.

Visma documents no signature. The connector's webhook secret comes in the header
``X-Webhook-Token`` (set on the Developer Portal subscription), or, for a subscription that cannot
send a header, as the query parameter ``token`` of its URL (the view hands it on as
``X-Webhook-Query-Token``; a proxy's access log may keep query strings, so prefer the header).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.vismanet.errors import NOTIFICATION_MALFORMED
from core.errors import SyncError
from core.inbound import Ignored, Inbound, Outcome, RecordChanged, Webhook, credential_bytes, label, same_secret

TOKEN_HEADERS = ("X-Webhook-Token", "X-Webhook-Query-Token")
MASTER_DATA = ("product", "price", "stock")


class Notifications(Webhook):
    """POST of a Visma.net (Financials or SalesOrderService) notification."""

    what = "Visma.net notification"
    delivery_kind = "erp_notification"
    malformed = NOTIFICATION_MALFORMED
    reference_field = "id"
    query_credentials = ("token",)
    unauthenticated = "missing or wrong webhook token"
    refused_because = "the webhook token is missing or does not match the Visma.net connector's webhook secret"

    def authenticated(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        expected = credentials.get("webhook_secret", "")
        return any(same_secret(credential_bytes(headers.get(name, "")), expected) for name in TOKEN_HEADERS)

    def read(self, body: Any) -> Inbound:
        if not isinstance(body, dict):
            raise SyncError(NOTIFICATION_MALFORMED.code, "the notification is not a JSON object")
        event = body.get("event")
        if not isinstance(event, str) or not event.strip():
            raise SyncError(NOTIFICATION_MALFORMED.code, "event: missing or not text")
        number = body.get("id")
        if isinstance(number, bool) or not isinstance(number, (str, int)) or not str(number).strip():
            raise SyncError(NOTIFICATION_MALFORMED.code, "id: missing, or not text or a whole number")
        notification = body.get("notificationId")
        reference = str(notification).strip() if isinstance(notification, (str, int)) else ""
        return changed(event.strip(), str(number).strip(), reference)

    def answer(self, outcome: Outcome) -> dict[str, Any]:
        received = outcome.received
        if isinstance(received, RecordChanged):
            return {"status": outcome.status, "key": label(received.key), "notificationId": received.reference}
        reason = received.reason if isinstance(received, Ignored) else ""
        return {"status": outcome.status, "reason": label(reason, length=300)}


def changed(event: str, number: str, reference: str) -> Inbound:
    """What a notification means for Brygga's flows."""
    entity, _, action = event.partition(".")
    if entity == "InventoryItem":
        return RecordChanged(data_types=MASTER_DATA, key=number, reference=reference)
    if entity == "Customer":
        return RecordChanged(data_types=("customer",), key=number, reference=reference)
    if event == "Shipment.StatusChanged":
        return RecordChanged(data_types=("fulfilment",), key=f"delivery:{number}", reference=reference)
    if event == "ArInvoice.StatusChanged":
        return RecordChanged(data_types=("fulfilment",), key=f"invoiced:{number}", reference=reference)
    if event in ("SALESORDER_UPDATED", "SALESORDER_DELETED"):
        order = number if "/" in number else f"SO/{number}"
        return RecordChanged(data_types=("fulfilment",), key=f"cancelled:{order}", reference=reference)
    return Ignored(reason=f"Visma.net event {event!r} is not one Brygga reads")


NOTIFICATIONS = Notifications()
