"""Resync master data from the ERP into the webshop (Norce), incrementally or as a full file.

    manage.py resync <integration> products|prices|stock|customers [--full] [--dry-run] [--since DATE]

Without --full: what changed since the Time History cursor (or --since) is read, and
what differs from Norce is sent in batches, then the jobs are followed to their end.
With --full: the whole catalogue goes to Norce as one FullFile import per method,
streamed in bounded memory. An interrupted full file resumes when run again.
--dry-run reads and maps, reports what would be sent (and deactivated), writes nothing.
"""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from core.errors import TASK_INTERRUPTED, TASK_UNFINISHED, SyncError
from core.ports import CATALOGUE_TARGET, MASTER_DATA_SOURCE
from integrations import resync, services
from integrations.flows import connect_jobs, master, products_first
from integrations.models import Entity, Flow, Integration, ResyncRun, Task

KINDS = {
    "products": "products_to_commerce",
    "prices": "prices_to_commerce",
    "stock": "stock_to_commerce",
    "customers": "customers_to_commerce",
}


class ProgressBar:
    """One line on stderr, redrawn at most twice a second: phase, bar, counts and rate."""

    def __init__(self, stream, enabled: bool = True) -> None:
        self.stream, self.enabled = stream, enabled
        self.last = 0.0

    def __call__(self, state: resync.RunProgress, *, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.5):
            return
        self.last = now
        elapsed = max(now - state.started, 1e-6)
        count = state.sent if state.phase == "sending" else state.items
        rate = count / elapsed
        if state.total_pages:
            share = min(1.0, state.pages_done / state.total_pages) if state.phase.startswith("reading") else 1.0
            bar = "#" * int(share * 30)
            line = f"[{bar:<30}] {share:4.0%} {state.phase:<10} page {state.pages_done}/{state.total_pages}"
        else:
            line = f"{state.phase:<10}"
        line += f"  {state.items:,} items read"
        if state.sent:
            line += f", {state.sent:,} sent"
        line += f"  {rate:,.0f} items/s"
        self.stream.write("\r" + line.ljust(110))
        self.stream.flush()


class Command(BaseCommand):
    help = "Resync products, prices, stock or customers from the ERP into the webshop (incremental or --full)."

    def add_arguments(self, parser):
        parser.add_argument("integration", help="integration id or name (or its merchant's slug)")
        parser.add_argument("data", choices=sorted(KINDS), help="what to resync")
        parser.add_argument("--full", action="store_true", help="send everything as a full file (FullFile=true)")
        parser.add_argument("--dry-run", action="store_true", help="report what would be sent; change nothing")
        parser.add_argument("--since", help="incremental from this date or moment instead of the cursor")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        integration = self._integration(options["integration"])
        kind = KINDS[options["data"]]
        flow = Flow.objects.filter(integration=integration, kind=kind).first()
        if flow is None:
            raise CommandError(f"{integration} has no {options['data']} flow; add it in admin first")
        if options["full"] and options["since"]:
            raise CommandError("--since applies to incremental resyncs; a full file always reads everything")
        since = self._since(options["since"]) if options["since"] else None
        settings = master.parse_flow_settings(flow)
        progress = ProgressBar(sys.stderr, enabled=not options["no_progress"])

        if options["dry_run"]:
            task = Task(integration=integration, flow=flow, trigger=Task.Trigger.RESYNC)  # not saved
            ctx = services.FlowContext(task=task)
            report = resync.dry_run(
                flow,
                settings,
                ctx.port(MASTER_DATA_SOURCE),
                ctx.port(CATALOGUE_TARGET),
                full=options["full"],
                since=since,
                progress=progress,
            )
            self._print_dry_run(report, full=options["full"])
            return

        task = resync.command_task(
            flow, {"mode": "full" if options["full"] else "incremental", "since": since.isoformat() if since else None}
        )
        ctx = services.FlowContext(task=task)
        error: SyncError | None = None
        try:
            if options["full"]:
                self._full(ctx, flow, settings, progress)
            else:
                self._incremental(ctx, flow, settings, since, progress)
        except SyncError as exc:
            error = exc
        except KeyboardInterrupt:
            error = SyncError(TASK_INTERRUPTED.code, "Interrupted; run the same command again to resume")
            raise
        finally:
            sys.stderr.write("\n")
            services._finish(Task.objects.get(pk=task.pk), ctx, error)
        if error:
            raise CommandError(f"[{error.code}] {error.message}" + (f" — {error.hint}" if error.hint else ""))

    # -- modes -------------------------------------------------------------------------------
    def _full(self, ctx, flow, settings, progress) -> None:
        target, source = master.catalogue_target(ctx, flow), ctx.port(MASTER_DATA_SOURCE)
        resumed = resync.active_run(flow)
        if resumed:
            self.stdout.write(
                f"Resuming full file #{resumed.pk} ({resumed.status}, {resumed.pages_done} page(s), "
                f"{resumed.items:,} items spooled)"
            )
        run = resync.full_file(ctx, flow, settings, target, source, progress=progress)
        if run.status in ResyncRun.ACTIVE:
            raise SyncError(TASK_UNFINISHED.code, f"Full file #{run.pk} is still {run.status}; run again to continue")
        jobs = ", ".join(str(j) for j in run.job_ids)
        self.stdout.write(
            f"\nFull file #{run.pk} {run.status}: {run.items:,} items in {run.pages_done} page(s); job row(s) {jobs}"
        )
        if run.status == ResyncRun.Status.FAILED:
            raise SyncError(
                target.job_failed_code,
                run.error or "the import job failed",
                hint="Restart the job from the Connect jobs list in admin, or run the full file again.",
            )

    def _incremental(self, ctx, flow, settings, since, progress) -> None:
        target = master.catalogue_target(ctx, flow)
        state = resync.RunProgress(phase="reading")
        stats = master.collect(ctx, flow, settings, since=since)
        state.items = stats.read
        progress(state, final=True)
        self.stdout.write(
            f"\nRead {stats.read:,}: {stats.changed:,} changed, {stats.unchanged:,} unchanged, "
            f"{stats.failed:,} with errors"
        )
        state.phase = "sending"
        sent = 0
        while products_first.sendable(flow).exists():
            sent += master.send_pending(ctx, flow, settings, target)
            state.sent = sent
            progress(state)
        state.phase = "following"
        progress(state, final=True)
        deadline = time.monotonic() + 3600
        while connect_jobs.follow(ctx, flow, target, wait=30) and time.monotonic() < deadline:
            pass
        failed = Entity.objects.filter(
            integration=flow.integration,
            data_type=flow.data_type,
            payload__flow_id=flow.pk,
            status__in=[Entity.Status.NEEDS_ATTENTION, Entity.Status.FAILED],
        ).count()
        self.stdout.write(
            f"\nSent {sent:,} record(s); {ctx.succeeded:,} confirmed by {target.name}, {failed:,} need attention"
        )

    # -- helpers -----------------------------------------------------------------------------
    def _print_dry_run(self, report: resync.DryRunReport, *, full: bool) -> None:
        sys.stderr.write("\n")
        self.stdout.write(f"Dry run ({'full file' if full else 'incremental'}): nothing was sent or changed.")
        self.stdout.write(f"  read from the ERP:     {report.read:,}")
        self.stdout.write(f"  would send:            {report.would_send:,}")
        for method, count in sorted(report.by_method.items()):
            self.stdout.write(f"    {method}: {count:,}")
        if not full:
            self.stdout.write(f"  unchanged (not sent):  {report.unchanged:,}")
        self.stdout.write(f"  with errors:           {report.errors:,}")
        for sample in report.error_samples:
            self.stdout.write(f"    {sample}")
        self.stdout.write(f"  fields listed:         {', '.join(sorted(report.fields)) or '-'}")
        if full:
            value = "unknown" if report.would_deactivate is None else f"{report.would_deactivate:,}"
            self.stdout.write(f"  would deactivate:      {value} ({report.deactivate_basis})")

    @staticmethod
    def _integration(value: str) -> Integration:
        query = Q(name__iexact=value) | Q(merchant__slug__iexact=value)
        if value.isdigit():
            query |= Q(pk=int(value))
        matches = list(Integration.objects.filter(query)[:2])
        if len(matches) != 1:
            raise CommandError(
                f"No single integration matches {value!r}"
                if not matches
                else f"Several integrations match {value!r}; use its id"
            )
        return matches[0]

    @staticmethod
    def _since(value: str):
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value)
            if day is None:
                raise CommandError(f"--since: not a date or moment: {value!r}")
            moment = timezone.datetime(day.year, day.month, day.day)
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment
