"""django-q2 entry points. Thin on purpose: they take ids and call a service."""

from __future__ import annotations

from integrations import schedules, services
from integrations.flows import reconcile


def run_task(task_id: int) -> str:
    return services.execute_task(task_id)


def sweep() -> dict[str, int]:
    """Every minute: hand out lost tasks again, and queue the reconciliations that are due."""
    result = services.sweep()
    result["reconciliations"] = len(reconcile.queue_due_reconciliations())
    return result


def run_schedule_rule(rule_id: int) -> list[int]:
    return schedules.trigger_rule(rule_id)
