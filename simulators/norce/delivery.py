"""Outbound delivery of pushes and events: POSTs retried in background threads, and the
faults that lose or duplicate them (``lose_pushes``, ``duplicate_pushes``, ``lose_events``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests

from simulators.base import Simulator


class OutboundDelivery(Simulator):
    """Calls `NorceSimulator` makes to the integration, each in its own thread."""

    def _deliver(
        self,
        body: bytes,
        *,
        url: str,
        auth: tuple[str, str] | None,
        headers: dict[str, str],
        timeout: float,
        delays: Sequence[float],
        log: list[dict[str, Any]],
        entry: dict[str, Any],
        accept: Callable[[requests.Response], tuple[bool, str]],
    ) -> bool:
        """POST `body` until `accept` is satisfied or the retry delays run out; log every attempt."""
        delays = list(delays)
        for attempt in range(1, len(delays) + 2):
            status, detail = None, ""
            try:
                response = requests.post(
                    url,
                    data=body,
                    auth=auth,
                    timeout=timeout,
                    headers={
                        **headers,
                        "Content-Type": "application/json; charset=utf-8",
                        "User-Agent": "Norce-Commerce",
                    },
                )
                status, detail = response.status_code, response.text[:500]
                ok, result = accept(response)
            except requests.Timeout as exc:
                ok, result, detail = False, "timeout", str(exc)
            except requests.RequestException as exc:
                ok, result, detail = False, "error", str(exc)
            with self.lock:
                log.append(dict(entry, attempt=attempt, time=time.time(), status=status, result=result, detail=detail))
            if ok:
                return True
            if attempt > len(delays):
                break
            if self._stopping.wait(delays[attempt - 1]):
                with self.lock:
                    log.append(dict(entry, attempt=attempt, time=time.time(), status=None, result="aborted", detail=""))
                return False
        with self.lock:
            log.append(dict(entry, attempt=len(delays) + 1, time=time.time(), status=None, result="gave_up", detail=""))
        return False

    def _in_background(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        def run() -> None:
            try:
                target(*args, **kwargs)
            finally:
                with self.lock:
                    self._deliveries.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=f"{self.name}-delivery", daemon=True)
        with self.lock:
            self._deliveries.add(thread)
        thread.start()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no push or event is being delivered (retries included); True if idle."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                pending = list(self._deliveries)
            if not pending:
                return True
            pending[0].join(max(0.0, min(0.1, deadline - time.time())))
        with self.lock:
            return not self._deliveries

    def _fault_fires(self, name: str) -> bool:
        """True/False, an int (the next N times, counted down) or a probability."""
        value = getattr(self, name)
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            if value > 0:
                setattr(self, name, value - 1)
                return True
            return False
        return bool(value) and self._fault_rng.random() < float(value)
