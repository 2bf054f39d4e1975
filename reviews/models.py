"""Transcripts, imports, campaigns, assignments, labels, discussion, adjudication, gold,
model endpoints and re-runs."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.utils import timezone

from clausebook.models import Workspace


class TranscriptImport(models.Model):
    """One bulk import of a file. Its counters drive the live progress bar."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

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
    filename = models.CharField(max_length=255, blank=True)
    stored_path = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    source = models.CharField(
        max_length=120, blank=True, help_text="Where the transcripts came from."
    )
    tags = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    id_prefix = models.CharField(max_length=60, blank=True)
    idempotency_key = models.CharField(max_length=128, blank=True)
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

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.size_bytes:
            return 0
        return min(99, int(100 * self.bytes_read / self.size_bytes))


class TranscriptQuerySet(models.QuerySet["Transcript"]):
    def in_workspace(self, workspace: Workspace) -> TranscriptQuerySet:
        return self.filter(workspace=workspace)


class Transcript(models.Model):
    """A model conversation. ``content_hash`` covers the messages only, so the same
    conversation imported twice (from any file) is stored once per workspace."""

    # No index of its own: the unique (workspace, content_hash) index serves workspace lookups,
    # and every index costs time on bulk import.
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="transcripts", db_index=False
    )
    messages = models.JSONField()
    message_count = models.PositiveIntegerField(default=0)
    content_hash = models.CharField(max_length=64)
    external_id = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=120, blank=True)
    model = models.CharField(max_length=120, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    tags = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    import_run = models.ForeignKey(
        TranscriptImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="transcripts",
    )
    pair_key = models.CharField(
        max_length=120, blank=True, help_text="Links a chosen/rejected pair."
    )
    variant = models.CharField(max_length=20, blank=True)
    # Indexed by partial indexes in Meta: most transcripts have no origin.
    origin_scenario = models.ForeignKey(
        "specs.Scenario",
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
                fields=["workspace", "content_hash"], name="transcript_content_unique"
            ),
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=~models.Q(external_id=""),
                name="transcript_external_id_unique",
            ),
        ]
        indexes = [
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


class Campaign(models.Model):
    """A review programme: a published spec version, clauses in scope, transcripts, k reviewers per item."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="campaigns")
    title = models.CharField(max_length=200)
    spec_version = models.ForeignKey(
        "specs.SpecVersion", on_delete=models.PROTECT, related_name="campaigns"
    )
    clauses = models.ManyToManyField(
        "specs.Clause", through="CampaignClause", related_name="campaigns"
    )
    scope_description = models.CharField(max_length=300, blank=True)
    reviewers_per_item = models.PositiveSmallIntegerField(default=2)
    blind = models.BooleanField(default=True)
    instructions = models.TextField(blank=True)
    verdict_scale = models.JSONField(default=list)
    severity_scale = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    item_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reviewers_per_item__gte=1, reviewers_per_item__lte=20),
                name="campaign_k_range",
            )
        ]

    def __str__(self) -> str:
        return self.title


class CampaignClause(models.Model):
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="campaign_clauses"
    )
    clause = models.ForeignKey("specs.Clause", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "clause"], name="campaign_clause_unique")
        ]
        ordering = ["campaign_id", "position"]


class CampaignReviewer(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reviewers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="campaign_seats"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="campaign_reviewer_unique")
        ]


class ItemState(models.TextChoices):
    OPEN = "open", "Open"
    AGREED = "agreed", "Agreed"
    DISPUTED = "disputed", "Disputed"
    ADJUDICATED = "adjudicated", "Adjudicated"


class Item(models.Model):
    """A transcript inside a campaign. ``open_slots`` counts assignments still to hand out;
    the claim query walks a partial index of items with open slots."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    transcript = models.ForeignKey(Transcript, on_delete=models.PROTECT, related_name="items")
    position = models.PositiveIntegerField()
    state = models.CharField(max_length=12, choices=ItemState.choices, default=ItemState.OPEN)
    open_slots = models.PositiveSmallIntegerField()
    submitted_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "transcript"], name="item_transcript_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(open_slots__gte=0), name="item_open_slots_nonnegative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "position"],
                condition=models.Q(open_slots__gt=0),
                name="item_claimable",
            ),
        ]


class Assignment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "In progress"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="assignments")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    skip_reason = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="assignment_unique")
        ]
        indexes = [models.Index(fields=["reviewer", "status"], name="assignment_queue")]


class Label(models.Model):
    """One reviewer's judgment of one item against one clause. Never shared between reviewers."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="labels")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labels"
    )
    clause = models.ForeignKey("specs.Clause", on_delete=models.PROTECT, related_name="labels")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="labels")
    verdict = models.CharField(max_length=40, blank=True)
    severity = models.CharField(max_length=40, blank=True)
    rationale = models.TextField(blank=True)
    spans = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    revision = models.PositiveIntegerField(
        default=1, help_text="Optimistic lock: bumped on every save."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer", "clause"], name="label_unique")
        ]
        indexes = [models.Index(fields=["clause", "status"], name="label_clause")]


class Comment(models.Model):
    """Discussion on a disputed item or an amendment. Markdown, rendered sanitized."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="comments")
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, null=True, blank=True, related_name="comments"
    )
    amendment = models.ForeignKey(
        "specs.Amendment", on_delete=models.CASCADE, null=True, blank=True, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField()
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in"
    )
    revision = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(item__isnull=False) ^ models.Q(amendment__isnull=False),
                name="comment_has_one_subject",
            )
        ]


class Adjudication(models.Model):
    """The settled (gold) verdict for an item and clause."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="adjudications")
    clause = models.ForeignKey(
        "specs.Clause", on_delete=models.PROTECT, related_name="adjudications"
    )
    verdict = models.CharField(max_length=40)
    severity = models.CharField(max_length=40, blank=True)
    rationale = models.TextField()
    adjudicator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    resolved_labels = models.ManyToManyField(Label, blank=True, related_name="adjudications")
    revision = models.PositiveIntegerField(default=1)
    finalized = models.BooleanField(default=False)
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "clause"], name="adjudication_unique")
        ]


class GoldExample(models.Model):
    """What export reads: a finalized adjudication with its provenance frozen."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="gold_examples")
    adjudication = models.OneToOneField(Adjudication, on_delete=models.PROTECT, related_name="gold")
    transcript = models.ForeignKey(
        Transcript, on_delete=models.PROTECT, related_name="gold_examples"
    )
    clause = models.ForeignKey(
        "specs.Clause", on_delete=models.PROTECT, related_name="gold_examples"
    )
    verdict = models.CharField(max_length=40)
    rationale = models.TextField()
    labels_snapshot = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)


class ModelEndpoint(models.Model):
    """An OpenAI-compatible chat completions endpoint. The secret is write-only."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="model_endpoints"
    )
    name = models.CharField(max_length=120)
    base_url = models.URLField(max_length=500)
    model = models.CharField(max_length=120)
    parameters = models.JSONField(default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True)
    secret_hint = models.CharField(max_length=8, blank=True)
    allow_private_network = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="model_endpoint_name_unique")
        ]


class RerunJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="rerun_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    scenarios = models.ManyToManyField("specs.Scenario", related_name="rerun_jobs")
    endpoints = models.ManyToManyField(ModelEndpoint, related_name="rerun_jobs")
    samples = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_runs = models.PositiveIntegerField(default=0)
    done_runs = models.PositiveIntegerField(default=0)
    failed_runs = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)


class ModelRun(models.Model):
    """One call of one endpoint on one scenario; the idempotency key makes redelivery a no-op."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(RerunJob, on_delete=models.CASCADE, related_name="runs")
    scenario = models.ForeignKey("specs.Scenario", on_delete=models.CASCADE, related_name="runs")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="runs")
    sample_index = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=128, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    transcript = models.ForeignKey(
        Transcript, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)


class PublicReport(models.Model):
    """A report from outside about the published spec; it feeds the review queue."""

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="public_reports"
    )
    spec = models.ForeignKey("specs.Spec", on_delete=models.CASCADE, related_name="public_reports")
    clause_key = models.CharField(max_length=120, blank=True)
    body = models.TextField()
    contact_email = models.EmailField(blank=True)
    transcript = models.ForeignKey(
        Transcript, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    triaged = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
