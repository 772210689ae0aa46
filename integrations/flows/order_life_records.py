"""The order's life as Brygga keeps it: each ERP event stored on one Entity (data type
"fulfilment", source id the event's key) with its record, read back when it is sent.

The stored payload: {"kind", "key", "record" (the LifeRecord as JSON, or None), "error"
(code, message, details: why the ERP document could not be read, or None), "document" (the
ERP's document as read), "flow_id"}."""

from __future__ import annotations

from dataclasses import asdict, fields
from decimal import Decimal
from typing import Any

from core.errors import SyncError
from core.records import (
    CANCELLED,
    DELIVERY,
    INVOICED,
    Cancellation,
    DeliveredLine,
    Delivery,
    Invoiced,
    InvoicedLine,
    LifeEvent,
    LifeRecord,
)
from integrations.flows.order_records import payload_hash
from integrations.models import Entity, Flow

DATA_TYPE = "fulfilment"
DIRECTION = "erp_to_commerce"
# What a person reads on the record, per kind.
KIND_NAMES = {DELIVERY: "Delivery", INVOICED: "Invoice", CANCELLED: "Cancellation"}
# Sent in this order when several wait: an order is delivered before it is invoiced, and
# invoiced before a cancellation of its invoice.
KIND_ORDER = {DELIVERY: 0, INVOICED: 1, CANCELLED: 2}
_CLASSES: dict[str, type] = {DELIVERY: Delivery, INVOICED: Invoiced, CANCELLED: Cancellation}
_LINE_CLASSES: dict[str, type] = {DELIVERY: DeliveredLine, INVOICED: InvoicedLine}
_DECIMALS = {"quantity", "unit_price", "unit_vat", "vat_rate", "total", "vat", "round_off"}


def record_json(record: LifeRecord) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(asdict(record))


def record_from_json(kind: str, data: dict[str, Any]) -> LifeRecord:
    cls = _CLASSES[kind]
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "lines":
            line_class = _LINE_CLASSES[kind]
            value = tuple(
                line_class(**{k: Decimal(v) if k in _DECIMALS else v for k, v in line.items()}) for line in value
            )
        elif f.name == "parcels":
            value = tuple(value)
        elif f.name in _DECIMALS:
            value = Decimal(value)
        values[f.name] = value
    record: LifeRecord = cls(**values)
    return record


def event_payload(event: LifeEvent, flow: Flow) -> dict[str, Any]:
    error = event.error
    return {
        "kind": event.kind,
        "key": event.key,
        "record": record_json(event.record) if event.record is not None else None,
        "error": {"code": error.code, "message": error.message, "details": error.details} if error else None,
        "document": event.payload,
        "flow_id": flow.pk,
    }


def stored_record(entity: Entity) -> tuple[str, LifeRecord | None, SyncError | None]:
    """(kind, record, error) of a stored event."""
    payload = entity.payload or {}
    kind = str(payload.get("kind") or "")
    error = payload.get("error")
    if error:
        return kind, None, SyncError(str(error["code"]), str(error["message"]), details=error.get("details") or {})
    return kind, record_from_json(kind, payload.get("record") or {}), None


def event_label(event: LifeEvent) -> str:
    document = event.key.partition(":")[2]
    return f"{KIND_NAMES.get(event.kind, event.kind)} {document}"


def store_event(*, flow: Flow, event: LifeEvent) -> tuple[Entity, bool]:
    """Keep one event (idempotent on its key). Returns (entity, created).

    An event read again with other content (a document corrected in the ERP) replaces the
    stored one while it has not been sent, and a record that failed goes back to pending;
    one already sent or skipped is left alone, so a replayed event is never sent twice."""
    payload = event_payload(event, flow)
    # The record (or its error), not the raw document: a paid or printed invoice reads the same.
    digest = payload_hash({key: payload[key] for key in ("kind", "record", "error")})
    reference = event.record.order_reference if event.record is not None else ""
    entity, created = Entity.objects.get_or_create(
        integration=flow.integration,
        data_type=DATA_TYPE,
        source_id=event.key[:100],
        defaults={
            "payload": payload,
            "payload_hash": digest,
            "received_via": "poll",
            "reference": reference[:100],
            "label": event_label(event)[:200],
        },
    )
    if not created and entity.payload_hash != digest:
        changed = Entity.objects.filter(pk=entity.pk).exclude(status__in=[Entity.Status.SYNCED, Entity.Status.SKIPPED])
        changed.update(payload=payload, payload_hash=digest, reference=reference[:100])
        changed.filter(status__in=[Entity.Status.NEEDS_ATTENTION, Entity.Status.FAILED]).update(
            status=Entity.Status.PENDING
        )
        entity.refresh_from_db()
    return entity, created
