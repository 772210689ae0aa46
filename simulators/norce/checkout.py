"""Orders placed as checkout would: one at a time (`place_order`) or trickled in the
background; each is pushed to the order receiver and announced by an event."""

from __future__ import annotations

import copy
import random
import threading
from datetime import UTC, datetime
from typing import Any

from simulators.base import Simulator
from simulators.norce.common import ORDER_STATUSES, utcnow
from simulators.norce.orders import generate_order


class OrderPlacement(Simulator):
    """The orders of `NorceSimulator`, as checkout stores them."""

    def place_order(
        self, order: dict[str, Any] | None = None, *, at: datetime | None = None, push: bool = True
    ) -> dict[str, Any]:
        """Store an order as checkout would and, if configured, push it and post its events.

        `order` is an internal order (see simulators.norce.orders); None generates one. Returns
        the stored internal order (live: later status changes show in it). `at` sets
        Created/OrderDate (default now).
        """
        with self.lock:
            if order is None:
                order = generate_order(self.rng, order_ref=str(self._next_ref), catalogue=self.catalogue)
            stored = copy.deepcopy(order)
            ref = str(stored.get("ClientOrderRef") or self._next_ref)
            if ref in self.orders:
                raise ValueError(f"order {ref} already exists")
            if ref.isdigit() and int(ref) >= self._next_ref:
                self._next_ref = int(ref) + 1
            created = (at or utcnow()).astimezone(UTC)
            stored.update(
                ClientOrderRef=ref,
                Id=self._next_order_id,
                ClientId=self.client_id,
                ApplicationId=self.application_id,
                OrderNo=ref,
                ErpOrderNo=stored.get("ErpOrderNo"),
                StatusId=ORDER_STATUSES["Created"],
                Created=created,
                Updated=None,
                Infos=list(stored.get("Infos") or []),
            )
            for key, default in (
                ("CurrencyCode", "SEK"),
                ("OrderType", "Order"),
                ("Source", "WEB"),
                ("Items", []),
                ("Payments", []),
            ):
                stored.setdefault(key, default)
            self._next_order_id += 1
            for item in stored["Items"]:
                item["Id"] = self._next_item_id
                item.setdefault("StatusId", ORDER_STATUSES["Created"])
                self._next_item_id += 1
            self.orders[ref] = stored
        if push:
            self.push_order(ref)
            self.send_event("OrderReceivedEvent", self._order_received_event(stored))
        return stored

    def _touch(self, order: dict[str, Any]) -> None:
        order["Updated"] = max(utcnow(), order["Created"])

    def start_trickle(
        self,
        interval_seconds: float = 5.0,
        rng_seed: int | None = None,
        unknown_article_rate: float = 0.0,
        missing_data_rate: float = 0.0,
    ) -> None:
        """Place a generated order every `interval_seconds` in the background until stop_trickle()."""
        self.stop_trickle()
        rng = random.Random(rng_seed)
        stop = self._trickle_stop = threading.Event()

        def loop() -> None:
            while not stop.is_set() and not self._stopping.is_set():
                with self.lock:
                    ref = str(self._next_ref)
                order = generate_order(
                    rng,
                    order_ref=ref,
                    catalogue=self.catalogue,
                    unknown_article_rate=unknown_article_rate,
                    missing_data_rate=missing_data_rate,
                )
                try:
                    self.place_order(order)
                except ValueError:  # the ref was taken meanwhile; the next round uses a new one
                    pass
                stop.wait(interval_seconds)

        self._trickle = threading.Thread(target=loop, name=f"{self.name}-trickle", daemon=True)
        self._trickle.start()

    def stop_trickle(self) -> None:
        self._trickle_stop.set()
        if self._trickle is not None and self._trickle is not threading.current_thread():
            self._trickle.join(timeout=5)
        self._trickle = None
