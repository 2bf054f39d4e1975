"""Gold export runs: one row per export a member asked for, its progress and its file."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clausebook.models import Workspace


class ExportFormat(models.TextChoices):
    JSONL = "jsonl", "JSON Lines"
    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"
    PAIRS = "pairs", "Preference pairs (JSON Lines)"


class GoldExport(models.Model):
    """One export of a workspace's gold, run by a worker.

    The row is the job: created ``queued`` with the filters it was asked for, claimed by a
    conditional UPDATE (``queued`` → ``running``), counted as it writes (``rows_written`` of
    ``total_rows``, which the page's progress bar polls), and finished ``succeeded`` with the
    file's name under the export folder, or ``failed`` with a reason. The file is only ever
    served through a signed, expiring link to a member with the export right. A running export
    holds a lease its worker's heartbeat renews; a worker that died leaves it lapsed, and the
    sweep (``reviews.sweep_exports``) fails the export saying so.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Ready"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict, blank=True)
    include_emails = models.BooleanField(
        default=False, help_text="Reviewers by email instead of pseudonym (admins only)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    file_name = models.CharField(
        max_length=200, blank=True, help_text="Relative to the export folder (GOLD_EXPORT_DIR)."
    )
    size_bytes = models.BigIntegerField(default=0)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While running: renewed by the worker's heartbeat; in the past, nobody is.",
    )

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "id"], name="goldexport_workspace_id"),
            # The sweep's query: running exports whose lease lapsed.
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status="running"),
                name="goldexport_running_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"gold export {self.pk} ({self.format})"

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.total_rows:
            return 0
        return min(99, self.rows_written * 100 // self.total_rows)
