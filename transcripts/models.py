"""Transcripts, their bulk imports, and scenarios (conversation prefixes to re-run)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone

from clausebook.models import Workspace
from transcripts.formats.limits import (
    MAX_EXTERNAL_ID,
    MAX_FILENAME,
    MAX_ID_PREFIX,
    MAX_IDEMPOTENCY_KEY,
    MAX_MODEL,
    MAX_PAIR_KEY,
    MAX_SOURCE,
    MAX_TAG,
    MAX_VARIANT,
)


class TranscriptImport(models.Model):
    """One bulk import of a file. Its counters drive the live progress bar.

    A worker holds an import under a lease: claiming it sets ``lease_expires_at`` and the running
    import renews it (see ``transcripts.importing.lease``). An import whose lease ran out was
    abandoned by its worker (killed, out of memory, machine gone); the periodic sweep
    (``transcripts.services.recovery``) queues it again, up to a number of ``attempts``, or fails
    it with a reason. While queued, ``lease_expires_at`` is when a worker should have claimed it.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Failure(models.TextChoices):
        """Why a failed import failed; it decides whether a retry can help."""

        REJECTED = "rejected", "Rows were rejected"
        FORMAT = "format", "The file could not be read"
        STOPPED = "stopped", "The import stopped"
        ERROR = "error", "Unexpected error"
        EXPIRED = "expired", "No worker started it"

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
        VALID_ROWS = "valid_rows", "Import valid rows, report the rest"

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="transcript_imports"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    format = models.CharField(max_length=30, blank=True)
    filename = models.CharField(max_length=MAX_FILENAME, blank=True)
    stored_path = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    source = models.CharField(
        max_length=MAX_SOURCE, blank=True, help_text="Where the transcripts came from."
    )
    tags = ArrayField(models.CharField(max_length=MAX_TAG), default=list, blank=True)
    id_prefix = models.CharField(max_length=MAX_ID_PREFIX, blank=True)
    idempotency_key = models.CharField(max_length=MAX_IDEMPOTENCY_KEY, blank=True)
    bytes_read = models.BigIntegerField(default=0)
    rows_seen = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    scenario_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="First rejected rows: line, field, message."
    )
    error_message = models.TextField(blank=True)
    failure = models.CharField(max_length=10, choices=Failure.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Worker runs since the import was last queued by a person."
    )
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="transcript_import_idempotency",
            )
        ]
        indexes = [
            # The sweep's two questions, asked every minute: whose lease ran out, and which
            # failed imports still keep an upload.
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status__in=["queued", "running"]),
                name="transcript_import_lease",
            ),
            models.Index(
                fields=["finished_at"],
                condition=models.Q(status="failed") & ~models.Q(stored_path=""),
                name="transcript_import_kept_upload",
            ),
        ]

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.size_bytes:
            return 0
        return min(99, int(100 * self.bytes_read / self.size_bytes))

    @property
    def is_active(self) -> bool:
        """Queued or running: the page keeps polling."""
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def can_retry(self) -> bool:
        """Failed for a reason a second run may not meet, with its upload still kept."""
        return (
            self.status == self.Status.FAILED
            and bool(self.stored_path)
            and self.failure in (self.Failure.STOPPED, self.Failure.ERROR)
        )

    @property
    def can_retry_valid_rows(self) -> bool:
        """Refused all-or-nothing for bad rows, upload kept: it can import the valid rows."""
        return (
            self.status == self.Status.FAILED
            and bool(self.stored_path)
            and self.failure == self.Failure.REJECTED
            and self.mode == self.Mode.ALL_OR_NOTHING
        )


class TranscriptQuerySet(models.QuerySet["Transcript"]):
    def in_workspace(self, workspace: Workspace) -> TranscriptQuerySet:
        return self.filter(workspace=workspace)


class TranscriptOrigin(models.TextChoices):
    IMPORT = "import", "Imported"
    RERUN = "rerun", "Model re-run"


class Transcript(models.Model):
    """A model conversation.

    Identity depends on where it came from. An imported transcript is identified by its content:
    ``content_hash`` covers the messages only, so the same conversation imported twice (from any
    file) is stored once per workspace. A re-run transcript is identified by what produced it (the
    re-run call in ``reviews.ModelRun``, unique per job, scenario, endpoint and sample), so two
    models giving the same answer are two transcripts.
    """

    # No single-column index: every index costs time on bulk import. The partial unique index on
    # (workspace, content_hash) serves the import's duplicate checks (imports only); the
    # (workspace, id) index in Meta serves the workspace's lists, pages and counts, and the
    # foreign key's own lookups.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="transcripts", db_index=False
    )
    messages = models.JSONField()
    message_count = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64)
    external_id = models.CharField(max_length=MAX_EXTERNAL_ID, blank=True)
    source = models.CharField(max_length=MAX_SOURCE, blank=True)
    model = models.CharField(max_length=MAX_MODEL, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=MAX_TAG), default=list, blank=True)
    import_run = models.ForeignKey(
        TranscriptImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transcripts",
    )
    pair_key = models.CharField(
        max_length=MAX_PAIR_KEY, blank=True, help_text="Links a chosen/rejected pair."
    )
    variant = models.CharField(max_length=MAX_VARIANT, blank=True)
    origin = models.CharField(
        max_length=8, choices=TranscriptOrigin.choices, default=TranscriptOrigin.IMPORT
    )
    # Indexed by partial indexes in Meta: most transcripts have no origin.
    origin_scenario = models.ForeignKey(
        "transcripts.Scenario",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transcripts",
        db_index=False,
    )
    origin_transcript = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reruns",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = TranscriptQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "content_hash"],
                condition=models.Q(origin="import"),
                name="transcript_content_unique",
            ),
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=~models.Q(external_id=""),
                name="transcript_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "id"], name="transcript_workspace_id"),
            GinIndex(fields=["tags"], name="transcript_tags"),
            models.Index(
                fields=["workspace", "pair_key"],
                condition=~models.Q(pair_key=""),
                name="transcript_pair",
            ),
            models.Index(
                fields=["origin_scenario"],
                condition=models.Q(origin_scenario__isnull=False),
                name="transcript_origin_scenario",
            ),
            models.Index(
                fields=["origin_transcript"],
                condition=models.Q(origin_transcript__isnull=False),
                name="transcript_origin_transcript",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id or f"transcript {self.pk}"


class Scenario(models.Model):
    """A conversation prefix to run a model on.

    It comes from one of: a spec's eval prompt, a spec example's prompt, a transcript cut before
    one of its assistant turns, or an imported prompt set (MT-Bench). The spec objects it points at
    are spec content; the scenario itself is workspace data that re-runs read.
    """

    class Source(models.TextChoices):
        EVAL_PROMPT = "eval_prompt", "Spec eval prompt"
        EXAMPLE = "example", "Spec example"
        TRANSCRIPT = "transcript", "Truncated transcript"
        IMPORT = "import", "Imported prompt"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="scenarios")
    source = models.CharField(max_length=12, choices=Source.choices)
    eval_prompt = models.ForeignKey(
        "specs.EvalPrompt",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="scenarios",
    )
    example = models.ForeignKey(
        "specs.Example", on_delete=models.PROTECT, null=True, blank=True, related_name="scenarios"
    )
    origin_transcript = models.ForeignKey(
        Transcript,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="derived_scenarios",
    )
    cut_before_turn = models.PositiveIntegerField(
        null=True, blank=True, help_text="Index of the assistant message the prefix stops before."
    )
    import_run = models.ForeignKey(
        TranscriptImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scenarios",
    )
    title = models.TextField(blank=True)
    messages = models.JSONField(default=list)
    content_hash = models.CharField(max_length=64)
    external_id = models.CharField(max_length=MAX_EXTERNAL_ID, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "content_hash"], name="scenario_content_unique"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        source="eval_prompt",
                        eval_prompt__isnull=False,
                        example__isnull=True,
                        origin_transcript__isnull=True,
                    )
                    | models.Q(
                        source="example",
                        example__isnull=False,
                        eval_prompt__isnull=True,
                        origin_transcript__isnull=True,
                    )
                    | models.Q(
                        source="transcript",
                        origin_transcript__isnull=False,
                        cut_before_turn__isnull=False,
                        eval_prompt__isnull=True,
                        example__isnull=True,
                    )
                    | models.Q(
                        source="import",
                        eval_prompt__isnull=True,
                        example__isnull=True,
                        origin_transcript__isnull=True,
                    )
                ),
                name="scenario_source_matches_link",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.external_id or f"scenario {self.pk}"


class ScenarioFlag(models.Model):
    """Someone asked for a scenario to be re-run, and said why. Kept after the re-run."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="flags")
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="scenario_flags"
    )
    reason = models.TextField()
    # The clause the flag is about, when it was raised on an (item, clause) pair; None for the
    # whole transcript. PROTECT: a flag is evidence of why a re-run was asked for.
    clause = models.ForeignKey(
        "specs.Clause", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The transcript the flag was raised on (the scenario may be shared by several, or come
    # from an import). Campaign and item are not kept here: transcripts never refer to reviews.
    transcript = models.ForeignKey(
        Transcript, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["scenario"],
                condition=models.Q(resolved_at__isnull=True),
                name="scenario_flag_open",
            )
        ]
