"""Norce's inbound webhooks: the order receiver (push) and the event webhook.

Norce pushes each order as an OrderRequest (Basic auth with the connector's receiver
credentials) and answers its outcome from the OrderResponse Brygga sends back. Events come
with a static secret header (Norce signs nothing): OrderReceivedEvent names an order to
fetch, JobCompletedEvent ends a Connect import; other events are acknowledged and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.norce.order_request import event_client_order_ref, order_from_request
from connectors.norce.replies import order_response
from core.errors import EVENT_MALFORMED, ORDER_MALFORMED, SyncError
from core.inbound import (
    ACCEPTED,
    ERROR,
    Ignored,
    Inbound,
    InboundOrder,
    JobCompleted,
    OrderEvent,
    Outcome,
    Webhook,
    basic_auth_ok,
    credential_bytes,
    label,
    same_secret,
)


class OrderReceiver(Webhook):
    """Norce's ERP integration endpoint: POST OrderRequest → OrderResponse."""

    what = "Order push"
    delivery_kind = "order_push"
    malformed = ORDER_MALFORMED
    rejected_level = ERROR
    reference_field = "ClientOrderRef"
    not_post = "Only POST is accepted"
    unknown_integration = "Unknown integration"
    unauthenticated = "Authentication failed"
    refused_because = "the Basic auth username or password does not match the Norce connector"
    too_large = "The body is larger than {limit} bytes, the receiver's limit"
    unreadable = "The order could not be read ({error})"

    def authenticated(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        return basic_auth_ok(
            header=headers.get("Authorization", ""),
            username=credentials.get("receiver_username", ""),
            password=credentials.get("receiver_password", ""),
        )

    def read(self, body: Any) -> Inbound:
        return InboundOrder(order=order_from_request(body), payload=body)

    def answer(self, outcome: Outcome) -> dict[str, Any]:
        # HasErpOrderNo stays false: an ERP number here may make Norce replace the order's
        # OrderNo, and the order is confirmed with the invoice number through SendOrderStatus.
        if outcome.invoice:
            return order_response(ok=True, description=f"Already invoiced (Fortnox invoice {outcome.invoice})")
        return order_response(ok=True, description="Received" if outcome.status == ACCEPTED else "Already received")

    def refusal(self, status: int, reason: str) -> dict[str, Any]:
        return order_response(ok=False, description=reason[:300])


class EventWebhook(Webhook):
    """Norce Commerce Event webhook, authenticated by the X-Brygga-Secret header."""

    what = "Norce event"
    delivery_kind = "norce_event"
    malformed = EVENT_MALFORMED
    reference_field = "ClientOrderRef"
    unauthenticated = "missing or wrong X-Brygga-Secret header"
    refused_because = "the X-Brygga-Secret header is missing or does not match the Norce connector"

    def authenticated(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        given = credential_bytes(headers.get("X-Brygga-Secret", ""))
        return same_secret(given, credentials.get("event_secret", ""))

    def read(self, body: Any) -> Inbound:
        if isinstance(body, dict) and "JobId" in body and "ClientOrderRef" not in body:
            value = body.get("JobId")
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise SyncError(EVENT_MALFORMED.code, "JobId: must be text or a whole number")
            return JobCompleted(job_id=str(value).strip())
        try:
            return OrderEvent(reference=event_client_order_ref(body))
        except SyncError as exc:
            # Other event types are acknowledged (2xx) so Norce does not retry them forever.
            return Ignored(reason=exc.message)

    def answer(self, outcome: Outcome) -> dict[str, Any]:
        received = outcome.received
        if isinstance(received, JobCompleted):
            return {"status": outcome.status, "JobId": label(received.job_id)}
        if isinstance(received, OrderEvent):
            return {"status": outcome.status, "ClientOrderRef": received.reference}
        reason = received.reason if isinstance(received, Ignored) else ""
        return {"status": outcome.status, "reason": label(reason, length=300)}


ORDERS = OrderReceiver()
EVENTS = EventWebhook()
