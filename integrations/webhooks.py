"""Inbound webhooks of every system: POST /<system>/<integration>/<hook>.

A system's connector declares its hooks (``SystemDeclaration.webhooks``, each a
``core.inbound.Webhook``): how a request is authenticated, what its body means and how the
answers look. This view does the rest for all of them. What arrived is stored durably in one
transaction before answering, and orders dedupe on their reference, as does the fail-safe
poll. Every request a hook cannot use is answered with a 4xx and a JSON reason, and kept (as
a Webhook delivery) and logged; see integrations.inbound for how bodies are read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.datastructures import CaseInsensitiveMapping
from django.views.decorators.csrf import csrf_exempt

from core import errors
from core.errors import SyncError
from core.inbound import (
    ACCEPTED,
    DUPLICATE,
    IGNORED,
    REFERENCE_LENGTH,
    Ignored,
    Inbound,
    InboundOrder,
    JobCompleted,
    OrderEvent,
    Outcome,
    RecordChanged,
    Webhook,
    label,
    storable_text,
)
from core.systems import SystemDeclaration
from integrations import http_errors, registry, services
from integrations.flows import connect_jobs
from integrations.flows.order_records import DATA_TYPE, store_order
from integrations.inbound import MAX_BODY, REFUSED_BODY_KEPT, Body, Unreadable, decode, parse_body, read_body
from integrations.models import ConnectJob, Connector, Entity, Flow, Integration, LogEntry, Task, WebhookDelivery

log = logging.getLogger("brygga.webhooks")

_NUL_NOTE = (
    "Characters PostgreSQL cannot store (NUL, lone surrogates) were removed from the stored order; "
    "the raw body keeps them."
)


def _connector(declared: SystemDeclaration, integration_id: int) -> Connector | None:
    return (
        Connector.objects.select_related("integration")
        .filter(integration_id=integration_id, role=declared.role, system=declared.key)
        .first()
    )


def _log_line(integration: Integration, *, level: str, code: str, message: str, reference: str = "") -> None:
    entry = errors.lookup(code)
    LogEntry.objects.create(
        integration=integration,
        level=level,
        data_type=DATA_TYPE,
        code=code,
        reference=label(reference),
        message=storable_text(message),
        hint=entry.hint if entry else "",
    )


def _refused(integration: Integration, webhook: Webhook, body: Body) -> None:
    """A request with wrong credentials: kept (a bounded part of its body, no headers) and logged."""
    kept = body.raw[:REFUSED_BODY_KEPT]
    why = webhook.refused_because
    with transaction.atomic():
        WebhookDelivery.objects.create(
            integration=integration,
            kind=webhook.delivery_kind,
            raw_body=kept,
            body=storable_text(decode(kept, charset=body.charset)),
            outcome=WebhookDelivery.Outcome.REJECTED,
            reason=why,
        )
        _log_line(
            integration,
            level=LogEntry.Level.WARNING,
            code=errors.RECEIVER_AUTH.code,
            message=f"{webhook.what} refused: {why}",
        )
    log.warning("%s refused for integration %s: %s", webhook.what, integration.pk, why)


def _reject(integration: Integration, webhook: Webhook, body: Body, reason: str, *, reference: str = "") -> str:
    """Keep an unusable body and log why; returns the reason as stored."""
    reason = label(reason, length=1000)
    with transaction.atomic():
        WebhookDelivery.objects.create(
            integration=integration,
            kind=webhook.delivery_kind,
            raw_body=body.raw,
            body=body.text,
            reference=label(reference),
            outcome=WebhookDelivery.Outcome.REJECTED,
            reason=reason,
        )
        _log_line(
            integration,
            level=LogEntry.Level(webhook.rejected_level),
            code=webhook.malformed.code,
            message=f"{webhook.what} rejected: {reason}",
            reference=reference,
        )
    log.warning("%s rejected for integration %s: %s", webhook.what, integration.pk, reason)
    return reason


@csrf_exempt
def receive(request: HttpRequest, system: str, integration_id: int, hook: str) -> HttpResponse:
    """The webhook `hook` of `system` for one integration; see the module's docstring."""
    declared = registry.system(system)
    path = declared.webhooks.get(hook) if declared else None
    if declared is None or not path:
        return http_errors.not_found(request, Http404(f"no webhook {hook!r} of a system {system!r}"))
    webhook: Webhook = registry.import_string(path)
    if request.method != "POST":
        response = JsonResponse(webhook.refusal(405, webhook.not_post), status=405)
        response["Allow"] = "POST"
        return response
    connector = _connector(declared, integration_id)
    if connector is None:
        return JsonResponse(webhook.refusal(404, webhook.unknown_integration), status=404)
    integration = connector.integration
    body = read_body(request=request)
    if not webhook.authenticated(_credential_headers(request, webhook), connector.credentials):
        _refused(integration, webhook, body)
        return JsonResponse(webhook.refusal(401, webhook.unauthenticated), status=401)
    if body.too_large:
        reason = _reject(integration, webhook, body, webhook.too_large.format(limit=MAX_BODY))
        return JsonResponse(webhook.refusal(413, reason), status=413)
    try:
        parsed = parse_body(decode(body.raw, charset=body.charset))
        received = webhook.read(parsed.value)
    except (Unreadable, SyncError) as exc:
        reason = _reject(integration, webhook, body, exc.message if isinstance(exc, SyncError) else exc.reason)
        return JsonResponse(webhook.refusal(400, reason), status=400)
    except Exception as exc:  # the mapping met a shape it does not know; refuse rather than fail
        log.exception("%s for integration %s could not be read", webhook.what, integration.pk)
        reason = _reject(integration, webhook, body, webhook.unreadable.format(error=type(exc).__name__))
        return JsonResponse(webhook.refusal(400, reason), status=400)
    reference = _reference(received)
    if len(reference) > REFERENCE_LENGTH:
        why = f"{webhook.reference_field}: is longer than {REFERENCE_LENGTH} characters"
        reason = _reject(integration, webhook, body, why, reference=reference)
        return JsonResponse(webhook.refusal(400, reason), status=400)
    if isinstance(received, InboundOrder):
        outcome = _store_order(integration, webhook, body, received, altered=parsed.altered)
    elif isinstance(received, OrderEvent):
        outcome = _order_event(integration, webhook, body, received)
    elif isinstance(received, JobCompleted):
        outcome = _job_completed(integration, webhook, body, received)
    elif isinstance(received, RecordChanged):
        outcome = _record_changed(integration, webhook, body, received)
    else:
        outcome = _ignored(integration, webhook, body, received)
    return JsonResponse(webhook.answer(outcome))


def _credential_headers(request: HttpRequest, webhook: Webhook) -> Mapping[str, str]:
    """The request's headers, and the query parameters the hook reads credentials from as
    ``X-Webhook-Query-<Name>`` headers."""
    if not webhook.query_credentials:
        return request.headers
    passed = {
        f"X-Webhook-Query-{name.capitalize()}": request.GET[name]
        for name in webhook.query_credentials
        if name in request.GET
    }
    return CaseInsensitiveMapping({**request.headers, **passed})


def _reference(received: Inbound) -> str:
    if isinstance(received, InboundOrder):
        return received.order.source_id
    if isinstance(received, OrderEvent):
        return received.reference
    if isinstance(received, RecordChanged):
        return received.key
    return ""


def _store_order(
    integration: Integration, webhook: Webhook, body: Body, received: InboundOrder, *, altered: bool
) -> Outcome:
    """A pushed order: stored, and queued for the order flow unless it was known already."""
    order = received.order
    with transaction.atomic():
        entity, created = store_order(
            integration=integration,
            source_id=order.source_id,
            payload=received.payload,
            received_via="push",
            reference=order.order_no,
            label=order.buyer.display_name,
        )
        WebhookDelivery.objects.create(
            integration=integration,
            kind=webhook.delivery_kind,
            raw_body=body.raw,
            body=body.text,
            reference=order.order_no,
            entity=entity,
            reason=_NUL_NOTE if altered else "",
            outcome=WebhookDelivery.Outcome.ACCEPTED if created else WebhookDelivery.Outcome.DUPLICATE,
        )
        if created:
            services.create_task(
                integration=integration,
                flow=services.flow_for(integration, DATA_TYPE),
                trigger=Task.Trigger.ORDER_PUSH,
                params={"entity_ids": [entity.pk]},
            )
    invoiced = entity.status == Entity.Status.SYNCED and entity.target_id
    return Outcome(ACCEPTED if created else DUPLICATE, received, invoice=entity.target_id if invoiced else "")


def _order_event(integration: Integration, webhook: Webhook, body: Body, received: OrderEvent) -> Outcome:
    """An event naming an order: a task fetching it, unless Brygga has the order already."""
    ref = received.reference
    with transaction.atomic():
        known = Entity.objects.filter(integration=integration, data_type=DATA_TYPE, source_id=ref).first()
        WebhookDelivery.objects.create(
            integration=integration,
            kind=webhook.delivery_kind,
            raw_body=body.raw,
            body=body.text,
            reference=ref,
            entity=known,
            outcome=WebhookDelivery.Outcome.DUPLICATE if known else WebhookDelivery.Outcome.ACCEPTED,
        )
        if known is None:
            services.create_task(
                integration=integration,
                flow=services.flow_for(integration, DATA_TYPE),
                trigger=Task.Trigger.WEBHOOK,
                params={"fetch_refs": [ref]},
            )
    return Outcome(DUPLICATE if known else ACCEPTED, received)


def _job_completed(integration: Integration, webhook: Webhook, body: Body, received: JobCompleted) -> Outcome:
    """One of our Connect imports ended; check it now (Job/Get tells the outcome)."""
    job_id = received.job_id
    fits = 0 < len(job_id) <= ConnectJob._meta.get_field("job_id").max_length
    with transaction.atomic():
        ours = fits and connect_jobs.job_completed(integration.pk, job_id)
        WebhookDelivery.objects.create(
            integration=integration,
            kind=webhook.delivery_kind,
            raw_body=body.raw,
            body=body.text,
            reference=label(f"job {job_id}"),
            outcome=WebhookDelivery.Outcome.ACCEPTED if ours else WebhookDelivery.Outcome.IGNORED,
            reason="" if ours else "not a job Brygga started",
        )
    return Outcome(ACCEPTED if ours else IGNORED, received)


# The task parameter naming the records a notice points at, per data type of the flow.
RECORD_KEYS_PARAM = {"fulfilment": "event_keys"}


def _record_changed(integration: Integration, webhook: Webhook, body: Body, received: RecordChanged) -> Outcome:
    """A thin notice naming a changed record: each enabled flow of its data types gets a task
    reading that record again (and sending it only if it changed). A notice whose id was
    accepted before (the sender delivered it twice) is kept as a duplicate and queues nothing;
    the flows' fail-safe polls catch what a lost notice would have said."""
    reference = label(f"{received.key} ({received.reference})" if received.reference else received.key)
    with transaction.atomic():
        if received.reference:
            # Two copies of one notice may arrive at the same moment: the integration's row lock
            # makes the second wait until the first is recorded, and then see it.
            Integration.objects.select_for_update().filter(pk=integration.pk).first()
        replay = bool(received.reference) and (
            WebhookDelivery.objects.filter(
                integration=integration,
                kind=webhook.delivery_kind,
                reference=reference,
                outcome=WebhookDelivery.Outcome.ACCEPTED,
            ).exists()
        )
        flows = [] if replay else _enabled_flows(integration, received.data_types)
        for flow in flows:
            services.create_task(
                integration=integration,
                flow=flow,
                trigger=Task.Trigger.WEBHOOK,
                params={RECORD_KEYS_PARAM.get(flow.data_type, "keys"): [received.key]},
            )
        outcome = ACCEPTED if flows else DUPLICATE if replay else IGNORED
        WebhookDelivery.objects.create(
            integration=integration,
            kind=webhook.delivery_kind,
            raw_body=body.raw,
            body=body.text,
            reference=reference,
            outcome=outcome,
            reason="" if flows or replay else f"no enabled flow reads {', '.join(received.data_types)}",
        )
    return Outcome(outcome, received)


def _enabled_flows(integration: Integration, data_types: tuple[str, ...]) -> list[Flow]:
    kinds = [kind for kind, spec in registry.FLOWS.items() if spec.data_type in data_types]
    return list(integration.flows.filter(kind__in=kinds, enabled=True).order_by("kind"))


def _ignored(integration: Integration, webhook: Webhook, body: Body, received: Ignored) -> Outcome:
    """A request the hook has no use for: kept, and acknowledged so the sender does not retry it."""
    WebhookDelivery.objects.create(
        integration=integration,
        kind=webhook.delivery_kind,
        raw_body=body.raw,
        body=body.text,
        outcome=WebhookDelivery.Outcome.IGNORED,
        reason=label(received.reason, length=1000),
    )
    return Outcome(IGNORED, received)
