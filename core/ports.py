"""The ports: what a connector is handed by the engine, typed as protocols.

A connector's client talks to its system through the shared transport; it is handed
the connector's account (settings and credentials), a store for what it must keep
between calls (tokens, a changed grant, "reconnect needed") and the rate limiter all
workers share. The engine implements these on its database; a test may hand in its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.errors import SyncError
from core.limits import RateLimit
from core.records import (
    BookedOrder,
    Cancellation,
    CatalogueRecord,
    CreatedInvoice,
    Delivery,
    ImportAccepted,
    Invoice,
    Invoiced,
    InvoiceTerms,
    JobOutcome,
    LifeEvent,
    LifeRecord,
    MasterRecord,
    Order,
    Party,
    PolledOrder,
)

# `obtain(current_tokens)` asks the system's token endpoint and returns its JSON answer.
TokenGrant = Callable[[dict[str, Any]], dict[str, Any]]


class ConnectorAccount(Protocol):
    """One merchant's access to one system, as configured by staff."""

    pk: Any
    system: str
    base_url: str
    auth_url: str
    settings: dict[str, Any]
    credentials: dict[str, Any]


class ConnectorStore(Protocol):
    """What a connector keeps between calls, shared by every worker."""

    def access_token(
        self,
        obtain: TokenGrant,
        *,
        rejected: str | None = None,
        grant: str | None = None,
        refresh: bool = True,
        unrecorded: str | None = None,
    ) -> str:
        """A valid access token; `obtain` is called (once across all workers) when none is.

        `rejected` is a token the API just refused, never returned again. With `grant`, only
        tokens that grant produced are used; `refresh=False`: the grant keeps no refresh token;
        `unrecorded` names the grant of tokens stored without one."""
        ...

    def store_tokens(
        self, answer: dict[str, Any], *, grant_type: str | None = None, refresh: bool = True
    ) -> dict[str, Any]:
        """Keep a token endpoint's answer (e.g. after an authorization-code exchange)."""
        ...

    def save_settings(self, settings: dict[str, Any]) -> None:
        """Keep the connector's changed settings (e.g. a grant it moved to by itself)."""
        ...


class RateLimiter(Protocol):
    """A rate limit shared by every worker and process, as the API counts it."""

    def acquire(self, key: str, rate: RateLimit, *, priority: bool = False) -> float:
        """Block until a request may be sent under `rate`; return the seconds waited."""
        ...

    def penalise(self, key: str, rate: RateLimit, seconds: float) -> None:
        """After an unexpected 429, hold every worker back for `seconds`."""
        ...


# -- business capabilities ---------------------------------------------------------------------
# A flow asks for a capability ("order_source", "invoice_target"); the registry finds the
# integration's connector whose system declares it and builds the adapter on that connector's
# client. Flows speak only these protocols and the records in core.records.
ORDER_SOURCE = "order_source"
INVOICE_TARGET = "invoice_target"


class OrderSource(Protocol):
    """A webshop's orders: read as they arrive, fetched by reference, polled; told back their status."""

    name: str  # the system as people name it: "Norce"
    # Codes of a status refusal that will not change: such an order is not told again.
    refused_status_codes: tuple[str, ...]

    def read_order(self, payload: dict[str, Any], *, received_via: str, freight_articles: Sequence[str]) -> Order:
        """The order in a stored payload (as pushed, or as fetched or polled). Raises SyncError."""
        ...

    def fetch_order(self, reference: str) -> dict[str, Any]:
        """The order's payload as fetched by its reference; a transient SyncError when the webshop
        has none (yet)."""
        ...

    def orders_changed_since(self, since: datetime, *, freight_articles: Sequence[str]) -> Iterator[PolledOrder]:
        """Every order created or changed at or after `since`."""
        ...

    def confirm_order(self, source_id: str, *, document: str) -> None:
        """Tell the webshop the order is confirmed, with the ERP's document number.

        A refusal that will not change raises a permanent SyncError."""
        ...


class InvoiceTarget(Protocol):
    """An ERP that keeps customers and invoices. Every create is looked up by the order's
    reference first whenever it may exist already, so an order gets exactly one invoice."""

    name: str  # "Fortnox"
    # Seconds the ERP is given to commit a create whose answer was lost, before a lookup is trusted.
    commit_wait: float

    def check_terms(self, terms: InvoiceTerms) -> None:
        """Raise SyncError (flow.settings) when the ERP cannot carry these terms (e.g. a field name)."""
        ...

    def live_invoices(self, *, reference: str, reference_field: str, document: str = "invoice") -> list[Invoice]:
        """Every live invoice whose reference field holds exactly `reference`, oldest first.

        With `document` "order" (InvoiceTerms.document): the live ERP sales orders instead;
        a target that keeps none raises SyncError (flow.settings) from check_terms."""
        ...

    def invoices_changed_since(
        self, since: datetime, *, reference_field: str, document: str = "invoice"
    ) -> Iterator[Invoice]:
        """Every invoice changed after `since` (for reconciliation; `reference` read from the field)."""
        ...

    def get_invoice(self, number: str, *, reference_field: str, document: str = "invoice") -> Invoice: ...

    def create_invoice(self, *, booked: BookedOrder, customer: str, terms: InvoiceTerms) -> CreatedInvoice:
        """Create the order's invoice. A create whose answer was lost raises a SyncError for which
        core.errors.answer_lost() is true; articles the ERP lacks are handled per terms.unknown_article."""
        ...

    def finish_invoice(self, invoice: Invoice, *, terms: InvoiceTerms) -> Invoice:
        """Bring an invoice found for the order — one an earlier, interrupted attempt created —
        to the state create_invoice leaves one in with these terms (e.g. released when
        terms.release), and return it as it now is; unchanged when there is nothing to do."""
        ...

    def find_customer(self, *, match: str, value: str) -> str | None:
        """The number of the customer whose `match` ("email" or "organisation_number") equals `value`."""
        ...

    def create_customer(self, *, party: Party, currency: str) -> str:
        """Create a customer for the buyer; its number."""
        ...

    def cancel_invoice(self, number: str) -> None:
        """Cancel an invoice that is not booked yet."""
        ...

    def credit_invoice(self, number: str) -> str:
        """Credit a booked invoice; the credit invoice's number ("" when the ERP names none)."""
        ...


MASTER_DATA_SOURCE = "master_data_source"
CATALOGUE_TARGET = "catalogue_target"


@dataclass(slots=True)
class SourceItem:
    """One item a master-data source read: its key (article number, customer number), the
    quantity break of a price, and the record — or why it could not be read. Neither record
    nor error: the item is not master data to send (e.g. a service has no stock)."""

    key: str
    quantity: int = 1
    record: MasterRecord | None = None
    error: SyncError | None = None


@dataclass(frozen=True)
class SourcePage:
    number: int
    total_pages: int
    items: list[SourceItem]


class MasterDataSource(Protocol):
    """An ERP's products, prices, stock levels and customers, page by page since a cursor."""

    name: str

    def pages(
        self,
        data_type: str,
        settings: Any,
        *,
        since: datetime | None = None,
        start_page: int = 1,
        with_vat_rates: bool = False,
    ) -> Iterator[SourcePage]:
        """Items of `data_type` ("product", "price", "stock", "customer") changed after `since`
        (everything when None), from page `start_page` (1-based, for resumable reads). With
        `with_vat_rates`, prices carry their article's VAT rate (to add or remove VAT)."""
        ...

    def reread(self, data_type: str, key: str, settings: Any) -> SourceItem | None:
        """The item as the ERP holds it now; None when there is nothing to read again."""
        ...


class CatalogueTarget(Protocol):
    """A webshop's catalogue, fed with flat records (core.records.CatalogueRecord) by import
    jobs that run on its side and are followed to their end."""

    name: str
    # The codes a record gets from a job: its row rejected, its row skipped, the whole job failed;
    # and a refused restart.
    row_rejected_code: str
    row_ignored_code: str
    job_failed_code: str
    restart_refused_code: str
    # Whether the target tells us when a job ends (then jobs are checked only as a safety net).
    job_events: bool

    def use_priority(self, priority: bool) -> None:
        """Let these calls use the share of the target's limit kept for what must be quick (stock)."""
        ...

    def knows(self, method: str) -> bool:
        """Whether `method` (a record's import method) is one of the target's."""
        ...

    def send(self, method: str, payloads: list[dict[str, Any]], keys: set[str]) -> ImportAccepted:
        """Import the records (their stored payloads) with exactly the fields in `keys`, as one job.
        A refusal that will not change raises a permanent SyncError; anything else is transient."""
        ...

    def job(self, job_id: str) -> JobOutcome:
        """Where the job is; once it ended, what happened to each of its rows."""
        ...

    def restartable(self, status_id: int | None, created_at: datetime, now: datetime) -> tuple[bool, str]:
        """Whether a finished job can be run again from the payload the target kept, and if not why."""
        ...

    def restart(self, job_id: str) -> None: ...

    def named_record(self, message: str) -> str:
        """The record identifier a job message names, or ""."""
        ...

    # -- full files: the whole catalogue in one import per method; the target deactivates the rest
    def spool_item(self, record: CatalogueRecord) -> dict[str, Any]:
        """The record as its import's item with every field set (what a full file spools)."""
        ...

    def full_file_methods(self, fields: Iterable[str]) -> list[str]:
        """The import methods a full file of records with these fields takes, in sending order."""
        ...

    def send_full_file(
        self, method: str, fields: Iterable[str], items: Callable[[], Iterable[dict[str, Any]]]
    ) -> ImportAccepted:
        """One streamed import of every item; `items` is called again for each attempt."""
        ...

    def active_products(self) -> Iterator[str]:
        """The part numbers the catalogue shows as active (what a products full file may deactivate)."""
        ...

    def record_id(self, data_type: str, key: str, quantity: int, settings: Any) -> str:
        """The stored id of the record an item with this key becomes (also for an item that failed)."""
        ...

    def record(self, data_type: str, item: MasterRecord, settings: Any) -> CatalogueRecord | None:
        """The catalogue record for a source record (None: it is not sent); SyncError when it cannot be."""
        ...


# -- the order's life back to the webshop ---------------------------------------------------------
FULFILMENT_SOURCE = "fulfilment_source"
ORDER_LIFE_TARGET = "order_life_target"
# When an ERP invoice becomes an event (FulfilmentSource.life_events' `invoice_when`).
INVOICE_WHEN_CREATED, INVOICE_WHEN_BOOKED = "created", "booked"


class FulfilmentSource(Protocol):
    """An ERP's deliveries, invoices and cancellations of webshop orders, since a cursor."""

    name: str

    def life_events(
        self,
        since: datetime | None,
        *,
        kinds: Sequence[str],
        reference_field: str,
        invoice_when: str = INVOICE_WHEN_CREATED,
    ) -> Iterator[LifeEvent]:
        """Every delivery, invoice or cancellation (of `kinds`) that changed at or after `since`
        (everything when None), for documents that carry an order's key in `reference_field`
        ("" = the ERP's default). A document that cannot be read is an event with an error.

        `invoice_when`: an invoice is an event once it exists ("created") or only once it is
        booked in the ERP's ledger ("booked": Fortnox bokförd, Visma.net released)."""
        ...

    def life_event(
        self, key: str, *, reference_field: str, invoice_when: str = INVOICE_WHEN_CREATED
    ) -> LifeEvent | None:
        """The event with this key as the ERP holds it now (a webhook names a document); None
        when the document is gone or is not (yet) a delivery, invoice or cancellation."""
        ...


class OrderLifeTarget(Protocol):
    """A webshop told what became of its orders. Each call is made once per ERP document;
    `source_id` is the webshop's own key of the order (ClientOrderRef)."""

    name: str

    def send_delivery(self, delivery: Delivery, *, source_id: str, set_status: bool) -> None:
        """A delivery note with the delivered items and parcels; with `set_status`, the order
        becomes Delivered or PartlyDelivered. A refusal that will not change raises a permanent
        SyncError, anything else a transient one; one for which core.errors.answer_lost() is
        true may have landed. A failure after the webshop kept the note (the status call) has
        `details["record_kept"]` true: the note must not be sent again."""
        ...

    def send_invoice(self, invoiced: Invoiced, *, source_id: str, suppress_psp_call: bool) -> None:
        """The ERP invoice; unless `suppress_psp_call`, the webshop captures the payment."""
        ...

    def send_cancellation(self, cancellation: Cancellation, *, source_id: str) -> None:
        """The order is cancelled."""
        ...

    def already_told(self, record: LifeRecord, *, source_id: str) -> bool | None:
        """Whether the webshop already holds this record (after a send whose answer was lost);
        None when it cannot tell."""
        ...
