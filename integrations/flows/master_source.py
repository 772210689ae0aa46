"""Reading the ERP's master data: the source's pages (core.ports.MasterDataSource), each item
mapped by the catalogue target to its record (or its error kept under the record's id), for the
incremental flows and the full file alike."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from core.errors import FLOW_SETTINGS, SyncError
from core.ports import CatalogueTarget, MasterDataSource, SourceItem
from core.records import CatalogueRecord
from integrations.flows.master_settings import FlowSettings, PriceSettings
from integrations.models import Entity, Flow, LogEntry

MASTER_DATA_TYPES = ("product", "price", "stock", "customer")


@dataclass
class SourceBatch:
    """One page of the source, mapped."""

    page: int
    total_pages: int
    records: list[CatalogueRecord] = field(default_factory=list)
    errors: list[tuple[str, str, SyncError]] = field(default_factory=list)  # (source id, reference, error)
    read: int = 0


# -- reading the source ------------------------------------------------------------------------
def with_vat_rates(settings: FlowSettings) -> bool:
    """Whether prices must carry their VAT rate: the source's and the target's prices differ in
    including VAT, so VAT is added or removed."""
    return isinstance(settings.flow, PriceSettings) and (
        settings.source_prices_include_vat != settings.target_prices_include_vat
    )


def mapped(
    data_type: str, item: SourceItem, settings: FlowSettings, target: CatalogueTarget, batch: SourceBatch
) -> None:
    """Add one source item to the batch as its catalogue record (or its error, under its record id)."""
    batch.read += 1
    record_id = target.record_id(data_type, item.key, item.quantity, settings) if item.key else ""
    if item.error is not None:
        batch.errors.append((record_id, item.key, item.error))
        return
    if item.record is None:
        return
    try:
        record = target.record(data_type, item.record, settings)
    except SyncError as exc:
        batch.errors.append((record_id, item.key, exc))
        return
    if record is not None:
        batch.records.append(record)


def read_source(
    flow: Flow,
    settings: FlowSettings,
    source: MasterDataSource,
    target: CatalogueTarget,
    *,
    since=None,
    start_page: int = 1,
) -> Iterator[SourceBatch]:
    """The flow's source data since `since` (everything when None), page by page, mapped."""
    if flow.data_type not in MASTER_DATA_TYPES:
        raise SyncError(FLOW_SETTINGS.code, f"No master-data source for flow kind {flow.kind!r}")
    pages = source.pages(
        flow.data_type, settings, since=since, start_page=start_page, with_vat_rates=with_vat_rates(settings)
    )
    for page in pages:
        batch = SourceBatch(page.number, page.total_pages)
        for item in page.items:
            mapped(flow.data_type, item, settings, target, batch)
        yield batch


# -- storing what changed ----------------------------------------------------------------------
def record_mapping_error(
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
