"""Master data from the ERP into Norce through Connect: products, prices, stock, customers.

A run has three steps, each safe to repeat:

1. **collect** — read what changed in Fortnox since the Time History cursor (minus an
   overlap), map each item to a Norce record and store it on its Entity. A record
   whose mapped content equals what Norce last confirmed stays as it is; a changed one
   becomes pending.
2. **send** — pending records go out in batches (size and maximum wait per flow). Each
   item carries only the fields that differ from what Norce confirmed, and the header's
   ``…FieldsThatAreSet`` lists exactly those. Every import's JobId is kept as a
   ConnectJob with the request.
3. **follow** — jobs are followed with Job/Get (or JobCompletedEvent) until they end;
   the outcome is written on each record (integrations.flows.connect_jobs).

Nothing is lost between the steps: a record stays pending (or sent) until a job that
carried its current content succeeded, and an import is an upsert, so sending again
after a crash does no harm.

Prices and stock depend on the products: Norce ignores a price or stock row for a SKU it
does not have, so such rows wait for the products import that creates the SKU (see
`waiting_for_products`) and go as soon as that job has ended.

A task with ``force`` (rewind and resend) sends every record it reads with all its
fields, even when Norce already confirmed that content.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone

from connectors.fortnox import to_norce
from connectors.norce import connect
from connectors.norce.client import gzip_body
from connectors.norce.connect import ConnectRecord
from core.errors import SyncError
from integrations import services
from integrations.flows import connect_jobs
from integrations.flows.master_settings import (
    MasterSettings,
    PriceSettings,
    ProductSettings,
    StockSettings,
    parse_settings,
)
from integrations.models import ConnectJob, Entity, Flow, LogEntry, Task

log = logging.getLogger("brygga.flows.master")

SENDABLE = (Entity.Status.PENDING, Entity.Status.FAILED)
PRODUCTS_KIND = "products_to_commerce"
# Flows whose rows name a SKU that the products flow creates in Norce.
NEEDS_PRODUCTS = ("prices_to_commerce", "stock_to_commerce")
# Flows whose calls may use Norce's reserved share of the Connect limit.
PRIORITY_KINDS = {"stock_to_commerce"}


@dataclass
class SourceBatch:
    """One page of the source, mapped."""

    page: int
    total_pages: int
    records: list[ConnectRecord] = field(default_factory=list)
    errors: list[tuple[str, str, SyncError]] = field(default_factory=list)  # (source id, reference, error)
    read: int = 0


@dataclass
class CollectStats:
    read: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    forced: int = 0  # unchanged, but sent again because the task asked for it (force)


# -- reading the source ------------------------------------------------------------------------
def _map(batch: SourceBatch, source_id: str, build) -> None:
    batch.read += 1
    try:
        record = build()
    except SyncError as exc:
        batch.errors.append((source_id, source_id.split("@", 1)[0], exc))
        return
    if record is not None:
        batch.records.append(record)


def _mapped(
    pages, source_id: Callable[[dict[str, Any]], str], build: Callable[[dict[str, Any]], ConnectRecord | None]
) -> Iterator[SourceBatch]:
    """Source pages with each item mapped (or its error kept) under its source id."""
    for page in pages:
        batch = SourceBatch(page.number, page.total_pages)
        for item in page.items:
            _map(batch, source_id(item), lambda i=item: build(i))
        yield batch


def _article_number(item: dict[str, Any]) -> str:
    return str(item.get("ArticleNumber") or "")


def read_source(
    kind: str, settings: MasterSettings, fortnox, *, since=None, start_page: int = 1
) -> Iterator[SourceBatch]:
    """The flow's source data since `since` (everything when None), page by page, mapped."""
    if kind == "products_to_commerce":
        assert isinstance(settings, ProductSettings)
        yield from _mapped(
            fortnox.article_pages(since=since, start_page=start_page),
            _article_number,
            lambda article: to_norce.product_record(article, settings),
        )
    elif kind == "prices_to_commerce":
        assert isinstance(settings, PriceSettings)
        yield from _read_prices(settings, fortnox, since=since, start_page=start_page)
    elif kind == "stock_to_commerce":
        assert isinstance(settings, StockSettings)
        yield from _read_stock(settings, fortnox, since=since, start_page=start_page)
    elif kind == "customers_to_commerce":
        yield from _mapped(
            fortnox.customer_pages(since=since, start_page=start_page),
            lambda customer: str(customer.get("CustomerNumber") or ""),
            lambda customer: to_norce.customer_record(customer, settings),
        )
    else:
        raise SyncError("config.flow_settings", f"No master-data source for flow kind {kind!r}")


def _read_prices(settings: PriceSettings, fortnox, *, since, start_page: int) -> Iterator[SourceBatch]:
    convert = settings.fortnox_prices_include_vat != settings.norce_prices_include_vat
    if settings.source == "article":
        yield from _mapped(
            fortnox.article_pages(since=since, start_page=start_page),
            lambda a: f"{_article_number(a)}@{settings.norce_price_list_code}/1",
            lambda a: to_norce.price_record(_article_number(a), a.get("SalesPrice") or 0, settings, vat=a.get("VAT")),
        )
        return
    vat_rates: dict[str, Any] = {}

    def vat_of(number: str) -> Any:
        # Only needed when VAT is added or removed: the price list has no rate, the article does.
        if not convert:
            return None
        if number not in vat_rates:
            article = fortnox.get_article(number)
            vat_rates[number] = article.get("VAT") if article else None
        return vat_rates[number]

    def source_id(price: dict[str, Any]) -> str:
        try:
            quantity = max(1, int(Decimal(str(price.get("FromQuantity") or 0))))
        except (ArithmeticError, ValueError):
            quantity = 1  # price_record reports the bad quantity on this record
        return f"{_article_number(price)}@{settings.norce_price_list_code}/{quantity}"

    yield from _mapped(
        fortnox.price_pages(settings.fortnox_price_list, since=since, start_page=start_page),
        source_id,
        lambda p: to_norce.price_record(
            _article_number(p),
            p.get("Price"),
            settings,
            from_quantity=p.get("FromQuantity"),
            vat=vat_of(_article_number(p)),
        ),
    )


def _read_stock(settings: StockSettings, fortnox, *, since, start_page: int) -> Iterator[SourceBatch]:
    suffix = f"@{settings.warehouse_code}/{settings.location_code}"
    if settings.source == "warehouse":
        # The stock balance has no change filter: every run reads it whole and the
        # content comparison sends only what changed.
        totals: dict[str, Decimal] = {}
        key = "inStock" if settings.quantity == "in_stock" else "availableStock"
        for row in fortnox.stock_balance(settings.stock_points):
            item = str(row.get("itemId") or "")
            totals[item] = totals.get(item, Decimal(0)) + Decimal(str(row.get(key) or 0))
        batch = SourceBatch(1, 1)
        for number, quantity in sorted(totals.items()):
            _map(batch, number + suffix, lambda n=number, q=quantity: to_norce.stock_record(n, q, settings))
        yield batch
        return

    def build(article: dict[str, Any]) -> ConnectRecord | None:
        value = to_norce.article_stock(article, settings)
        return None if value is None else to_norce.stock_record(_article_number(article), value, settings)

    yield from _mapped(
        fortnox.article_pages(since=since, start_page=start_page),
        lambda article: _article_number(article) + suffix,
        build,
    )


# -- storing what changed ----------------------------------------------------------------------
def store_batch(ctx, flow: Flow, batch: SourceBatch, *, force: bool = False) -> CollectStats:
    """Write one mapped page onto its Entities; changed records become pending.

    With `force`, unchanged records become pending too (unless a job carrying exactly this
    content is on its way): the send step then sends them whole."""
    stats = CollectStats(read=batch.read)
    data_type = flow.data_type
    ids = [r.source_id for r in batch.records] + [e[0] for e in batch.errors if e[0]]
    existing = {
        e.source_id: e
        for e in Entity.objects.filter(integration_id=flow.integration_id, data_type=data_type, source_id__in=ids)
    }
    now = timezone.now()
    new: list[Entity] = []
    changed: list[Entity] = []
    for record in batch.records:
        digest = record.hash
        payload = {**record.payload(), "flow_id": flow.pk}
        entity = existing.get(record.source_id)
        if entity is None:
            new.append(
                Entity(
                    integration_id=flow.integration_id,
                    data_type=data_type,
                    source_id=record.source_id,
                    reference=record.reference[:100],
                    label=record.label[:200],
                    payload=payload,
                    payload_hash=digest,
                    received_via="poll",
                    status=Entity.Status.PENDING,
                )
            )
            continue
        in_flight = entity.status in (Entity.Status.SENT, Entity.Status.PROCESSING)
        if (
            entity.payload_hash == digest
            and entity.status != Entity.Status.NEEDS_ATTENTION
            and (not force or in_flight)
        ):
            stats.unchanged += 1
            continue
        confirmed = (entity.sent_payload or {}).get("fields") or {}
        same = entity.sent_hash == digest or (entity.sent_hash and not connect.changed_fields(record.fields, confirmed))
        entity.payload, entity.payload_hash = payload, digest
        entity.reference, entity.label = record.reference[:100], record.label[:200]
        if same and force:
            entity.status = Entity.Status.PENDING
            entity.last_error_code = entity.last_error_message = ""
            stats.forced += 1
        elif same:
            entity.status = Entity.Status.SYNCED  # back to what Norce already has
            stats.unchanged += 1
        else:
            entity.status = Entity.Status.PENDING
            entity.last_error_code = entity.last_error_message = ""
            stats.changed += 1
        entity.updated_at = now
        changed.append(entity)
    with transaction.atomic():
        if new:
            Entity.objects.bulk_create(new, ignore_conflicts=True)
            stats.changed += len(new)
        if changed:
            Entity.objects.bulk_update(
                changed,
                [
                    "payload",
                    "payload_hash",
                    "status",
                    "reference",
                    "label",
                    "last_error_code",
                    "last_error_message",
                    "updated_at",
                ],
            )
        for source_id, reference, error in batch.errors:
            _record_mapping_error(ctx, flow, existing.get(source_id), source_id, reference, error)
            stats.failed += 1
    return stats


def _record_mapping_error(
    ctx, flow: Flow, entity: Entity | None, source_id: str, reference: str, error: SyncError
) -> None:
    if not source_id:
        ctx.log(LogEntry.Level.ERROR, error.message, code=error.code, hint=error.hint, data_type=flow.data_type)
        return
    if entity is None:
        entity, _ = Entity.objects.get_or_create(
            integration_id=flow.integration_id,
            data_type=flow.data_type,
            source_id=source_id,
            defaults={"reference": reference[:100], "payload": {"flow_id": flow.pk}, "received_via": "poll"},
        )
    Entity.objects.filter(pk=entity.pk).update(
        status=Entity.Status.NEEDS_ATTENTION,
        last_error_code=error.code,
        last_error_message=error.message[:2000],
        payload_hash="",
    )
    ctx.log(LogEntry.Level.ERROR, error.message, code=error.code, hint=error.hint, entity=entity)
    ctx.failed += 1


def collect(
    ctx, flow: Flow, settings: MasterSettings, *, since=None, use_cursor: bool = True, force: bool = False
) -> CollectStats:
    """Read changes since the cursor (minus the overlap) and store them; move the cursor.
    With `force`, every record read is made pending, changed or not."""
    started = timezone.now()
    if since is None and use_cursor:
        cursor = services.get_cursor(flow.integration, flow.data_type, flow.direction)
        since = cursor - timedelta(minutes=settings.overlap_minutes) if cursor else None
    fortnox = ctx.client("erp")
    total = CollectStats()
    for batch in read_source(flow.kind, settings, fortnox, since=since):
        stats = store_batch(ctx, flow, batch, force=force)
        total.read += stats.read
        total.changed += stats.changed
        total.unchanged += stats.unchanged
        total.failed += stats.failed
        total.forced += stats.forced
        ctx.heartbeat()
    services.advance_cursor(flow.integration, flow.data_type, flow.direction, started)
    ctx.skipped += total.unchanged
    if total.read:
        text = (
            f"Read {total.read} from Fortnox: {total.changed} changed, {total.unchanged} unchanged, "
            f"{total.failed} with errors"
        )
        if total.forced:
            text += f"; {total.forced} unchanged sent again as asked (resend)"
        elif total.unchanged and not total.changed:
            text += '; nothing to send: Norce already has this content ("Rewind and resend" sends it anyway)'
        ctx.log(
            LogEntry.Level.INFO,
            text,
            data_type=flow.data_type,
            details={"since": since.isoformat() if since else None, **total.__dict__},
        )
    return total


# -- sending -----------------------------------------------------------------------------------
def sendable(flow: Flow):
    return Entity.objects.filter(
        integration_id=flow.integration_id, data_type=flow.data_type, status__in=SENDABLE, payload__flow_id=flow.pk
    )


# -- prices and stock wait for their products ----------------------------------------------------
def products_loaded(products: Flow) -> bool:
    """Whether the products flow has read the catalogue at least once (its cursor is set, or a
    run of it finished)."""
    if services.get_cursor(products.integration, products.data_type, products.direction) is not None:
        return True
    return Task.objects.filter(flow=products, status__in=(Task.Status.SUCCEEDED, Task.Status.PARTLY_FAILED)).exists()


def waiting_for_products(flow: Flow) -> Q | None:
    """A filter on the flow's records: those whose SKU the products flow has not created in Norce yet.
    None when the flow does not wait (not prices or stock, or no enabled products flow).

    A record waits while the product record of its SKU exists in Brygga and Norce has never
    confirmed it (it is pending, on its way, or needs attention first). A SKU without a product
    record waits only until the products flow has read the catalogue once (a new integration's
    first run); after that, it is a SKU Norce has from elsewhere (a shop connected with its
    catalogue in place), so its rows go at once and Norce decides."""
    if flow.kind not in NEEDS_PRODUCTS:
        return None
    products = Flow.objects.filter(integration_id=flow.integration_id, kind=PRODUCTS_KIND, enabled=True).first()
    if products is None:  # the products are kept in Norce by other means
        return None
    product = Entity.objects.filter(
        integration_id=flow.integration_id, data_type=products.data_type, source_id=OuterRef("reference")
    )
    if products_loaded(products):
        return Q(Exists(product.filter(sent_hash="")))
    return ~Q(Exists(product.exclude(sent_hash="")))


def ready(flow: Flow):
    """The flow's sendable records that may go now."""
    waiting = waiting_for_products(flow)
    return sendable(flow) if waiting is None else sendable(flow).exclude(waiting)


def held_back(flow: Flow):
    """The flow's sendable records that wait for their products."""
    waiting = waiting_for_products(flow)
    return sendable(flow).none() if waiting is None else sendable(flow).filter(waiting)


def release_dependents(products: Flow) -> list[Task]:
    """After a products job ended: a send for each prices/stock flow with records that may go now."""
    queued = []
    for flow in Flow.objects.filter(integration_id=products.integration_id, kind__in=NEEDS_PRODUCTS, enabled=True):
        if ready(flow).exists():
            task = services.queue_follow_up(flow, {"send_only": True})
            if task is not None:
                queued.append(task)
    return queued


def _log_held_back(ctx, flow: Flow) -> None:
    held = held_back(flow)
    count = held.count()
    if not count:
        return
    sample = list(held.order_by("pk").values_list("reference", flat=True)[:5])
    more = f" and {count - len(sample)} more" if count > len(sample) else ""
    ctx.log(
        LogEntry.Level.INFO,
        f"{count} record(s) wait for their products to reach Norce ({', '.join(sample)}"
        f"{more}); they are sent when the products import has ended",
        data_type=flow.data_type,
        details={"waiting": count},
    )


def _claim(ctx, flow: Flow, limit: int) -> list[Entity]:
    now = timezone.now()
    ids = list(
        ready(flow)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return []
    Entity.objects.filter(pk__in=ids, status__in=SENDABLE).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    ).update(status=Entity.Status.PROCESSING, lease_until=now + services.lease_length(), claimed_by_task=ctx.task.pk)
    return list(
        Entity.objects.filter(pk__in=ids, claimed_by_task=ctx.task.pk, status=Entity.Status.PROCESSING).order_by("pk")
    )


def _release(entities: Iterable[Entity], status: str, error: SyncError | None = None) -> None:
    updates: dict[str, Any] = {"status": status, "lease_until": None, "claimed_by_task": None}
    if error is not None:
        updates.update(last_error_code=error.code, last_error_message=error.message[:2000])
    Entity.objects.filter(pk__in=[e.pk for e in entities]).update(**updates)


def wait_for_more(flow: Flow, settings: MasterSettings) -> float:
    """Seconds to wait for more changes before sending (0 = send now)."""
    if settings.max_wait_seconds <= 0:
        return 0.0
    pending = ready(flow)
    if pending.count() >= settings.batch_size:
        return 0.0
    oldest = pending.aggregate(at=Min("updated_at"))["at"]
    if oldest is None:
        return 0.0
    return max(0.0, (oldest + timedelta(seconds=settings.max_wait_seconds) - timezone.now()).total_seconds())


def send_pending(
    ctx,
    flow: Flow,
    settings: MasterSettings,
    norce,
    *,
    full_fields: Iterable[int] = (),
    every_field: bool = False,
    deadline: float | None = None,
) -> int:
    """Send every pending record of the flow in batches; returns the number of records sent.

    Records in `full_fields` (entity ids) are sent with all their fields (an explicit retry);
    with `every_field`, every record is."""
    full: set[int] | None = None if every_field else set(full_fields)
    sent = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return sent
        entities = _claim(ctx, flow, settings.batch_size)
        if not entities:
            return sent
        by_method: dict[str, list[Entity]] = {}
        for entity in entities:
            by_method.setdefault(entity.payload.get("method") or "", []).append(entity)
        for method, group in by_method.items():
            sent += _send_group(ctx, flow, norce, method, group, full)
        ctx.heartbeat()


def _send_group(ctx, flow: Flow, norce, method: str, entities: list[Entity], full: set[int] | None) -> int:
    """Send one batch of one method. `full`: the records to send whole (None: all of them)."""
    if method not in connect.METHODS:
        error = SyncError("config.flow_settings", f"Record has no Connect method ({method!r})")
        _release(entities, Entity.Status.NEEDS_ATTENTION, error)
        return 0
    # One header for the batch: the union of what changed in its records.
    keys: set[str] = set()
    for entity in entities:
        fields = entity.payload.get("fields") or {}
        confirmed = (entity.sent_payload or {}).get("fields") or {}
        whole = full is None or entity.pk in full or not entity.sent_hash
        keys |= set(fields) if whole else connect.changed_fields(fields, confirmed)
    if not keys:  # nothing differs from what Norce confirmed
        for entity in entities:
            Entity.objects.filter(pk=entity.pk).update(
                status=Entity.Status.SYNCED, lease_until=None, claimed_by_task=None, sent_hash=entity.payload_hash
            )
        return 0
    items = [connect.build_item(entity.payload, keys) for entity in entities]
    header = connect.build_header(
        method, keys, account_id=norce.account_id, full_file=False if method in connect.FULL_FILE_METHODS else None
    )
    body = b"".join(connect.json_array_chunks(items))
    try:
        accepted = norce.import_items(method, header, body)
    except SyncError as exc:
        if exc.permanent or (exc.status is not None and 400 <= exc.status < 500 and exc.status != 429):
            error = SyncError(
                "norce.import_rejected",
                f"Norce refused the {method} import: {exc.message}",
                status=exc.status,
                details=exc.details,
            )
            _release(entities, Entity.Status.NEEDS_ATTENTION, error)
            LogEntry.objects.bulk_create(
                [
                    LogEntry(
                        integration_id=flow.integration_id,
                        task=ctx.task,
                        flow=flow,
                        entity=e,
                        level=LogEntry.Level.ERROR,
                        data_type=flow.data_type,
                        reference=e.reference,
                        code=error.code,
                        message=error.message,
                        hint=error.hint,
                    )
                    for e in entities
                ]
            )
            ctx.failed += len(entities)
            return 0
        _release(entities, Entity.Status.FAILED, exc)
        raise
    sent = [
        [entity.pk, entity.payload_hash, {k: fields[k] for k in sorted(keys) if k in fields}]
        for entity, fields in ((e, e.payload.get("fields") or {}) for e in entities)
    ]
    with transaction.atomic():
        job, _ = ConnectJob.objects.update_or_create(
            integration_id=flow.integration_id,
            job_id=accepted.job_id,
            defaults=dict(
                flow=flow,
                task=ctx.task,
                method=method,
                item_count=len(items),
                header=header,
                sent=sent,
                request_body=gzip_body([body]),
                status=ConnectJob.Status.QUEUED,
                messages=[{"SeverityId": 2, "Message": m} for m in accepted.messages],
            ),
        )
        Entity.objects.filter(pk__in=[e.pk for e in entities], claimed_by_task=ctx.task.pk).update(
            status=Entity.Status.SENT, lease_until=None, claimed_by_task=None, target_id=f"job:{accepted.job_id}"
        )
    ctx.log(
        LogEntry.Level.INFO,
        f"{method}: {len(items)} record(s) sent as Norce job {accepted.job_id}, fields {', '.join(sorted(keys))}",
        data_type=flow.data_type,
        details={"job_id": accepted.job_id, "header": header},
    )
    return len(items)


# -- the runner --------------------------------------------------------------------------------
def run(task: Task, ctx) -> None:
    flow = task.flow
    settings = parse_flow_settings(flow)
    params = task.params or {}
    norce = commerce_client(ctx, flow)

    if params.get("follow_jobs"):
        connect_jobs.follow(ctx, flow, norce, wait=0, job_ids=params.get("job_ids"))
        return
    if params.get("mode") == "full":
        from integrations import resync

        resync.run_full_file_slice(ctx, flow, settings, norce)
        return

    deadline = time.monotonic() + services.slice_seconds()
    force = bool(params.get("force"))
    full_fields: list[int] = []
    if params.get("entity_ids"):
        full_fields = [int(i) for i in params["entity_ids"]]
        reread(ctx, flow, settings, full_fields)
        Entity.objects.filter(
            pk__in=full_fields, status__in=[Entity.Status.NEEDS_ATTENTION, Entity.Status.SKIPPED, Entity.Status.SYNCED]
        ).filter(payload__has_key="fields").update(status=Entity.Status.PENDING)
    elif not params.get("send_only"):
        collect(ctx, flow, settings, since=_since_param(params), force=force)

    if not full_fields and not force:  # an explicit retry or resend goes at once
        wait = wait_for_more(flow, settings)
        if wait > 0:
            services.queue_follow_up(flow, {"send_only": True}, at=timezone.now() + timedelta(seconds=wait))
            return
    send_pending(ctx, flow, settings, norce, full_fields=full_fields, every_field=force, deadline=deadline)
    if ready(flow).exists():
        # Hand over to a continuation so other flows (stock) get a worker in between; a resend's
        # continuation keeps sending whole records.
        services.queue_follow_up(flow, {"send_only": True, **({"force": True} if force else {})}, at=timezone.now())
    _log_held_back(ctx, flow)
    connect_jobs.follow(ctx, flow, norce, wait=0 if connect_jobs.events_enabled(norce) else settings.job_wait_seconds)


def commerce_client(ctx, flow: Flow):
    """The Norce client for the flow; stock may use the reserved share of the Connect limit."""
    norce = ctx.client("commerce")
    norce.priority = flow.kind in PRIORITY_KINDS
    return norce


def _since_param(params: dict[str, Any]):
    from django.utils.dateparse import parse_datetime

    value = params.get("since")
    return parse_datetime(value) if value else None


def parse_flow_settings(flow: Flow) -> MasterSettings:
    try:
        return parse_settings(flow.kind, flow.settings)
    except ValueError as exc:
        raise SyncError(
            "config.flow_settings",
            f"Flow settings: {exc}",
            hint="Correct the flow's settings in admin, then retry the task.",
            permanent=True,
        ) from None


def reread(ctx, flow: Flow, settings: MasterSettings, entity_ids: list[int]) -> None:
    """Map records again from Fortnox's current data (a retry after fixing the source)."""
    fortnox = ctx.client("erp")
    for entity in Entity.objects.filter(pk__in=entity_ids):
        number = entity.source_id.split("@", 1)[0]
        try:
            if flow.kind == "customers_to_commerce":
                item = fortnox.get_customer(number)
                record = to_norce.customer_record(item, settings) if item else None
            elif flow.kind in ("products_to_commerce", "stock_to_commerce") or (
                flow.kind == "prices_to_commerce" and getattr(settings, "source", "") == "article"
            ):
                item = fortnox.get_article(number)
                if item is None:
                    record = None
                elif flow.kind == "products_to_commerce":
                    record = to_norce.product_record(item, settings)
                elif flow.kind == "stock_to_commerce":
                    value = to_norce.article_stock(item, settings)
                    record = None if value is None else to_norce.stock_record(number, value, settings)
                else:
                    record = to_norce.price_record(number, item.get("SalesPrice") or 0, settings, vat=item.get("VAT"))
            else:
                continue  # price-list prices: the stored record is sent again
        except SyncError as exc:
            _record_mapping_error(ctx, flow, entity, entity.source_id, entity.reference, exc)
            continue
        if record is None:
            continue
        batch = SourceBatch(1, 1, records=[record], read=1)
        Entity.objects.filter(pk=entity.pk).update(payload_hash="")  # make the stored content count as changed
        store_batch(ctx, flow, batch)
