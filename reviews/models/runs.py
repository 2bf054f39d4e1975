"""Model endpoints, re-run jobs and their calls, and judge runs.

Only what the data model must say now: where a re-run transcript came from (one row per job,
scenario, endpoint and sample), what a judge label points at, and the leases and claim counts that
let a redelivered task take a job over (see reviews.services.reruns).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from clausebook.models import Workspace
from reviews.models.campaigns import Campaign


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
    # Per call, in seconds: the whole call, however slowly the answer drips in.
    timeout_seconds = models.PositiveSmallIntegerField(default=60)
    # Calls in flight at once, and calls started per minute (0: no limit), across all workers.
    concurrency = models.PositiveSmallIntegerField(default=8)
    rate_limit_per_minute = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name"], name="model_endpoint_name_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gte=1, timeout_seconds__lte=600),
                name="model_endpoint_timeout_range",
            ),
            models.CheckConstraint(
                condition=models.Q(concurrency__gte=1, concurrency__lte=256),
                name="model_endpoint_concurrency_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class RerunJob(models.Model):
    """Scenarios × endpoints × samples, run as model calls."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="rerun_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    samples = models.PositiveSmallIntegerField(default=1)
    parameters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # Results go straight into this campaign as items, when one was chosen.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The worker running the job holds it under a lease it renews; a lapsed lease lets a
    # redelivered task take the job over (see reviews.services.reruns).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Claims so far: a job whose worker died this many times (settings.RERUN_MAX_ATTEMPTS) is
    # failed rather than taken over again, so a job that kills its worker is not looped.
    attempts = models.PositiveSmallIntegerField(default=0)
    deadline_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)


class ModelRun(models.Model):
    """One call: one endpoint on one scenario, one sample. It is the identity of the transcript it
    produced, so a redelivered call finds its row and creates nothing twice."""

    job = models.ForeignKey(RerunJob, on_delete=models.CASCADE, related_name="runs")
    scenario = models.ForeignKey("transcripts.Scenario", on_delete=models.PROTECT, related_name="+")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="runs")
    sample_index = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    # Who holds the call and until when: a result is stored only by the holder of a live claim.
    lease_holder = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    transcript = models.OneToOneField(
        "transcripts.Transcript",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="model_run",
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job", "scenario", "endpoint", "sample_index"], name="model_run_identity"
            ),
            # A stored answer is a finished call: it is never called again.
            models.CheckConstraint(
                condition=models.Q(transcript__isnull=True) | models.Q(status="succeeded"),
                name="model_run_transcript_means_succeeded",
            ),
        ]
        indexes = [
            models.Index(
                fields=["job", "id"],
                condition=models.Q(status__in=["queued", "running"]),
                name="model_run_pending",
            )
        ]


class EndpointSlot(models.Model):
    """One of an endpoint's concurrent call slots, shared by every worker process (the database
    limiter in ``reviews.services.limiter``). A slot is held under a lease, so a killed worker's
    slot frees itself."""

    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.CASCADE, related_name="+")
    slot = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "slot"], name="endpoint_slot_unique")
        ]


class EndpointRateBucket(models.Model):
    """The token bucket of an endpoint's calls per minute, shared by every worker process."""

    endpoint = models.OneToOneField(
        ModelEndpoint, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    tokens = models.FloatField()
    refilled_at = models.DateTimeField()


class JudgeMode(models.TextChoices):
    PER_PAIR = "per_pair", "One call per (item, clause)"
    PER_ITEM = "per_item", "One call per item, all its clauses"


class JudgeRun(models.Model):
    """A model labeling a campaign's items against its clauses, with one prompt version."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="judge_runs")
    endpoint = models.ForeignKey(ModelEndpoint, on_delete=models.PROTECT, related_name="+")
    prompt_version = models.CharField(max_length=40)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # One call per (item, clause), or per item with all its clauses.
    mode = models.CharField(max_length=10, choices=JudgeMode.choices, default=JudgeMode.PER_PAIR)
    calls_total = models.PositiveIntegerField(default=0)
    calls_done = models.PositiveIntegerField(default=0)
    # Answers the schema refused (recorded as invalid, never guessed) and a few of them.
    invalid_count = models.PositiveIntegerField(default=0)
    invalid_sample = models.JSONField(default=list, blank=True)
    failed_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Tokens the endpoint reported for the run's answered calls (invalid answers cost tokens
    # too), totalled as they come in; a call whose endpoint reports no usage adds nothing.
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    # Held and renewed by the worker running it, like a re-run job's: a lapsed lease lets a
    # redelivered task (or the sweep) take the run over, up to RERUN_MAX_ATTEMPTS claims.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.endpoint} ({self.prompt_version})"
