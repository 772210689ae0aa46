"""What arrives at an inbound webhook, as its system's connector reads it.

A connector lists its webhooks in its declaration (``core.systems.SystemDeclaration.webhooks``),
each a dotted path to a `Webhook`: the parts that depend on the system and need no I/O — whether
a request's headers carry the connector's credentials, what its parsed body means (one of the
records below), how the answers to its sender look, and how refusals are worded. Brygga's
webhook view does the rest the same way for every system: reading and keeping the body, storing
and queueing in one transaction, answering, logging.

Also here: the text and credential helpers those parts share with the view.
"""

from __future__ import annotations

import base64
import hmac
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import EVENT_MALFORMED, ErrorCode
from core.records import Order

# Text columns holding an identifier (Entity.source_id, WebhookDelivery.reference …).
REFERENCE_LENGTH = 100

# What Brygga did with a usable request (a Webhook delivery's outcome).
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
IGNORED = "ignored"

# The level of the log line a rejected body gets.
ERROR = "error"
WARNING = "warning"

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class InboundOrder:
    """A whole order pushed by the system: stored as it came (`payload`) and queued for the order flow."""

    order: Order
    payload: dict[str, Any]


@dataclass(frozen=True)
class OrderEvent:
    """A notice naming an order: the order flow fetches it, unless Brygga has it already."""

    reference: str


@dataclass(frozen=True)
class JobCompleted:
    """A notice that an import job Brygga may have started has ended."""

    job_id: str


@dataclass(frozen=True)
class RecordChanged:
    """A notice naming a record that changed in the system (thin: no record in it): the
    integration's flows of `data_types` read that record again.

    `key` is what those flows' sources read one record by (MasterDataSource.reread's key,
    FulfilmentSource.life_event's key); `reference` is stored to recognise a replay."""

    data_types: tuple[str, ...]  # "product", "price", "stock", "customer", "fulfilment"
    key: str
    reference: str = ""  # the notice's own id, when it has one


@dataclass(frozen=True)
class Ignored:
    """A notice Brygga has no use for: kept and acknowledged (2xx, so the sender does not retry it)."""

    reason: str


Inbound = InboundOrder | OrderEvent | JobCompleted | RecordChanged | Ignored


@dataclass(frozen=True)
class Outcome:
    """What Brygga did with what a webhook read, for the answer to the sender."""

    status: str  # ACCEPTED, DUPLICATE or IGNORED
    received: Inbound
    # the ERP's number of the order's invoice, when the order is invoiced already
    invoice: str = ""


class Webhook(ABC):
    """One inbound webhook of a system: the system-specific, pure part of it."""

    # names it in log lines ("Order push refused: …")
    what: str = "Webhook"
    # the Webhook delivery kind its requests are kept as
    delivery_kind: str = ""
    # the code, and the level, of the log line for a body it cannot use
    malformed: ErrorCode = EVENT_MALFORMED
    rejected_level: str = WARNING
    # the field of the body holding the order's reference, named when it is too long to store
    reference_field: str = "reference"
    # Query parameters that may carry a credential (for senders that cannot set a header): the
    # view hands each to `authenticated` as the header ``X-Webhook-Query-<Name>``. The query
    # string is never stored or logged by Brygga; a proxy's access log may keep it, so prefer a
    # header where the sender can send one.
    query_credentials: tuple[str, ...] = ()

    # answered to the sender
    not_post: str = "only POST is accepted"
    unknown_integration: str = "unknown integration"
    unauthenticated: str = "not authenticated"
    # kept and logged for staff when authentication fails (naming no secret)
    refused_because: str = "the request does not carry the connector's credentials"
    # answered, kept and logged: a body over `limit` bytes, a body that fails to read unexpectedly
    too_large: str = "the body is larger than {limit} bytes"
    unreadable: str = "the body could not be read ({error})"

    @abstractmethod
    def authenticated(self, headers: Mapping[str, str], credentials: Mapping[str, str]) -> bool:
        """Whether the request's headers carry the connector's credentials."""

    @abstractmethod
    def read(self, body: Any) -> Inbound:
        """What the parsed JSON body means. Raises core.errors.SyncError for a body it cannot use."""

    @abstractmethod
    def answer(self, outcome: Outcome) -> dict[str, Any]:
        """The JSON body answering a request Brygga stored."""

    def refusal(self, status: int, reason: str) -> dict[str, Any]:
        """The JSON body answering a request refused with `status` (405, 404, 401, 413, 400) for `reason`."""
        return {"error": reason}


def storable_text(value: str) -> str:
    """`value` with NUL written as the escape ``\\u0000`` and lone surrogates as ``\\udxxx``,
    so a text column keeps it and a person can still see what was sent."""
    if "\x00" in value:
        value = value.replace("\x00", "\\u0000")
    return LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def label(value: str, *, length: int = REFERENCE_LENGTH) -> str:
    """A storable label of at most `length` characters (for columns where it is only a name)."""
    text = storable_text(value)
    return text if len(text) <= length else text[: length - 1] + "…"


def credential_bytes(value: str) -> bytes:
    """A header value as the bytes that were sent (WSGI hands headers over as Latin-1)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", errors="surrogatepass")


def same_secret(given: bytes, expected: str) -> bool:
    """Constant-time comparison of bytes; an empty expected secret never matches."""
    if not expected:
        return False
    return hmac.compare_digest(given, expected.encode("utf-8"))


def basic_auth_ok(*, header: str, username: str, password: str) -> bool:
    """Whether an ``Authorization: Basic …`` header carries `username` and `password`.

    Compared as bytes, so any characters in the header give False rather than an error.
    """
    if not password:
        return False
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(credential_bytes(encoded.strip()))
    except ValueError:
        return False
    given_user, _, given_password = decoded.partition(b":")
    user_ok = hmac.compare_digest(given_user, username.encode("utf-8"))
    return user_ok & same_secret(given_password, password)
