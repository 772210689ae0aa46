"""What happens on an integration: tasks, synced records, references, the log and inbound deliveries."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from integrations.models.setup import Flow, Integration


class Task(models.Model):
    """One unit of work. Brygga's own retry bookkeeping lives here."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        WEBHOOK = "webhook", "Webhook"
        ORDER_PUSH = "order_push", "Order push"
        MANUAL = "manual", "Manual"
        RESYNC = "resync", "Resync"
        RETRY = "retry", "Retry"
        FOLLOW_UP = "follow_up", "Follow-up"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTLY_FAILED = "partly_failed", "Partly failed"
        FAILED = "failed", "Failed"
        NEEDS_ATTENTION = "needs_attention", "Needs attention"

    FINISHED = (Status.SUCCEEDED, Status.PARTLY_FAILED, Status.FAILED, Status.NEEDS_ATTENTION)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="tasks")
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="tasks", null=True, blank=True)
    trigger = models.CharField(max_length=12, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_retry_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    q_task_id = models.CharField(max_length=64, blank=True)
    count_total = models.PositiveIntegerField(default=0)
    count_succeeded = models.PositiveIntegerField(default=0)
    count_failed = models.PositiveIntegerField(default=0)
    count_skipped = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["integration", "flow", "status"])]

    def __str__(self) -> str:
        return f"Task #{self.pk} {self.trigger} {self.status}"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class Entity(models.Model):
    """A synced record (order, customer, …) with its last source payload and state."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        # Handed to an asynchronous import (Norce Connect job) whose outcome is not known yet.
        SENT = "sent", "Sent, awaiting import job"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed (will retry)"
        NEEDS_ATTENTION = "needs_attention", "Needs attention"
        SKIPPED = "skipped", "Skipped"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="entities")
    data_type = models.CharField(max_length=30)
    source_id = models.CharField(max_length=100)
    reference = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="Human reference, e.g. order number"
    )
    label = models.CharField(max_length=200, blank=True, help_text="Customer name or description")
    payload = models.JSONField(default=dict, blank=True)
    payload_hash = models.CharField(max_length=64, blank=True)
    received_via = models.CharField(max_length=20, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    # Set (and committed) right before a create call goes out; while set and no
    # Reference exists, the next attempt first looks for the record in the target.
    create_started_at = models.DateTimeField(null=True, blank=True)
    # Set with create_started_at and cleared when the create got a clear answer (created, or
    # refused). While set, the target may still be committing the record: nothing is created
    # again, and no lookup is trusted, until the system's commit wait has passed.
    create_unconfirmed_at = models.DateTimeField(null=True, blank=True)
    # A worker claims a record for a while (lease); a dead worker's claim expires.
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by_task = models.BigIntegerField(null=True, blank=True)
    # When the source system was told the outcome (Norce: order status Confirmed).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=60, blank=True)
    last_error_message = models.TextField(blank=True)
    # Master data sent in batches: what the target last confirmed (its fields), so the
    # next change sends only the fields that differ, and an unchanged record nothing.
    sent_payload = models.JSONField(default=dict, blank=True)
    sent_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "entities"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "data_type", "source_id"], name="one_entity_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.data_type} {self.reference or self.source_id}"


class Reference(models.Model):
    """Source id ↔ target id. The unique constraint makes a second target impossible."""

    class Origin(models.TextChoices):
        SYNC = "sync", "Created by sync"
        STAFF = "staff", "Linked by staff"
        LOOKUP = "lookup", "Found in target"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="references")
    data_type = models.CharField(max_length=30)
    source_id = models.CharField(max_length=100)
    target_id = models.CharField(max_length=100)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.SYNC)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "data_type", "source_id"], name="one_target_per_source"),
        ]
        indexes = [models.Index(fields=["integration", "data_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.data_type} {self.source_id} → {self.target_id}"


class LogEntry(models.Model):
    """The audit trail, one line per record event, with a stable code and a hint."""

    class Level(models.TextChoices):
        EXPORTED = "exported", "Exported"
        SKIPPED = "skipped", "Skipped"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="logs")
    task = models.ForeignKey(Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="logs")
    entity = models.ForeignKey(Entity, on_delete=models.SET_NULL, null=True, blank=True, related_name="logs")
    flow = models.ForeignKey(Flow, on_delete=models.SET_NULL, null=True, blank=True, related_name="logs")
    level = models.CharField(max_length=10, choices=Level.choices, db_index=True)
    data_type = models.CharField(max_length=30, blank=True)
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    code = models.CharField(max_length=60, blank=True, db_index=True)
    message = models.TextField()
    hint = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The staff user who acted (retry, re-link, reference deleted …); empty for the engine's own lines.
    actor = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "log entry"
        verbose_name_plural = "log entries"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.level} {self.code} {self.reference}"


class WebhookDelivery(models.Model):
    """Every inbound push or event, kept as received (secrets stripped) before it is acted on."""

    class Kind(models.TextChoices):
        ORDER_PUSH = "order_push", "Norce order push"
        NORCE_EVENT = "norce_event", "Norce event"
        ERP_NOTIFICATION = "erp_notification", "ERP notification"

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate (already known)"
        REJECTED = "rejected", "Rejected"
        IGNORED = "ignored", "Ignored"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="webhook_deliveries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    # What arrived, byte for byte (bounded by the receiver's size limit); `body` is its text
    # for reading in admin, with characters PostgreSQL cannot store (NUL) escaped.
    raw_body = models.BinaryField(null=True, blank=True, editable=False)
    body = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    reference = models.CharField(max_length=100, blank=True, db_index=True)
    entity = models.ForeignKey(Entity, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at"]
