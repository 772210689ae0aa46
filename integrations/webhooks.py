"""Inbound HTTP from Norce: the order receiver (push) and the event webhook.

Both store what arrived durably in one transaction before answering, and both
dedupe on the order's ClientOrderRef, as does the fail-safe poll.
"""
from __future__ import annotations

import base64
import hmac
import json
import logging
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from connectors.norce.mapping import event_client_order_ref, order_from_request, order_response
from integrations import services
from integrations.errors import SyncError
from integrations.flows.orders import store_order
from integrations.models import Connector, Entity, Integration, Task, WebhookDelivery

log = logging.getLogger("brygga.webhooks")

MAX_BODY = 5 * 1024 * 1024


def _commerce_connector(integration_id: int) -> Connector | None:
    return (Connector.objects.select_related("integration")
            .filter(integration_id=integration_id, role=Connector.Role.COMMERCE, system=Connector.System.NORCE).first())


def _basic_auth_ok(request: HttpRequest, connector: Connector) -> bool:
    expected_user = connector.credentials.get("receiver_username", "")
    expected_password = connector.credentials.get("receiver_password", "")
    if not expected_password:
        return False
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user, expected_user) & hmac.compare_digest(password, expected_password)


def _order_response(*, ok: bool, description: str, erp_order_no: str = "", status: int = 200) -> JsonResponse:
    return JsonResponse(order_response(ok=ok, description=description, erp_order_no=erp_order_no or None), status=status)


def _body_text(request: HttpRequest) -> str:
    return request.body[:MAX_BODY].decode("utf-8", errors="replace")


@csrf_exempt
@require_POST
def order_receiver(request: HttpRequest, integration_id: int) -> JsonResponse:
    """Norce's ERP integration endpoint: POST OrderRequest → OrderResponse."""
    connector = _commerce_connector(integration_id)
    if connector is None:
        return _order_response(ok=False, description="Unknown integration", status=404)
    if not _basic_auth_ok(request, connector):
        return _order_response(ok=False, description="Authentication failed", status=401)
    integration = connector.integration
    text = _body_text(request)
    try:
        body = json.loads(text)
        order = order_from_request(body)
    except (ValueError, SyncError) as exc:
        reason = exc.message if isinstance(exc, SyncError) else f"Body is not valid JSON: {exc}"
        _reject(integration, text, reason)
        return _order_response(ok=False, description=reason[:300], status=400)
    with transaction.atomic():
        entity, created = store_order(integration=integration, source_id=order.source_id, payload=body,
                                      received_via="push", reference=order.order_no, label=order.buyer.display_name)
        WebhookDelivery.objects.create(
            integration=integration, kind=WebhookDelivery.Kind.ORDER_PUSH, body=text, reference=order.order_no,
            entity=entity, outcome=WebhookDelivery.Outcome.ACCEPTED if created else WebhookDelivery.Outcome.DUPLICATE,
        )
        if created:
            services.create_task(integration=integration, flow=services.flow_for(integration, "order"),
                                 trigger=Task.Trigger.ORDER_PUSH, params={"entity_ids": [entity.pk]})
    # HasErpOrderNo stays false: an ERP number here may make Norce replace the order's
    # OrderNo, and the order is confirmed with the invoice number through SendOrderStatus.
    if entity.status == Entity.Status.SYNCED and entity.target_id:
        return _order_response(ok=True, description=f"Already invoiced (Fortnox invoice {entity.target_id})")
    return _order_response(ok=True, description="Received" if created else "Already received")


def _reject(integration: Integration, text: str, reason: str) -> None:
    from integrations.models import LogEntry

    with transaction.atomic():
        WebhookDelivery.objects.create(integration=integration, kind=WebhookDelivery.Kind.ORDER_PUSH, body=text,
                                       outcome=WebhookDelivery.Outcome.REJECTED, reason=reason)
        LogEntry.objects.create(integration=integration, level=LogEntry.Level.ERROR, data_type="order",
                                code="order.malformed", message=f"Order push rejected: {reason}",
                                hint="The body is kept under Webhook deliveries. Check what the webshop sent.")


@csrf_exempt
@require_POST
def norce_event(request: HttpRequest, integration_id: int) -> JsonResponse:
    """Norce Commerce Event webhook. Authenticated by a static secret header (Norce signs nothing)."""
    connector = _commerce_connector(integration_id)
    if connector is None:
        return JsonResponse({"error": "unknown integration"}, status=404)
    secret = connector.credentials.get("event_secret", "")
    given = request.headers.get("X-Brygga-Secret", "")
    if not secret or not hmac.compare_digest(given, secret):
        return JsonResponse({"error": "missing or wrong X-Brygga-Secret header"}, status=401)
    integration = connector.integration
    text = _body_text(request)
    try:
        body: Any = json.loads(text)
    except ValueError:
        WebhookDelivery.objects.create(integration=integration, kind=WebhookDelivery.Kind.NORCE_EVENT, body=text,
                                       outcome=WebhookDelivery.Outcome.REJECTED, reason="not JSON")
        return JsonResponse({"error": "body is not JSON"}, status=400)
    if isinstance(body, dict) and "JobId" in body and "ClientOrderRef" not in body:
        return _job_completed(integration, body, text)
    try:
        ref = event_client_order_ref(body)
    except SyncError as exc:
        # Other event types are acknowledged (2xx) so Norce does not retry them forever.
        WebhookDelivery.objects.create(integration=integration, kind=WebhookDelivery.Kind.NORCE_EVENT, body=text,
                                       outcome=WebhookDelivery.Outcome.IGNORED, reason=exc.message)
        return JsonResponse({"status": "ignored", "reason": exc.message})
    with transaction.atomic():
        known = Entity.objects.filter(integration=integration, data_type="order", source_id=ref).first()
        WebhookDelivery.objects.create(
            integration=integration, kind=WebhookDelivery.Kind.NORCE_EVENT, body=text, reference=ref, entity=known,
            outcome=WebhookDelivery.Outcome.DUPLICATE if known else WebhookDelivery.Outcome.ACCEPTED,
        )
        if known is None:
            services.create_task(integration=integration, flow=services.flow_for(integration, "order"),
                                 trigger=Task.Trigger.WEBHOOK, params={"fetch_refs": [ref]})
    return JsonResponse({"status": "duplicate" if known else "accepted", "ClientOrderRef": ref})


def _job_completed(integration, body: dict[str, Any], text: str) -> JsonResponse:
    """JobCompletedEvent: one of our Connect imports ended; check it now (Job/Get tells the outcome)."""
    from integrations.flows import connect_jobs

    job_id = str(body.get("JobId"))
    with transaction.atomic():
        ours = connect_jobs.job_completed(integration.pk, job_id)
        WebhookDelivery.objects.create(
            integration=integration, kind=WebhookDelivery.Kind.NORCE_EVENT, body=text, reference=f"job {job_id}",
            outcome=WebhookDelivery.Outcome.ACCEPTED if ours else WebhookDelivery.Outcome.IGNORED,
            reason="" if ours else "not a job Brygga started",
        )
    return JsonResponse({"status": "accepted" if ours else "ignored", "JobId": job_id})
