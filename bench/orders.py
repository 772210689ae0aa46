"""Orders for the benchmark: realistic orders from a shop's returning customers.

The Norce simulator's generator draws a new buyer for every order, so every order
would also create a Fortnox customer. A real shop sees the same customers again,
so the benchmark keeps a fixed pool of buyers: a warm-up round places one order
per buyer (each becomes a Fortnox customer and gets a Reference), and the timed
orders are then bought by buyers drawn from the same pool.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from simulators.norce.orders import DEMO_CATALOGUE, generate_order

PARTY_KEYS = ("SellTo", "BillTo", "ShipTo")


def customer_key(order: dict[str, Any]) -> str:
    """How the orders flow recognises the buyer by default: organisation number, else e-mail."""
    bill_to = order.get("BillTo") or {}
    company = bill_to.get("Company") or {}
    for info in company.get("AdditionalInfo") or []:
        if info.get("Code") == "OrganizationNo" and info.get("Value"):
            return f"org:{info['Value']}"
    email = ((bill_to.get("Person") or {}).get("Email") or "").lower()
    return f"email:{email}"


def buyer_pool(size: int, *, seed: int) -> list[dict[str, Any]]:
    """`size` distinct buyers (private persons and companies, as the generator mixes them)."""
    rng = random.Random(seed)
    pool: list[dict[str, Any]] = []
    seen: set[str] = set()
    while len(pool) < size:
        order = generate_order(rng, order_ref="0", catalogue=DEMO_CATALOGUE)
        key = customer_key(order)
        if key in seen:
            continue
        seen.add(key)
        pool.append({k: copy.deepcopy(order[k]) for k in PARTY_KEYS})
    return pool


class OrderFactory:
    """Numbered orders (unique ClientOrderRefs from `first_ref`) bought by buyers from `pool`."""

    def __init__(self, pool: list[dict[str, Any]], *, first_ref: int, seed: int) -> None:
        self.pool = pool
        self.next_ref = first_ref
        self.rng = random.Random(seed)

    def make(self, buyer: int | None = None) -> dict[str, Any]:
        """One order; `buyer` picks a pool index, None draws one at random."""
        ref = str(self.next_ref)
        self.next_ref += 1
        order = generate_order(self.rng, order_ref=ref, catalogue=DEMO_CATALOGUE)
        index = self.rng.randrange(len(self.pool)) if buyer is None else buyer % len(self.pool)
        order.update(copy.deepcopy(self.pool[index]))
        return order

    def warm_up_orders(self) -> list[dict[str, Any]]:
        """One order per buyer in the pool."""
        return [self.make(i) for i in range(len(self.pool))]

    def orders(self, count: int) -> list[dict[str, Any]]:
        return [self.make() for _ in range(count)]
