"""Model endpoints, re-run jobs and their calls, and judge runs.

Only what the data model must say now: where a re-run transcript came from (one row per job,
scenario, endpoint and sample) and what a judge label points at. The jobs themselves come later.
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
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="model_endpoint_name_unique")
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
    created_at = models.DateTimeField(default=timezone.now)
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
            )
        ]


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

    def __str__(self) -> str:
        return f"{self.endpoint} ({self.prompt_version})"
