"""Inbound HTTP from Norce: the order receiver (push) and the event webhook.

Both store what arrived durably in one transaction before answering, and both
dedupe on the order's ClientOrderRef, as does the fail-safe poll. Every request
they cannot use is answered with a 4xx and a JSON reason, and kept (as a Webhook
delivery) and logged; see integrations.inbound for how bodies are read.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from connectors.norce.order_request import event_client_order_ref, order_from_request
from connectors.norce.replies import order_response
from core import errors
from core.errors import SyncError
from integrations import services
from integrations.flows import connect_jobs
from integrations.flows.order_records import store_order
from integrations.inbound import (
    MAX_BODY,
    REFERENCE_LENGTH,
    REFUSED_BODY_KEPT,
    Body,
    Unreadable,
    basic_auth_ok,
    credential_bytes,
    decode,
    label,
    parse_body,
    read_body,
    same_secret,
    storable_text,
)
from integrations.models import ConnectJob, Connector, Entity, Integration, LogEntry, Task, WebhookDelivery

log = logging.getLogger("brygga.webhooks")

_NUL_NOTE = (
    "Characters PostgreSQL cannot store (NUL, lone surrogates) were removed from the stored order; "
    "the raw body keeps them."
)


def _commerce_connector(integration_id: int) -> Connector | None:
    return (
        Connector.objects.select_related("integration")
        .filter(integration_id=integration_id, role=Connector.Role.COMMERCE, system=Connector.System.NORCE)
        .first()
    )


def _order_response(*, ok: bool, description: str, erp_order_no: str = "", status: int = 200) -> JsonResponse:
    return JsonResponse(
        order_response(ok=ok, description=description, erp_order_no=erp_order_no or None), status=status
    )


def _not_post(request: HttpRequest) -> bool:
    return request.method != "POST"


def _log_line(integration: Integration, *, level: str, code: str, message: str, reference: str = "") -> None:
    entry = errors.lookup(code)
    LogEntry.objects.create(
        integration=integration,
        level=level,
        data_type="order",
        code=code,
        reference=label(reference),
        message=storable_text(message),
        hint=entry.hint if entry else "",
    )


def _refused(integration: Integration, *, kind: str, body: Body, what: str, why: str) -> None:
    """A push or event with wrong credentials: kept (a bounded part of its body, no headers) and logged."""
    kept = body.raw[:REFUSED_BODY_KEPT]
    with transaction.atomic():
        WebhookDelivery.objects.create(
            integration=integration,
            kind=kind,
            raw_body=kept,
            body=storable_text(decode(kept, charset=body.charset)),
            outcome=WebhookDelivery.Outcome.REJECTED,
            reason=why,
        )
        _log_line(
            integration, level=LogEntry.Level.WARNING, code=errors.RECEIVER_AUTH.code, message=f"{what} refused: {why}"
        )
    log.warning("%s refused for integration %s: %s", what, integration.pk, why)


def _reject(
    integration: Integration,
    body: Body,
    reason: str,
    *,
    kind: str = WebhookDelivery.Kind.ORDER_PUSH,
    reference: str = "",
) -> str:
    """Keep an unusable body and log why; returns the reason as stored."""
    reason = label(reason, length=1000)
    if kind == WebhookDelivery.Kind.ORDER_PUSH:
        code, level, what = errors.ORDER_MALFORMED.code, LogEntry.Level.ERROR, "Order push"
    else:
        code, level, what = errors.EVENT_MALFORMED.code, LogEntry.Level.WARNING, "Norce event"
    with transaction.atomic():
        WebhookDelivery.objects.create(
            integration=integration,
            kind=kind,
            raw_body=body.raw,
            body=body.text,
            reference=label(reference),
            outcome=WebhookDelivery.Outcome.REJECTED,
            reason=reason,
        )
        _log_line(integration, level=level, code=code, message=f"{what} rejected: {reason}", reference=reference)
    log.warning("%s rejected for integration %s: %s", what, integration.pk, reason)
    return reason


@csrf_exempt
def order_receiver(request: HttpRequest, integration_id: int) -> JsonResponse:
    """Norce's ERP integration endpoint: POST OrderRequest → OrderResponse."""
    if _not_post(request):
        response = _order_response(ok=False, description="Only POST is accepted", status=405)
        response["Allow"] = "POST"
        return response
    connector = _commerce_connector(integration_id)
    if connector is None:
        return _order_response(ok=False, description="Unknown integration", status=404)
    integration = connector.integration
    body = read_body(request=request)
    if not basic_auth_ok(
        header=request.META.get("HTTP_AUTHORIZATION", ""),
        username=connector.credentials.get("receiver_username", ""),
        password=connector.credentials.get("receiver_password", ""),
    ):
        _refused(
            integration,
            kind=WebhookDelivery.Kind.ORDER_PUSH,
            body=body,
            what="Order push",
            why="the Basic auth username or password does not match the Norce connector",
        )
        return _order_response(ok=False, description="Authentication failed", status=401)
    if body.too_large:
        reason = _reject(integration, body, f"The body is larger than {MAX_BODY} bytes, the receiver's limit")
        return _order_response(ok=False, description=reason[:300], status=413)
    try:
        parsed = parse_body(decode(body.raw, charset=body.charset))
        order = order_from_request(parsed.value)
    except (Unreadable, SyncError) as exc:
        reason = _reject(integration, body, exc.message if isinstance(exc, SyncError) else exc.reason)
        return _order_response(ok=False, description=reason[:300], status=400)
    except Exception as exc:  # the mapping met a shape it does not know; refuse rather than fail
        log.exception("Order push for integration %s could not be read", integration.pk)
        reason = _reject(integration, body, f"The order could not be read ({type(exc).__name__})")
        return _order_response(ok=False, description=reason[:300], status=400)
    if len(order.source_id) > REFERENCE_LENGTH:
        reason = _reject(
            integration,
            body,
            f"ClientOrderRef: is longer than {REFERENCE_LENGTH} characters",
            reference=order.source_id,
        )
        return _order_response(ok=False, description=reason[:300], status=400)
    with transaction.atomic():
        entity, created = store_order(
            integration=integration,
            source_id=order.source_id,
            payload=parsed.value,
            received_via="push",
            reference=order.order_no,
            label=order.buyer.display_name,
        )
        WebhookDelivery.objects.create(
            integration=integration,
            kind=WebhookDelivery.Kind.ORDER_PUSH,
            raw_body=body.raw,
            body=body.text,
            reference=order.order_no,
            entity=entity,
            reason=_NUL_NOTE if parsed.altered else "",
            outcome=WebhookDelivery.Outcome.ACCEPTED if created else WebhookDelivery.Outcome.DUPLICATE,
        )
        if created:
            services.create_task(
                integration=integration,
                flow=services.flow_for(integration, "order"),
                trigger=Task.Trigger.ORDER_PUSH,
                params={"entity_ids": [entity.pk]},
            )
    # HasErpOrderNo stays false: an ERP number here may make Norce replace the order's
    # OrderNo, and the order is confirmed with the invoice number through SendOrderStatus.
    if entity.status == Entity.Status.SYNCED and entity.target_id:
        return _order_response(ok=True, description=f"Already invoiced (Fortnox invoice {entity.target_id})")
    return _order_response(ok=True, description="Received" if created else "Already received")


def _event_error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


@csrf_exempt
def norce_event(request: HttpRequest, integration_id: int) -> JsonResponse:
    """Norce Commerce Event webhook. Authenticated by a static secret header (Norce signs nothing)."""
    if _not_post(request):
        response = _event_error(405, "only POST is accepted")
        response["Allow"] = "POST"
        return response
    connector = _commerce_connector(integration_id)
    if connector is None:
        return _event_error(404, "unknown integration")
    integration = connector.integration
    body = read_body(request=request)
    given = credential_bytes(request.headers.get("X-Brygga-Secret", ""))
    if not same_secret(given, connector.credentials.get("event_secret", "")):
        _refused(
            integration,
            kind=WebhookDelivery.Kind.NORCE_EVENT,
            body=body,
            what="Norce event",
            why="the X-Brygga-Secret header is missing or does not match the Norce connector",
        )
        return _event_error(401, "missing or wrong X-Brygga-Secret header")
    kind = WebhookDelivery.Kind.NORCE_EVENT
    if body.too_large:
        return _event_error(413, _reject(integration, body, f"the body is larger than {MAX_BODY} bytes", kind=kind))
    try:
        parsed = parse_body(decode(body.raw, charset=body.charset))
    except Unreadable as exc:
        return _event_error(400, _reject(integration, body, exc.reason, kind=kind))
    event: Any = parsed.value
    if isinstance(event, dict) and "JobId" in event and "ClientOrderRef" not in event:
        return _job_completed(integration, event, body)
    try:
        ref = event_client_order_ref(event)
    except SyncError as exc:
        # Other event types are acknowledged (2xx) so Norce does not retry them forever.
        WebhookDelivery.objects.create(
            integration=integration,
            kind=kind,
            raw_body=body.raw,
            body=body.text,
            outcome=WebhookDelivery.Outcome.IGNORED,
            reason=label(exc.message, length=1000),
        )
        return JsonResponse({"status": "ignored", "reason": label(exc.message, length=300)})
    if len(ref) > REFERENCE_LENGTH:
        reason = f"ClientOrderRef: is longer than {REFERENCE_LENGTH} characters"
        return _event_error(400, _reject(integration, body, reason, kind=kind, reference=ref))
    with transaction.atomic():
        known = Entity.objects.filter(integration=integration, data_type="order", source_id=ref).first()
        WebhookDelivery.objects.create(
            integration=integration,
            kind=kind,
            raw_body=body.raw,
            body=body.text,
            reference=ref,
            entity=known,
            outcome=WebhookDelivery.Outcome.DUPLICATE if known else WebhookDelivery.Outcome.ACCEPTED,
        )
        if known is None:
            services.create_task(
                integration=integration,
                flow=services.flow_for(integration, "order"),
                trigger=Task.Trigger.WEBHOOK,
                params={"fetch_refs": [ref]},
            )
    return JsonResponse({"status": "duplicate" if known else "accepted", "ClientOrderRef": ref})


def _job_completed(integration: Integration, event: dict[str, Any], body: Body) -> JsonResponse:
    """JobCompletedEvent: one of our Connect imports ended; check it now (Job/Get tells the outcome)."""
    kind = WebhookDelivery.Kind.NORCE_EVENT
    value = event.get("JobId")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return _event_error(400, _reject(integration, body, "JobId: must be text or a whole number", kind=kind))
    job_id = str(value).strip()
    fits = 0 < len(job_id) <= ConnectJob._meta.get_field("job_id").max_length
    with transaction.atomic():
        ours = fits and connect_jobs.job_completed(integration.pk, job_id)
        WebhookDelivery.objects.create(
            integration=integration,
            kind=kind,
            raw_body=body.raw,
            body=body.text,
            reference=label(f"job {job_id}"),
            outcome=WebhookDelivery.Outcome.ACCEPTED if ours else WebhookDelivery.Outcome.IGNORED,
            reason="" if ours else "not a job Brygga started",
        )
    return JsonResponse({"status": "accepted" if ours else "ignored", "JobId": label(job_id)})
