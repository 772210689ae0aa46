"""The engine's interface: create, run, retry and sweep Tasks; claim records; write the audit trail.

Callers (admin, flows, jobs, commands) import the engine from here; the code lives in
integrations.engine. Background functions (integrations.jobs) are thin and call into here with ids.
"""

from __future__ import annotations

from integrations.engine.context import (
    RECONNECT_RECHECK_SECONDS,
    FlowContext,
    lookup_hint,
    reconnect_error,
    stopped_connector,
)
from integrations.engine.heartbeat import Heartbeat, beat, lease_length
from integrations.engine.queueing import (
    RUN_TASK,
    create_task,
    enqueue,
    flow_for,
    pending_entity_ids,
    priority_cluster,
    queue_follow_up,
    queue_of,
    retry_entity,
    retry_task,
    run_flow_now,
    worker_name,
)
from integrations.engine.records import (
    advance_cursor,
    forget_references,
    get_cursor,
    record_staff_action,
    set_connector_credentials,
    test_connection,
)
from integrations.engine.runner import (
    QUIET_CODES,
    _finish,
    backoff_delay,
    execute_task,
    resume_after_reconnect,
    slice_seconds,
)
from integrations.engine.sweeper import sweep, tasks_with_live_message

__all__ = [
    "QUIET_CODES",
    "RECONNECT_RECHECK_SECONDS",
    "RUN_TASK",
    "FlowContext",
    "Heartbeat",
    "_finish",
    "advance_cursor",
    "backoff_delay",
    "beat",
    "create_task",
    "enqueue",
    "execute_task",
    "flow_for",
    "forget_references",
    "get_cursor",
    "lease_length",
    "lookup_hint",
    "pending_entity_ids",
    "priority_cluster",
    "queue_follow_up",
    "queue_of",
    "reconnect_error",
    "record_staff_action",
    "resume_after_reconnect",
    "retry_entity",
    "retry_task",
    "run_flow_now",
    "set_connector_credentials",
    "slice_seconds",
    "stopped_connector",
    "sweep",
    "tasks_with_live_message",
    "test_connection",
    "worker_name",
]
