"""One stored order → exactly one ERP invoice, through the order source and invoice target ports."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookkeeping.invoices import book_order, check_invoice
from core.errors import (
    ORDER_ALREADY_SYNCED,
    ORDER_CREATE_UNCONFIRMED,
    ORDER_DUPLICATE_INVOICE,
    ORDER_DUPLICATE_TARGET,
    ORDER_EXCLUDED,
    ORDER_INVOICE_FOUND,
    ORDER_INVOICED,
    ORDER_MISSING_DATA,
    ORDER_RELINKED,
    ORDER_TOTAL_MISMATCH,
    ORDER_VAT_ROUNDING,
    SyncError,
    answer_lost,
)
from core.ports import INVOICE_TARGET, ORDER_SOURCE, InvoiceTarget, OrderSource
from core.records import BookedOrder, CreatedInvoice, Invoice, InvoiceTerms, Order, Party
from integrations.flows.order_records import (
    CUSTOMER,
    DATA_TYPE,
    duplicate_details,
    invoice_terms,
    may_have_invoice,
    read_stored_order,
    superseded_invoices,
)
from integrations.flows.order_settings import OrderFlowSettings
from integrations.models import Entity, Integration, LogEntry, Reference


class OrderPipeline:
    """Turn one stored order into exactly one ERP invoice (the follow-up task tells the webshop)."""

    def __init__(self, ctx, settings: OrderFlowSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.integration: Integration = ctx.integration
        self._erp: InvoiceTarget | None = None
        self._source: OrderSource | None = None
        # When to look again for an extra invoice (set when an order was invoiced after an
        # unclear create of its own, which may still commit).
        self.recheck_at: datetime | None = None

    @property
    def _document(self) -> str:
        """What the order becomes in the ERP, as people say it."""
        return "sales order" if self.settings.document == "order" else "invoice"

    @property
    def erp(self) -> InvoiceTarget:
        if self._erp is None:
            self._erp = self.ctx.port(INVOICE_TARGET)
        return self._erp

    @property
    def source(self) -> OrderSource:
        if self._source is None:
            self._source = self.ctx.port(ORDER_SOURCE)
        return self._source

    def process(self, entity_id: int) -> None:
        self.ctx.process_claimed(entity_id, self._process, what="order")

    def _process(self, entity: Entity) -> None:
        existing = Reference.objects.filter(
            integration=self.integration, data_type=DATA_TYPE, source_id=entity.source_id
        ).first()
        if (
            existing is not None
            and entity.last_error_code == ORDER_DUPLICATE_INVOICE.code
            and self._still_invoiced_twice(entity, existing.target_id)
        ):
            return
        if existing is not None:
            Entity.objects.filter(pk=entity.pk).update(
                target_id=existing.target_id, synced_at=entity.synced_at or timezone.now()
            )
            self.ctx.skip(
                entity,
                f"Order {entity.reference} already has invoice {existing.target_id}",
                code=ORDER_ALREADY_SYNCED.code,
                status=Entity.Status.SYNCED,
            )
            return
        if self._waits_for_commit(entity):
            return
        order = read_stored_order(self.source, entity, self.settings)
        exclusion = self.integration.order_exclusion_date
        if exclusion and order.placed_at and order.placed_at < exclusion:
            self.ctx.skip(
                entity,
                f"Order {order.order_no} was placed {order.placed_at:%Y-%m-%d %H:%M}, before the "
                f"integration's exclusion date",
                code=ORDER_EXCLUDED.code,
            )
            return
        booked = book_order(order, prices_include_vat=self.settings.prices_include_vat)
        terms = invoice_terms(order, self.settings)
        self.erp.check_terms(terms)
        invoice = self._find_earlier_invoice(entity, order, terms)
        if invoice is not None:
            self._save_reference(entity, invoice.number, origin=Reference.Origin.LOOKUP)
            self._check_totals(entity, booked, invoice)
            self.ctx.succeed(
                entity,
                f"Order {order.order_no} linked to {self.erp.name} {self._document} {invoice.number}",
                target_id=invoice.number,
                code=ORDER_INVOICED.code,
            )
            return
        customer = self._customer_number(order.buyer, order)
        had_unclear_create = entity.create_started_at is not None
        created = self._post_invoice(entity, booked, customer, terms)
        for code, message, hint in created.warnings:
            self.ctx.log(LogEntry.Level.WARNING, message, code=code, hint=hint, entity=entity)
        number = created.invoice.number
        self._save_reference(entity, number)
        if had_unclear_create:
            at = timezone.now() + timedelta(seconds=self.erp.commit_wait)
            self.recheck_at = at if self.recheck_at is None else max(self.recheck_at, at)
        self._check_totals(entity, booked, created.invoice)
        self.ctx.succeed(
            entity,
            f"Order {order.order_no} → {self.erp.name} {self._document} {number}",
            target_id=number,
            code=ORDER_INVOICED.code,
        )

    # exactly once ------------------------------------------------------------------
    def _live_numbers(self, order: Order) -> list[str]:
        terms = invoice_terms(order, self.settings)
        found = self.erp.live_invoices(
            reference=terms.reference, reference_field=terms.reference_field, document=terms.document
        )
        return [invoice.number for invoice in found]

    def _still_invoiced_twice(self, entity: Entity, kept: str) -> bool:
        """A retry of an order flagged as invoiced twice: it stays flagged while the extra invoice
        is live (only crediting it, or the ERP, clears the flag), so a retry never hides it."""
        order = read_stored_order(self.source, entity, self.settings)
        left_behind = superseded_invoices(entity)
        live = self._live_numbers(order)
        extra = [n for n in live if n != kept and n not in left_behind]
        if not extra:
            return False
        details = duplicate_details(entity) or {}
        self.ctx.fail(
            entity,
            SyncError(
                ORDER_DUPLICATE_INVOICE.code,
                f"Order {entity.reference} still has {len(extra) + 1} live invoices in {self.erp.name}: "
                f"{kept} (linked) and {', '.join(extra)} (extra)",
                hint=f"Press 'Credit the extra invoice' on the order to cancel or credit {', '.join(extra)}; "
                f"invoice {kept} stays linked.",
                details={**details, "kept": kept, "extra": extra, "live": live},
            ),
        )
        return True

    def _waits_for_commit(self, entity: Entity) -> bool:
        """An earlier create of this order got no clear answer and the ERP may still be
        committing it: until its commit wait has passed, a lookup cannot be trusted to
        show it, so the record waits (no attempt spent) instead of looking or creating."""
        if entity.create_unconfirmed_at is None:
            return False
        ready = entity.create_unconfirmed_at + timedelta(seconds=self.erp.commit_wait)
        remaining = (ready - timezone.now()).total_seconds()
        if remaining <= 0:
            return False
        self.ctx.wait(
            entity,
            seconds=remaining,
            code=ORDER_CREATE_UNCONFIRMED.code,
            message=f"Order {entity.reference}: the invoice create sent at "
            f"{timezone.localtime(entity.create_unconfirmed_at):%H:%M:%S} got no clear answer and "
            f"{self.erp.name} may still be saving it; nothing is created for the order before "
            f"{timezone.localtime(ready):%H:%M:%S}, when Brygga looks it up first",
        )
        return True

    def _find_earlier_invoice(self, entity: Entity, order: Order, terms: InvoiceTerms) -> Invoice | None:
        """A live invoice for the order already in the ERP, to link instead of creating one.

        Every record without a reference is looked up, except a brand-new one: the
        first attempt at an order Brygga never started invoicing and never linked
        (no create mark, no earlier attempt, no deleted reference) cannot have an
        invoice made by Brygga, and skipping the lookup keeps an order at one
        ERP call. Invoices staff chose to leave behind ("Create a new invoice
        anyway") are not linked again.
        """
        if not self.settings.look_up_new_orders and not may_have_invoice(entity):
            return None
        live = self.erp.live_invoices(
            reference=terms.reference, reference_field=terms.reference_field, document=terms.document
        )
        left_behind = superseded_invoices(entity)
        found = next((invoice for invoice in live if invoice.number not in left_behind), None)
        if found is None:
            return None
        # Made by an attempt that did not see it through (e.g. not released yet): finished now.
        found = self.erp.finish_invoice(found, terms=terms)
        if entity.create_started_at is not None:
            self.ctx.log(
                LogEntry.Level.INFO,
                f"Invoice {found.number} for order {order.order_no} already existed in "
                f"{self.erp.name} (an earlier attempt created it); it was linked, not created again",
                code=ORDER_INVOICE_FOUND.code,
                entity=entity,
            )
        else:
            self.ctx.log(
                LogEntry.Level.INFO,
                f"Order {order.order_no} had no reference, but {self.erp.name} has live invoice "
                f"{found.number} for it ({found.summary}); it was linked again and no invoice was "
                "created",
                code=ORDER_RELINKED.code,
                entity=entity,
                details={"invoice": found.number},
            )
        return found

    def _post_invoice(self, entity: Entity, booked: BookedOrder, customer: str, terms: InvoiceTerms) -> CreatedInvoice:
        """Create one invoice, with the intent written (committed) first.

        If we die, or the answer is lost, after the ERP created the invoice, the next attempt
        sees the marks: it waits out the commit wait, then looks the invoice up instead of
        creating one. A clear answer (created, or refused) clears the unconfirmed mark.
        """
        now = timezone.now()
        Entity.objects.filter(pk=entity.pk).update(create_started_at=now, create_unconfirmed_at=now)
        entity.create_started_at = entity.create_unconfirmed_at = now
        try:
            created = self.erp.create_invoice(booked=booked, customer=customer, terms=terms)
        except SyncError as exc:
            if not answer_lost(exc):
                Entity.objects.filter(pk=entity.pk).update(create_unconfirmed_at=None)
                entity.create_unconfirmed_at = None
                raise
            wait = self.erp.commit_wait
            raise SyncError(
                exc.code,
                f"{exc.message}. {self.erp.name} may still create the invoice for order {entity.reference}: "
                f"nothing is created for it before {timezone.localtime(now + timedelta(seconds=wait)):%H:%M:%S} "
                "(the connector's commit wait), and then Brygga looks it up before creating anything",
                hint=exc.hint,
                retry_after=wait,
                status=exc.status,
                details={**exc.details, "create_unconfirmed": True, "commit_wait_seconds": wait},
            ) from exc
        Entity.objects.filter(pk=entity.pk).update(create_unconfirmed_at=None)
        entity.create_unconfirmed_at = None
        return created

    def _save_reference(self, entity: Entity, number: str, *, origin: str = Reference.Origin.SYNC) -> None:
        if entity.create_unconfirmed_at is not None:  # linked by lookup: the create is settled
            Entity.objects.filter(pk=entity.pk).update(create_unconfirmed_at=None)
            entity.create_unconfirmed_at = None
        try:
            with transaction.atomic():
                Reference.objects.create(
                    integration=self.integration,
                    data_type=DATA_TYPE,
                    source_id=entity.source_id,
                    target_id=number,
                    origin=origin,
                )
        except IntegrityError:
            other = Reference.objects.get(integration=self.integration, data_type=DATA_TYPE, source_id=entity.source_id)
            if other.target_id != number:
                raise SyncError(
                    ORDER_DUPLICATE_TARGET.code,
                    f"Order {entity.reference} is already linked to invoice "
                    f"{other.target_id}, but invoice {number} was also found for it",
                    hint=f"Cancel the extra invoice in {self.erp.name}; the reference keeps the first one.",
                ) from None

    def _check_totals(self, entity: Entity, booked: BookedOrder, invoice: Invoice) -> None:
        ok, explanation = check_invoice(booked, invoice, erp=self.erp.name)
        order_no = booked.order.order_no
        if ok and explanation:  # e.g. VAT rounded per rate instead of per row: gross still exact
            self.ctx.log(
                LogEntry.Level.INFO, f"Order {order_no}: {explanation}", code=ORDER_VAT_ROUNDING.code, entity=entity
            )
        elif not ok:
            self.ctx.log(
                LogEntry.Level.WARNING,
                f"Order {order_no}: {explanation}",
                code=ORDER_TOTAL_MISMATCH.code,
                entity=entity,
                hint=f"Compare the invoice with the order; usually a rounding or VAT setting in {self.erp.name}.",
            )

    # customers ---------------------------------------------------------------------
    def _customer_key(self, party: Party) -> tuple[str, str, str]:
        """(reference key, match, value) for a buyer, per the flow's matching rules."""
        if party.kind == "company":
            match = self.settings.company_customer_match
            if match == "organisation_number" and party.organisation_number:
                return f"org:{party.organisation_number}", "organisation_number", party.organisation_number
            if match in ("organisation_number", "email") and party.email:
                return f"email:{party.email.lower()}", "email", party.email
        else:
            match = self.settings.private_customer_match
            if match == "email" and party.email:
                return f"email:{party.email.lower()}", "email", party.email
        if self.settings.default_customer_number:
            return "default", "", ""
        raise SyncError(
            ORDER_MISSING_DATA.code,
            f"The buyer ({party.display_name or 'no name'}) has no "
            f"{'organisation number or e-mail' if party.kind == 'company' else 'e-mail'} to find the customer by",
            hint="Add it to the order in the webshop, or set default_customer_number on the flow, then retry.",
        )

    def _customer_number(self, party: Party, order: Order) -> str:
        key, match, value = self._customer_key(party)
        if key == "default":
            return self.settings.default_customer_number
        ref = Reference.objects.filter(integration=self.integration, data_type=CUSTOMER, source_id=key).first()
        if ref is not None:
            return ref.target_id
        # One worker at a time per customer key, so a new buyer is created once. A lease on
        # the customer's Entity row, not a transaction: no lock is held while ERP calls
        # wait for the rate limit.
        lock_row, _ = Entity.objects.get_or_create(
            integration=self.integration,
            data_type=CUSTOMER,
            source_id=key,
            defaults={"reference": value, "label": party.display_name[:200]},
        )
        with self.ctx.holding(lock_row.pk):
            ref = Reference.objects.filter(integration=self.integration, data_type=CUSTOMER, source_id=key).first()
            if ref is not None:
                return ref.target_id
            found = self.erp.find_customer(match=match, value=value)
            if found is not None:
                number, origin = found, Reference.Origin.LOOKUP
            else:
                currency = order.currency or self.settings.currency
                number, origin = self.erp.create_customer(party=party, currency=currency), Reference.Origin.SYNC
            Reference.objects.create(
                integration=self.integration, data_type=CUSTOMER, source_id=key, target_id=number, origin=origin
            )
            Entity.objects.filter(pk=lock_row.pk).update(
                target_id=number, status=Entity.Status.SYNCED, synced_at=timezone.now(), payload={"key": key}
            )
        return number
