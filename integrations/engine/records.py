"""Cursors, connector operations, and what staff do to records (forgetting references, the
lines on a record's timeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.errors import REFERENCE_DELETED, STAFF_ACTION, SyncError
from integrations import registry
from integrations.engine.clients import client_for
from integrations.engine.runner import resume_after_reconnect
from integrations.models import Connector, Entity, Integration, LogEntry, Task, TimeHistory


# --- cursors ----------------------------------------------------------------------
def get_cursor(integration: Integration, data_type: str, direction: str) -> datetime | None:
    row = TimeHistory.objects.filter(integration=integration, data_type=data_type, direction=direction).first()
    return row.last_loaded_at if row else None


def advance_cursor(integration: Integration, data_type: str, direction: str, moment: datetime) -> None:
    """Move the cursor forward to `moment` (never backwards: staff move it back by hand)."""
    row, _ = TimeHistory.objects.get_or_create(integration=integration, data_type=data_type, direction=direction)
    TimeHistory.objects.filter(pk=row.pk).filter(Q(last_loaded_at__isnull=True) | Q(last_loaded_at__lt=moment)).update(
        last_loaded_at=moment, updated_at=timezone.now()
    )


# --- connectors -------------------------------------------------------------------
def test_connection(connector_id: int) -> tuple[bool, str]:
    """Make one real API call with the connector's credentials and remember the outcome."""
    connector = Connector.objects.get(pk=connector_id)
    if registry.system(connector.system) is None:
        ok, message = False, f"No client for {connector.get_system_display()} yet"
    else:
        try:
            ok, message = True, client_for(connector).test_connection()
        except SyncError as exc:
            ok, message = False, f"[{exc.code}] {exc.message}" + (f" — {exc.hint}" if exc.hint else "")
    Connector.objects.filter(pk=connector_id).update(
        last_test_at=timezone.now(), last_test_ok=ok, last_test_message=message[:2000]
    )
    if ok:
        resume_after_reconnect(connector_id)
    return ok, message


def set_connector_credentials(connector_id: int, values: dict[str, str]) -> None:
    """Merge the non-empty values into the connector's encrypted credentials."""
    with transaction.atomic():
        connector = Connector.objects.select_for_update().get(pk=connector_id)
        credentials = dict(connector.credentials)
        changed = {k: v for k, v in values.items() if v and credentials.get(k) != v}
        if not changed:
            return
        credentials.update(changed)
        connector.credentials = credentials
        # A cached access token belongs to the old credentials; a refresh token is kept
        # (Fortnox) since only a new consent replaces it.
        connector.tokens = {k: v for k, v in connector.tokens.items() if k == "refresh_token"}
        connector.token_expires_at = None
        connector.save(update_fields=["credentials", "tokens", "token_expires_at", "updated_at"])


def forget_references(references, *, actor: str = "") -> int:
    """Delete references so the next sync links or creates the target record anew.

    The matching records go back to pending with their create mark cleared. Before
    creating, the next run looks the source up in the target system (a flow decides
    how), so a target record that is still live is linked again, not duplicated.
    Each deletion is logged on the record's timeline with the staff member's name.
    """
    count = 0
    with transaction.atomic():
        for ref in list(references):
            entity = Entity.objects.filter(
                integration_id=ref.integration_id, data_type=ref.data_type, source_id=ref.source_id
            ).first()
            if entity is not None:
                Entity.objects.filter(pk=entity.pk).update(
                    status=Entity.Status.PENDING,
                    target_id="",
                    create_started_at=None,
                    acknowledged_at=None,
                    synced_at=None,
                    lease_until=None,
                    claimed_by_task=None,
                    last_error_code="",
                    last_error_message="",
                )
            by = f" by {actor}" if actor else ""
            LogEntry.objects.create(
                integration_id=ref.integration_id,
                entity=entity,
                level=LogEntry.Level.WARNING,
                data_type=ref.data_type,
                reference=entity.reference if entity is not None else ref.source_id,
                code=REFERENCE_DELETED.code,
                actor=actor[:150],
                details={"source_id": ref.source_id, "target_id": ref.target_id},
                message=f"Reference {ref.data_type} {ref.source_id} → {ref.target_id} deleted{by}; the next sync "
                f"looks it up in the target system and links a live record again, or creates a new one",
                hint="If that was not intended, add the reference again before the next sync.",
            )
            ref.delete()
            count += 1
    return count


def record_staff_action(
    *,
    entity: Entity,
    message: str,
    actor: str,
    code: str = STAFF_ACTION.code,
    level: str = LogEntry.Level.INFO,
    details: dict[str, Any] | None = None,
    task: Task | None = None,
) -> LogEntry:
    """A line on the record's timeline saying what a staff member did, with their name (and the
    task it queued, if any)."""
    return LogEntry.objects.create(
        integration_id=entity.integration_id,
        entity=entity,
        level=level,
        data_type=entity.data_type,
        reference=entity.reference or entity.source_id,
        code=code,
        message=message,
        actor=actor[:150],
        details=details or {},
        task=task,
    )
