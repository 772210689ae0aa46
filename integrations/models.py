"""Brygga's records: integrations, connectors, flows, tasks, logs, entities, references."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from integrations.crypto import EncryptedJSONField
from integrations.registry import flow_spec, systems


class Merchant(models.Model):
    """The customer organisation that owns one or more integrations."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Integration(models.Model):
    """One merchant's pair of systems: a commerce connector and an ERP connector."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="integrations")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    order_exclusion_date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Orders placed before this moment are never synced (go-live date).",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["merchant__name", "name"]

    def __str__(self) -> str:
        return f"{self.merchant} · {self.name}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def erp_label(self) -> str:
        """The ERP's name as people say it ("Fortnox"), or "ERP" when it has none yet."""
        connector = next((c for c in self.connectors.all() if c.role == Connector.Role.ERP), None)
        return connector.get_system_display() if connector else "ERP"


def system_choices() -> list[tuple[str, str]]:
    """Every system a connector package in settings.BRYGGA_CONNECTORS declares."""
    return [(key, system.label) for key, system in systems().items()]


class Connector(models.Model):
    """Access to one external system. Credentials and tokens are encrypted at rest."""

    class Role(models.TextChoices):
        COMMERCE = "commerce", "Commerce (webshop)"
        ERP = "erp", "ERP"

    class System:
        """The keys the product's own connector packages declare (connectors.<name>.system)."""

        NORCE = "norce"
        FORTNOX = "fortnox"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="connectors")
    role = models.CharField(max_length=10, choices=Role.choices)
    system = models.CharField(max_length=20, choices=system_choices)
    base_url = models.URLField(help_text="API host, e.g. https://shop.api-se.norce.tech or https://api.fortnox.se")
    auth_url = models.URLField(
        blank=True, help_text="OAuth host when it differs from the API host (Fortnox: https://apps.fortnox.se)"
    )
    settings = models.JSONField(
        default=dict, blank=True, help_text="Non-secret settings (application id, account id, tenant id, …)"
    )
    credentials = EncryptedJSONField(blank=True, default=dict, editable=False)
    tokens = EncryptedJSONField(blank=True, default=dict, editable=False)
    token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_ok = models.BooleanField(null=True, editable=False)
    last_test_message = models.TextField(blank=True, editable=False)
    # Set when the system no longer accepts Brygga's authorisation and only a person can restore
    # it (e.g. Fortnox's single-use refresh token was spent): the integration's tasks wait, without
    # spending attempts, until the connector is connected again.
    reconnect_needed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reconnect_reason = models.TextField(blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def needs_reconnect(self) -> bool:
        return self.reconnect_needed_at is not None

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "role"], name="one_connector_per_role"),
        ]

    def __str__(self) -> str:
        return f"{self.get_system_display()} ({self.get_role_display()}) · {self.integration}"


class Flow(models.Model):
    """One data type moved in one direction. Its kind decides the code that runs it."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="flows")
    kind = models.CharField(max_length=50)
    enabled = models.BooleanField(default=True)
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["integration", "kind"]
        constraints = [models.UniqueConstraint(fields=["integration", "kind"], name="one_flow_per_kind")]

    def __str__(self) -> str:
        return f"{flow_spec(self.kind).label} · {self.integration}"

    @property
    def data_type(self) -> str:
        return flow_spec(self.kind).data_type

    @property
    def direction(self) -> str:
        return flow_spec(self.kind).direction


class ScheduleRule(models.Model):
    """When flows run. Kept in step with a django-q2 schedule on save and delete."""

    class Type(models.TextChoices):
        INTERVAL = "interval", "Every N minutes"
        CRON = "cron", "Cron expression"

    class Mode(models.TextChoices):
        INCREMENTAL = "incremental", "Incremental (since cursor)"
        FULL = "full", "Full file"

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="schedule_rules")
    name = models.CharField(max_length=100)
    flows = models.ManyToManyField(Flow, related_name="schedule_rules")
    schedule_type = models.CharField(max_length=10, choices=Type.choices, default=Type.INTERVAL)
    interval_minutes = models.PositiveIntegerField(default=5)
    cron = models.CharField(max_length=100, blank=True, help_text="e.g. '0 3 * * 0' for Sundays 03:00")
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.INCREMENTAL)
    enabled = models.BooleanField(default=True)
    q_schedule_id = models.BigIntegerField(null=True, blank=True, editable=False)
    last_triggered_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["integration", "name"]

    def __str__(self) -> str:
        return self.name


class TimeHistory(models.Model):
    """The "last loaded" cursor per data type and direction. Staff may move it back."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="time_history")
    data_type = models.CharField(max_length=30)
    direction = models.CharField(max_length=30)
    last_loaded_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "time history"
        constraints = [
            models.UniqueConstraint(fields=["integration", "data_type", "direction"], name="one_cursor_per_type"),
        ]

    def __str__(self) -> str:
        return f"{self.data_type} {self.direction}"


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


class RateLimitBucket(models.Model):
    """Sliding-window request log shared by every worker and process (see integrations.engine.ratelimit)."""

    key = models.CharField(max_length=200, unique=True)
    hits = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.key


class ConnectJob(models.Model):
    """One asynchronous Norce Connect import: its JobId, what it carried, and how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued in Norce"
        RUNNING = "running", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        # Norce finished the job but some rows did not land (ignored or rejected).
        PARTLY_FAILED = "partly_failed", "Partly failed"
        FAILED = "failed", "Failed"
        VALIDATION_FAILED = "validation_failed", "Validation failed"

    FINISHED = (Status.SUCCEEDED, Status.PARTLY_FAILED, Status.FAILED, Status.VALIDATION_FAILED)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="connect_jobs")
    flow = models.ForeignKey(Flow, on_delete=models.SET_NULL, null=True, blank=True, related_name="connect_jobs")
    task = models.ForeignKey(Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="connect_jobs")
    job_id = models.CharField(max_length=40, help_text="Norce's JobId")
    method = models.CharField(max_length=60, help_text="e.g. Product/ImportProducts")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    status_id = models.IntegerField(null=True, blank=True, help_text="Norce's StatusId")
    full_file = models.BooleanField(default=False)
    item_count = models.PositiveIntegerField(default=0)
    header = models.JSONField(default=dict, blank=True, help_text="The X-StormConnect-Header sent")
    # Per record, in row order (row n of the job is sent[n-1]): [entity id, content hash,
    # {field: value sent}] — confirmed into the record once the job succeeds, so the next
    # change sends only what differs.
    sent = models.JSONField(default=list, blank=True)
    # The request body, gzipped, kept for restarts and audits (not kept for full files).
    request_body = models.BinaryField(null=True, blank=True, editable=False)
    inserts = models.PositiveIntegerField(default=0)
    updates = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    # What happened to the rows, once the job ended: written (inserted or updated), ignored
    # (accepted but skipped, e.g. a price for a SKU Norce does not have) and rejected (validation).
    rows_written = models.PositiveIntegerField(default=0)
    rows_ignored = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    messages = models.JSONField(default=list, blank=True, help_text="Norce's job log (warnings and errors)")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    checks = models.PositiveIntegerField(default=0)
    restarts = models.PositiveIntegerField(default=0)
    restarted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "Connect job"
        constraints = [models.UniqueConstraint(fields=["integration", "job_id"], name="one_row_per_connect_job")]

    def __str__(self) -> str:
        return f"{self.method} job {self.job_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def entity_ids(self) -> list[int]:
        """The records in the request, in row order."""
        return [row[0] for row in self.sent]


class ResyncRun(models.Model):
    """A full-file resync of one flow, checkpointed so an interrupted run resumes where it stopped."""

    class Status(models.TextChoices):
        READING = "reading", "Reading the source"
        SENDING = "sending", "Sending the full file"
        FOLLOWING = "following", "Waiting for the import job"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.READING, Status.SENDING, Status.FOLLOWING)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="resync_runs")
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="resync_runs")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.READING, db_index=True)
    pages_done = models.PositiveIntegerField(default=0, help_text="Source pages read and spooled")
    total_pages = models.PositiveIntegerField(null=True, blank=True)
    items = models.PositiveIntegerField(default=0, help_text="Items spooled so far")
    spool_path = models.CharField(max_length=500, blank=True)
    spool_offset = models.BigIntegerField(default=0, help_text="Bytes of the spool file that are complete")
    # Field keys the spooled items set (listed in the full file's header).
    fields = models.JSONField(default=list, blank=True)
    # The ConnectJob rows of the full file (one per import method).
    job_ids = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "full-file resync"

    def __str__(self) -> str:
        return f"Full file #{self.pk} · {self.flow}"
