"""Brygga's records: integrations, connectors, flows, tasks, logs, entities, references."""

from integrations.models.activity import Entity, LogEntry, Reference, Task, WebhookDelivery
from integrations.models.engine import RateLimitBucket
from integrations.models.jobs import ConnectJob, ResyncRun
from integrations.models.setup import (
    Connector,
    Flow,
    Integration,
    Merchant,
    ScheduleRule,
    TimeHistory,
    system_choices,
)

__all__ = [
    "ConnectJob",
    "Connector",
    "Entity",
    "Flow",
    "Integration",
    "LogEntry",
    "Merchant",
    "RateLimitBucket",
    "Reference",
    "ResyncRun",
    "ScheduleRule",
    "Task",
    "TimeHistory",
    "WebhookDelivery",
    "system_choices",
]
