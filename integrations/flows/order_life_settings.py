"""Settings of the deliveries, invoices and cancellations flow (ERP → webshop), validated per key.

The same for every ERP and webshop; `invoice_when` is read by ERPs that tell an invoice apart
from a booked one (Fortnox: bokförd; Visma.net: released)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core import settings as schema
from core.ports import INVOICE_WHEN_BOOKED, INVOICE_WHEN_CREATED
from core.records import CANCELLED, DELIVERY, INVOICED

# The names people write in `send` → the record kinds of core.records.
KINDS = {"deliveries": DELIVERY, "invoices": INVOICED, "cancellations": CANCELLED}


@dataclass(frozen=True)
class OrderLifeSettings:
    # What the webshop is told: any of "deliveries", "invoices", "cancellations".
    send: list[str] = field(default_factory=lambda: list(KINDS))
    # Norce captures the payment at the PSP when it gets an invoice, unless the call says
    # SuppressPspCall. On by default: a shop whose payments are captured elsewhere (by Norce
    # on its own order flow, by the PSP at checkout, or by the ERP) must never be charged a
    # second time because Brygga told Norce about the invoice. Turn it off only when Norce
    # should capture on the ERP's invoice (capture on delivery, driven from the ERP).
    suppress_psp_call: bool = True
    # After a delivery note, tell Norce the order is Delivered (or PartlyDelivered) with a
    # status call of its own (one more Connect request per delivery). Off when the delivery
    # note alone sets the status in your Norce.
    set_delivery_status: bool = True
    # When an ERP invoice is told: once it exists ("created") or once it is booked ("booked").
    invoice_when: str = INVOICE_WHEN_CREATED
    # Each run reads again this many minutes before the cursor (Fortnox stamps changes to the minute).
    poll_overlap_minutes: int = 5

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(KINDS[name] for name in self.send)

    def check(self) -> list[str]:
        unknown = [name for name in self.send if name not in KINDS]
        if unknown:
            return [f"send: {', '.join(unknown)} unknown; choose from {', '.join(KINDS)}"]
        return []

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


CHOICES = {"invoice_when": (INVOICE_WHEN_CREATED, INVOICE_WHEN_BOOKED)}


def parse_settings(raw: dict[str, Any] | None) -> OrderLifeSettings:
    """Typed settings from a flow's JSON, raising ValueError naming every bad key."""
    settings, problems = schema.read(OrderLifeSettings, raw, choices=CHOICES)
    extra = schema.unknown(raw, schema.field_names(OrderLifeSettings))
    if extra:
        problems.insert(0, extra)
    if problems:
        raise ValueError("; ".join(problems))
    return settings


def validate_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    return parse_settings(raw).as_dict()
