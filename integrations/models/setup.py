"""The setup staff keep: merchants, integrations, connectors, flows, schedules and cursors."""

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
        VISMANET = "vismanet"

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
