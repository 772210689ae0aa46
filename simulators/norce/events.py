"""Event webhooks: OrderReceivedEvent and JobCompletedEvent POSTed to their subscribers
(Norce Admin > Integration > Event), retried on the webhook schedule."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from simulators.base import Simulator

# The documented webhook schedule (5 s … 6 h, about 22 h in all) ...
DOCUMENTED_EVENT_RETRY_DELAYS: tuple[float, ...] = (
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    14400,
    18000,
    21600,
)

# ... and the compressed one the simulator uses unless told otherwise.
DEFAULT_EVENT_RETRY_DELAYS: tuple[float, ...] = (0.5, 1, 2, 5, 10, 30)


class EventWebhooks(Simulator):
    """The event subscriptions of `NorceSimulator` and the events it posts."""

    def configure_events(
        self, url: str, headers: dict[str, str] | None = None, *, event_types: Sequence[str] = ("OrderReceivedEvent",)
    ) -> None:
        """Norce Admin > Integration > Event: turn the event types on, posting to `url` with static headers."""
        with self.lock:
            for event_type in event_types:
                self.event_subscriptions[event_type] = {"url": url, "headers": dict(headers or {})}

    def send_event(self, event_type: str, payload: dict[str, Any]) -> None:
        """Post an event to its subscriber in the background (nothing if the type is off)."""
        with self.lock:
            subscription = self.event_subscriptions.get(event_type)
            if subscription is None:
                return
            entry = {"event": event_type, "client_order_ref": payload.get("ClientOrderRef")}
            if self._fault_fires("lose_events"):
                self.event_log.append(dict(entry, attempt=0, time=time.time(), status=None, result="lost", detail=""))
                return
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._in_background(
            self._deliver,
            body,
            url=subscription["url"],
            auth=None,
            headers=subscription["headers"],
            timeout=self.event_timeout,
            delays=self.event_retry_delays,
            log=self.event_log,
            entry=entry,
            accept=lambda r: (True, "ok") if 200 <= r.status_code < 300 else (False, "http_error"),
        )

    def _order_received_event(self, order: dict[str, Any]) -> dict[str, Any]:
        person = (order.get("SellTo") or {}).get("Person") or {}
        return {
            "ClientId": self.client_id,
            "ApplicationId": self.application_id,
            "ClientOrderRef": order["ClientOrderRef"],
            "Email": person.get("Email"),
            "CellPhone": person.get("CellPhone"),
            "FirstName": person.get("FirstName"),
            "LastName": person.get("LastName"),
            "Source": order.get("Source", "WEB"),
        }
