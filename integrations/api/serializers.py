"""Status API representations. Connectors appear without credentials or tokens."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations import selectors
from integrations.models import ConnectJob, Connector, Integration, LogEntry, Merchant, Reference, Task


class MerchantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Merchant
        fields = ("id", "name", "slug")


class ConnectorSerializer(serializers.ModelSerializer):
    needs_reconnect = serializers.BooleanField(
        read_only=True,
        help_text="The system refused Brygga's authorisation: a person must connect it again. "
        "The integration's tasks wait meanwhile and go on by themselves afterwards.",
    )

    class Meta:
        model = Connector
        fields = (
            "system",
            "role",
            "base_url",
            "last_test_ok",
            "last_test_at",
            "token_expires_at",
            "needs_reconnect",
            "reconnect_needed_at",
            "reconnect_reason",
        )


class FlowStatusSerializer(serializers.Serializer):
    """How one flow is doing; see integrations.selectors for what each number means."""

    id = serializers.IntegerField(source="flow_id")
    kind = serializers.CharField()
    label = serializers.CharField()
    data_type = serializers.CharField()
    direction = serializers.CharField()
    enabled = serializers.BooleanField()
    last_run_task = serializers.IntegerField(source="last_run_task_id", allow_null=True)
    last_run_at = serializers.DateTimeField(allow_null=True)
    last_run_status = serializers.ChoiceField(choices=Task.Status.choices, allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    backlog = serializers.IntegerField(help_text="Records waiting to sync (pending, or failed and retrying).")
    failures = serializers.IntegerField(help_text="Records that need a person.")
    cursor = serializers.DateTimeField(allow_null=True, help_text="Time-history 'last loaded' moment.")
    staleness_seconds = serializers.IntegerField(allow_null=True, help_text="Seconds since the last success.")
    stale_after_seconds = serializers.IntegerField(allow_null=True, help_text="The flow's staleness threshold.")
    stale = serializers.BooleanField(help_text="Last success older than the threshold (or none yet).")


class IntegrationSerializer(serializers.ModelSerializer):
    merchant = MerchantSerializer()
    connectors = ConnectorSerializer(many=True)
    flows = serializers.SerializerMethodField()
    reconnect_needed = serializers.SerializerMethodField(
        help_text="One of its connectors must be connected again before the integration goes on."
    )

    class Meta:
        model = Integration
        fields = (
            "id",
            "name",
            "merchant",
            "status",
            "reconnect_needed",
            "order_exclusion_date",
            "created_at",
            "connectors",
            "flows",
        )

    def get_reconnect_needed(self, obj: Integration) -> bool:
        return any(connector.needs_reconnect for connector in obj.connectors.all())

    @extend_schema_field(FlowStatusSerializer(many=True))
    def get_flows(self, obj: Integration) -> list[dict[str, Any]]:
        # The view computes the status of a whole page at once; fall back to one integration.
        statuses = (self.context.get("flow_statuses") or {}).get(obj.pk)
        if statuses is None:
            statuses = selectors.flow_status(obj)
        return FlowStatusSerializer(statuses, many=True).data


class TaskSerializer(serializers.ModelSerializer):
    flow_kind = serializers.CharField(source="flow.kind", allow_null=True, default=None)
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = (
            "id",
            "integration",
            "flow",
            "flow_kind",
            "trigger",
            "status",
            "attempts",
            "max_attempts",
            "next_retry_at",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "count_total",
            "count_succeeded",
            "count_failed",
            "count_skipped",
            "error_code",
            "error_message",
        )

    def get_duration_seconds(self, obj: Task) -> float | None:
        return obj.duration.total_seconds() if obj.duration is not None else None


class LogEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = LogEntry
        fields = (
            "id",
            "created_at",
            "level",
            "code",
            "hint",
            "message",
            "reference",
            "data_type",
            "integration",
            "flow",
            "task",
            "entity",
        )


class ConnectJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConnectJob
        fields = (
            "id",
            "integration",
            "flow",
            "task",
            "job_id",
            "method",
            "status",
            "status_id",
            "full_file",
            "item_count",
            "rows_written",
            "rows_ignored",
            "rows_rejected",
            "inserts",
            "updates",
            "failures",
            "messages",
            "header",
            "created_at",
            "finished_at",
            "last_checked_at",
            "checks",
            "restarts",
        )


class ReferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reference
        fields = (
            "id",
            "integration",
            "data_type",
            "source_id",
            "target_id",
            "origin",
            "note",
            "created_at",
            "updated_at",
        )
