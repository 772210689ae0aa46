"""Webhook notifications, POSTed to the company's configured URL in background threads.

Visma documents neither the payload nor a signature (open question 1); the simulator
sends a thin notification the receiver follows with a GET (assumption agreed with the
connector, confidence L):

    {"notificationId": "<uuid>", "tenantId": "<tenant>", "event": "Customer.Created",
     "entity": "Customer", "id": "10001", "timestamp": "<ISO UTC>"}

Events: Customer.Created|Updated, InventoryItem.Created|Updated, Shipment.StatusChanged,
ArInvoice.StatusChanged, and from the SalesOrderService publisher SALESORDER_CREATED|
UPDATED|DELETED (entity "SalesOrder", id "SO/000123"). None for payments or stock.
The receiver's secret travels in its URL (``?token=``). Each delivery is tried up to
three times with a short backoff; the `lose_webhooks` / `duplicate_webhooks` faults drop
or repeat the next notifications.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

from simulators.base import Request, Response
from simulators.vismanet.api import VismaNetApi
from simulators.vismanet.background import utc_now
from simulators.vismanet.company import Company
from simulators.vismanet.errors import validation

ATTEMPTS = 3
BACKOFF = (0.1, 0.3)  # seconds before the second and third attempt
TIMEOUT = 5.0


class WebhookPublisher(VismaNetApi):
    """Notifications of `VismaNetSimulator`."""

    def _init_webhooks(self) -> None:
        self.webhook_deliveries: list[dict[str, Any]] = []  # one per notification: body, attempts, delivered
        self.webhook_feedback: list[dict[str, Any]] = []
        self._webhook_threads: list[threading.Thread] = []

    def configure_webhooks(self, url: str | None, *, secret: str | None = None, tenant_id: str | None = None) -> None:
        """Send the company's notifications to `url` (None: none), with ``?token=<secret>`` if given."""
        if url and secret:
            url += ("&" if urlsplit(url).query else "?") + urlencode({"token": secret})
        with self.lock:
            self.company(tenant_id).webhook_url = url

    def wait_for_webhooks(self, timeout: float = 5.0) -> None:
        """Block until every delivery started so far has finished (or `timeout` passed)."""
        deadline = time.time() + timeout
        with self.lock:
            threads = list(self._webhook_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.time()))

    def notify(
        self,
        company: Company,
        entity: str,
        action: str,
        key: str,
        *,
        event: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Queue a notification of a change (called under the lock; delivery runs in a thread)."""
        if not company.webhook_url:
            return
        if event is None:
            event = f"SALESORDER_{action}" if entity == "SalesOrder" else f"{entity}.{action}"
        body = {
            "notificationId": str(uuid.uuid4()),
            "tenantId": company.tenant_id,
            "event": event,
            "entity": entity,
            "id": key,
            "timestamp": utc_now(),
            **(extra or {}),
        }
        record: dict[str, Any] = {"body": body, "url": company.webhook_url, "attempts": 0, "delivered": 0}
        self.webhook_deliveries.append(record)
        if self.faults.lose_webhooks > 0:
            self.faults.lose_webhooks -= 1
            record["lost"] = True
            return
        copies = 1
        if self.faults.duplicate_webhooks > 0:
            self.faults.duplicate_webhooks -= 1
            copies = 2
        for _ in range(copies):
            thread = threading.Thread(
                target=self._deliver, args=(record, dict(headers or {})), name="vismanet-webhook", daemon=True
            )
            self._webhook_threads = [t for t in self._webhook_threads if t.is_alive()] + [thread]
            thread.start()

    def _deliver(self, record: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(record["body"]).encode()
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF[attempt - 1])
            with self.lock:
                record["attempts"] += 1
            request = urllib.request.Request(
                record["url"],
                data=payload,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "Visma Webhook Dispatcher", **headers},
            )
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                    ok = 200 <= answer.status < 300
            except (OSError, ValueError):
                ok = False
            if ok:
                with self.lock:
                    record["delivered"] += 1
                return

    def _post_feedback(self, request: Request, company: Company) -> Response:
        body = self._plain_body(request)
        if not body.get("notificationId"):
            raise validation("The field 'notificationId' is required")
        self.webhook_feedback.append({**body, "tenantId": company.tenant_id})
        return Response(status=201)
