"""Long-running work followed across tasks: Norce Connect import jobs and full-file resyncs."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from integrations.models.activity import Task
from integrations.models.setup import Flow, Integration


class ConnectJob(models.Model):
    """One asynchronous Norce Connect import: its JobId, what it carried, and how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued in Norce"
        RUNNING = "running", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        # Norce finished the job but some rows did not land (ignored or rejected).
        PARTLY_FAILED = "partly_failed", "Partly failed"
        FAILED = "failed", "Failed"
        VALIDATION_FAILED = "validation_failed", "Validation failed"

    FINISHED = (Status.SUCCEEDED, Status.PARTLY_FAILED, Status.FAILED, Status.VALIDATION_FAILED)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="connect_jobs")
    flow = models.ForeignKey(Flow, on_delete=models.SET_NULL, null=True, blank=True, related_name="connect_jobs")
    task = models.ForeignKey(Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="connect_jobs")
    job_id = models.CharField(max_length=40, help_text="Norce's JobId")
    method = models.CharField(max_length=60, help_text="e.g. Product/ImportProducts")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    status_id = models.IntegerField(null=True, blank=True, help_text="Norce's StatusId")
    full_file = models.BooleanField(default=False)
    item_count = models.PositiveIntegerField(default=0)
    header = models.JSONField(default=dict, blank=True, help_text="The X-StormConnect-Header sent")
    # Per record, in row order (row n of the job is sent[n-1]): [entity id, content hash,
    # {field: value sent}] — confirmed into the record once the job succeeds, so the next
    # change sends only what differs.
    sent = models.JSONField(default=list, blank=True)
    # The request body, gzipped, kept for restarts and audits (not kept for full files).
    request_body = models.BinaryField(null=True, blank=True, editable=False)
    inserts = models.PositiveIntegerField(default=0)
    updates = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    # What happened to the rows, once the job ended: written (inserted or updated), ignored
    # (accepted but skipped, e.g. a price for a SKU Norce does not have) and rejected (validation).
    rows_written = models.PositiveIntegerField(default=0)
    rows_ignored = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    messages = models.JSONField(default=list, blank=True, help_text="Norce's job log (warnings and errors)")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    checks = models.PositiveIntegerField(default=0)
    restarts = models.PositiveIntegerField(default=0)
    restarted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "Connect job"
        constraints = [models.UniqueConstraint(fields=["integration", "job_id"], name="one_row_per_connect_job")]

    def __str__(self) -> str:
        return f"{self.method} job {self.job_id}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def entity_ids(self) -> list[int]:
        """The records in the request, in row order."""
        return [row[0] for row in self.sent]


class ResyncRun(models.Model):
    """A full-file resync of one flow, checkpointed so an interrupted run resumes where it stopped."""

    class Status(models.TextChoices):
        READING = "reading", "Reading the source"
        SENDING = "sending", "Sending the full file"
        FOLLOWING = "following", "Waiting for the import job"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.READING, Status.SENDING, Status.FOLLOWING)

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="resync_runs")
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="resync_runs")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.READING, db_index=True)
    pages_done = models.PositiveIntegerField(default=0, help_text="Source pages read and spooled")
    total_pages = models.PositiveIntegerField(null=True, blank=True)
    items = models.PositiveIntegerField(default=0, help_text="Items spooled so far")
    spool_path = models.CharField(max_length=500, blank=True)
    spool_offset = models.BigIntegerField(default=0, help_text="Bytes of the spool file that are complete")
    # Field keys the spooled items set (listed in the full file's header).
    fields = models.JSONField(default=list, blank=True)
    # The ConnectJob rows of the full file (one per import method).
    job_ids = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "full-file resync"

    def __str__(self) -> str:
        return f"Full file #{self.pk} · {self.flow}"
