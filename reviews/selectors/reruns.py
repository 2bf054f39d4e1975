"""Reads for re-run jobs: progress and totals for the job page, the API and the CLI, and the
comparison of two jobs' labeled results."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404

from clausebook.models import Workspace
from reviews.models import JobStatus, Label, LabelSource, ModelEndpoint, ModelRun, RerunJob

FINISHED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
#: Distinct error messages shown per endpoint, most frequent first.
ERRORS_SHOWN = 5


def rerun_job_in_workspace(workspace: Workspace, job_id: int) -> RerunJob:
    """The workspace's job, or 404: a job is never found by its id alone."""
    job = (
        RerunJob.objects.select_related("workspace", "created_by", "campaign")
        .filter(workspace=workspace, pk=job_id)
        .first()
    )
    if job is None:
        raise Http404("No such re-run job")
    return job


def rerun_jobs_queryset(workspace: Workspace) -> QuerySet[RerunJob]:
    """The workspace's re-run jobs, newest first, with their number of calls."""
    return (
        RerunJob.objects.filter(workspace=workspace)
        .select_related("created_by")
        .annotate(run_count=Count("runs"))
        .order_by("-pk")
    )


def rerun_jobs_in_workspace(workspace: Workspace, *, limit: int = 50) -> list[RerunJob]:
    return list(rerun_jobs_queryset(workspace)[:limit])


@dataclass
class EndpointProgress:
    endpoint_id: int
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return sum(self.counts.get(status, 0) for status in FINISHED)


@dataclass
class JobProgress:
    job: RerunJob
    endpoints: list[EndpointProgress]

    @property
    def total(self) -> int:
        return sum(e.total for e in self.endpoints)

    @property
    def done(self) -> int:
        return sum(e.done for e in self.endpoints)

    @property
    def succeeded(self) -> int:
        return sum(e.counts.get(JobStatus.SUCCEEDED, 0) for e in self.endpoints)

    @property
    def failed(self) -> int:
        return sum(e.counts.get(JobStatus.FAILED, 0) for e in self.endpoints)

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.done / self.total)

    @property
    def prompt_tokens(self) -> int:
        return sum(e.prompt_tokens for e in self.endpoints)

    @property
    def completion_tokens(self) -> int:
        return sum(e.completion_tokens for e in self.endpoints)

    @property
    def is_active(self) -> bool:
        return self.job.status in (JobStatus.QUEUED, JobStatus.RUNNING)


def rerun_job_progress(*, job: RerunJob) -> JobProgress:
    """Counts by status, token totals and the commonest errors, per endpoint: three queries."""
    rows = (
        ModelRun.objects.filter(job=job)
        .values("endpoint_id", "status")
        .annotate(
            n=Count("id"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
        )
    )
    names = dict(ModelEndpoint.objects.filter(runs__job=job).distinct().values_list("pk", "name"))
    by_endpoint: dict[int, EndpointProgress] = {}
    for row in rows:
        progress = by_endpoint.setdefault(
            row["endpoint_id"],
            EndpointProgress(row["endpoint_id"], names.get(row["endpoint_id"], "?")),
        )
        progress.counts[row["status"]] = row["n"]
        progress.prompt_tokens += row["prompt"] or 0
        progress.completion_tokens += row["completion"] or 0
    errors = (
        ModelRun.objects.filter(job=job)
        .exclude(error="")
        .values("endpoint_id", "error")
        .annotate(n=Count("id"))
        .order_by("endpoint_id", "-n", "error")
    )
    for row in errors:
        progress = by_endpoint.get(row["endpoint_id"])
        if progress is not None and len(progress.errors) < ERRORS_SHOWN:
            progress.errors.append((row["error"], row["n"]))
    return JobProgress(job=job, endpoints=sorted(by_endpoint.values(), key=lambda e: e.name))


@dataclass
class ClauseComparison:
    clause_key: str
    before: dict[str, int]
    after: dict[str, int]

    @property
    def before_total(self) -> int:
        return sum(self.before.values())

    @property
    def after_total(self) -> int:
        return sum(self.after.values())


@dataclass
class ChangedVerdict:
    scenario_id: int
    scenario_title: str
    clause_key: str
    before: str
    after: str


@dataclass
class JobComparison:
    before: RerunJob
    after: RerunJob
    clauses: list[ClauseComparison]
    changed: list[ChangedVerdict]
    #: Every verdict given on either side, commonest first: one order for both columns.
    verdicts: list[str]
    #: Each job's answered calls, and how many of those answers have a submitted label.
    before_results: int
    before_labeled: int
    after_results: int
    after_labeled: int


def _majority(counter: Counter[str]) -> str:
    """The most given verdict; a tie is shown as the tied verdicts joined, never picked."""
    if not counter:
        return ""
    top = max(counter.values())
    return " / ".join(sorted(v for v, n in counter.items() if n == top))


def rerun_jobs_compare(*, before: RerunJob, after: RerunJob) -> JobComparison:
    """Per clause (by key, so two spec versions line up), the verdicts reviewers submitted on
    each job's results side by side; and the (scenario, clause) pairs whose majority verdict
    differs between the jobs (pairs labeled in only one job are not "changed"). Judge labels
    and drafts never count. Three queries: the labels, the labeled results, the answers."""
    if before.workspace_id != after.workspace_id:
        raise Http404("No such re-run job")
    jobs = [before.pk, after.pk]
    counted = Label.objects.filter(
        source=LabelSource.HUMAN,
        status=Label.Status.SUBMITTED,
        item__transcript__model_run__job_id__in=jobs,
    ).exclude(Q(verdict=""))
    rows = counted.values(
        "item__transcript__model_run__job_id",
        "item__transcript__model_run__scenario_id",
        "item__transcript__model_run__scenario__title",
        "clause__key",
        "verdict",
    ).annotate(n=Count("id"))
    totals: dict[str, dict[int, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    per_scenario: dict[tuple[int, str], dict[int, Counter[str]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    titles: dict[int, str] = {}
    overall: Counter[str] = Counter()
    for row in rows:
        job_id = row["item__transcript__model_run__job_id"]
        key = row["clause__key"]
        totals[key][job_id][row["verdict"]] += row["n"]
        scenario = row["item__transcript__model_run__scenario_id"]
        titles[scenario] = row["item__transcript__model_run__scenario__title"]
        per_scenario[(scenario, key)][job_id][row["verdict"]] += row["n"]
        overall[row["verdict"]] += row["n"]
    verdicts = [v for v, _ in sorted(overall.items(), key=lambda vn: (-vn[1], vn[0]))]

    def ordered(counter: Counter[str]) -> dict[str, int]:
        return {v: counter[v] for v in verdicts if counter[v]}

    clauses = [
        ClauseComparison(
            clause_key=key,
            before=ordered(by_job.get(before.pk, Counter())),
            after=ordered(by_job.get(after.pk, Counter())),
        )
        for key, by_job in sorted(totals.items())
    ]
    changed = []
    for (scenario, key), by_job in sorted(per_scenario.items()):
        if before.pk in by_job and after.pk in by_job:
            old, new = _majority(by_job[before.pk]), _majority(by_job[after.pk])
            if old != new:
                changed.append(ChangedVerdict(scenario, titles[scenario], key, old, new))
    labeled = dict(
        counted.values("item__transcript__model_run__job_id")
        .annotate(n=Count("item__transcript_id", distinct=True))
        .values_list("item__transcript__model_run__job_id", "n")
    )
    results = dict(
        ModelRun.objects.filter(job_id__in=jobs, transcript__isnull=False)
        .values("job_id")
        .annotate(n=Count("id"))
        .values_list("job_id", "n")
    )
    return JobComparison(
        before=before,
        after=after,
        clauses=clauses,
        changed=changed,
        verdicts=verdicts,
        before_results=results.get(before.pk, 0),
        before_labeled=labeled.get(before.pk, 0),
        after_results=results.get(after.pk, 0),
        after_labeled=labeled.get(after.pk, 0),
    )
