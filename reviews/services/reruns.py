"""Re-run jobs: scenarios × endpoints × samples, called concurrently inside one worker.

Contracts
---------
* :func:`rerun_job_create` checks everything up front (the ``reruns.run`` right, scenarios,
  endpoints and campaign in the workspace, samples, parameters), writes the job and all its
  ``ModelRun`` rows in one transaction and enqueues ``reviews.run_rerun_job`` with the job's id
  only (never a secret) on commit.
* :func:`rerun_job_run` claims the job with a conditional UPDATE (queued, or running under a
  lapsed lease: the worker that had it died) and runs its calls on a thread pool. Threads only
  make HTTP calls; the calling thread does all database work on its one connection, in batches:
  a job's calls cost a few statements per batch, not several round trips per call.
* Each call is idempotent by its ``ModelRun`` row: runs are claimed a batch at a time with one
  ``UPDATE … WHERE transcript_id IS NULL AND (queued OR lease lapsed) … RETURNING`` under a
  lease this worker renews, and answers are stored a batch at a time (every
  :data:`WRITE_BATCH` answers, :data:`WRITE_SECONDS`, or when nothing else is in flight): one
  transaction inserts the transcripts (``origin=rerun``) and marks their runs succeeded, only
  for runs whose claim is still this worker's. A run with a transcript is never called again;
  a redelivery creates nothing twice.
* Each endpoint's ``concurrency`` and ``rate_limit_per_minute`` hold across all workers
  (``reviews.services.limiter``): the job holds up to ``concurrency`` slots of an endpoint for as
  long as it has calls for it, and spends a rate token per call. 429 (after ``Retry-After``),
  5xx, unreachable and timeouts are retried with capped exponential backoff and jitter, up to
  :data:`MAX_ATTEMPTS` calls; other errors (400/401/…, blocked address, oversized or invalid answers) end the run at once.
* The job's deadline ends it: unfinished runs fail with the reason. :func:`rerun_job_cancel`
  stops new calls (calls in flight finish and their answers are kept).
* A finished job's stored answers go to its campaign, if it names an open one, whether it
  succeeded, failed (deadline, a worker that kept dying) or was cancelled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from clausebook import audit, permissions
from clausebook.models import Membership, User, Workspace
from clausebook.queueing import enqueue_on_commit
from reviews.models import Campaign, JobStatus, JudgeRun, ModelEndpoint, ModelRun, RerunJob
from reviews.services import campaigns as campaign_services
from reviews.services import endpoints as endpoint_calls
from reviews.services.limiter import Limiter, Permit, limiter_for_worker
from transcripts.models import Scenario, Transcript, TranscriptOrigin

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

RUN_PERMISSION = "reruns.run"
#: An endpoint's calls in flight at once unless its admin set otherwise (``ModelEndpoint``).
DEFAULT_CONCURRENCY = ModelEndpoint._meta.get_field("concurrency").default
#: Threads one worker runs calls on, at most (the sum of the job's endpoints' concurrency).
MAX_THREADS = int(getattr(settings, "RERUN_MAX_THREADS", 64))
MAX_SAMPLES = 20
MAX_RUNS = 10_000
DEFAULT_DEADLINE_SECONDS = 6 * 3600
MAX_DEADLINE_SECONDS = 48 * 3600
MAX_ATTEMPTS = 5
#: A Retry-After longer than this is not waited for: the run fails with the endpoint's answer.
MAX_RETRY_AFTER_SECONDS = 300.0
#: The job's and its claimed runs' lease, renewed every CHECK_SECONDS by the worker running it.
#: A redelivered task (its worker was killed) takes the job over once this lapses.
LEASE_SECONDS = float(getattr(settings, "RERUN_LEASE_SECONDS", 60))
#: Claims a job gets: one whose worker died this many times is failed, not taken over again.
MAX_JOB_ATTEMPTS = int(getattr(settings, "RERUN_MAX_ATTEMPTS", 3))
#: How often the worker looks at the job (cancelled?) and renews its leases.
CHECK_SECONDS = 0.25
#: Parameters a job may set, and how each is checked.
NUMBER_PARAMETERS = {
    "temperature": (0.0, 2.0),
    "top_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
}
INTEGER_PARAMETERS = {"max_tokens": (1, 1_000_000), "seed": (-(2**31), 2**31 - 1)}
PARAMETERS_MAX_BYTES = 8192


# --- creating and cancelling -------------------------------------------------------------------


def _membership(workspace: Workspace, actor: User) -> Membership:
    membership = Membership.objects.filter(workspace=workspace, user=actor).first()
    if membership is None:
        raise Http404("No such workspace")
    return membership


def rerun_parameters_clean(parameters: Any) -> dict[str, Any]:
    """The job's call parameters, or ValidationError on ``parameters`` saying which is wrong."""
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise ValidationError({"parameters": "Parameters are a JSON object."})
    reserved = sorted(endpoint_calls.RESERVED_PARAMETERS & set(parameters))
    if reserved:
        raise ValidationError(
            {
                "parameters": f"These are set by Clausebook, not as parameters: {', '.join(reserved)}."
            }
        )
    for name, (low, high) in NUMBER_PARAMETERS.items():
        value = parameters.get(name)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ValidationError({"parameters": f"{name} must be a number from {low} to {high}."})
    for name, (low, high) in INTEGER_PARAMETERS.items():
        value = parameters.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError(
                {"parameters": f"{name} must be a whole number from {low} to {high}."}
            )
    if len(json.dumps(parameters)) > PARAMETERS_MAX_BYTES:
        raise ValidationError(
            {"parameters": f"Parameters are limited to {PARAMETERS_MAX_BYTES} bytes of JSON."}
        )
    return {key: value for key, value in parameters.items() if value is not None}


def _ids(values: Iterable[Any], field_name: str) -> list[int]:
    ids: list[int] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
            raise ValidationError({field_name: f"{value!r} is not an id."})
        ids.append(int(value))
    if not ids:
        raise ValidationError({field_name: "Choose at least one."})
    return sorted(set(ids))


@transaction.atomic
def rerun_job_create(
    *,
    workspace: Workspace,
    actor: User,
    scenario_ids: Iterable[Any],
    endpoint_ids: Iterable[Any],
    samples: int = 1,
    parameters: dict[str, Any] | None = None,
    campaign_id: int | None = None,
    deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
) -> RerunJob:
    """A queued job with one ``ModelRun`` per (scenario, endpoint, sample). ValidationError names
    the field at fault; a scenario, endpoint or campaign of another workspace is "not found"."""
    permissions.require(_membership(workspace, actor), RUN_PERMISSION)
    scenarios = _ids(scenario_ids, "scenario_ids")
    endpoints = _ids(endpoint_ids, "endpoint_ids")
    found = set(
        Scenario.objects.filter(workspace=workspace, pk__in=scenarios).values_list("pk", flat=True)
    )
    if missing := [pk for pk in scenarios if pk not in found]:
        raise ValidationError(
            {"scenario_ids": f"No such scenario in this workspace: {missing[0]}."}
        )
    found = set(
        ModelEndpoint.objects.filter(workspace=workspace, pk__in=endpoints).values_list(
            "pk", flat=True
        )
    )
    if missing := [pk for pk in endpoints if pk not in found]:
        raise ValidationError(
            {"endpoint_ids": f"No such endpoint in this workspace: {missing[0]}."}
        )
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        raise ValidationError(
            {"samples": f"Samples must be a whole number from 1 to {MAX_SAMPLES}."}
        )
    total = len(scenarios) * len(endpoints) * samples
    if total > MAX_RUNS:
        raise ValidationError(
            {"samples": f"That is {total} calls; a job makes at most {MAX_RUNS}."}
        )
    if (
        isinstance(deadline_seconds, bool)
        or not isinstance(deadline_seconds, int)
        or not 60 <= deadline_seconds <= MAX_DEADLINE_SECONDS
    ):
        raise ValidationError(
            {"deadline_seconds": f"The deadline is 60 to {MAX_DEADLINE_SECONDS} seconds."}
        )
    campaign = None
    if campaign_id is not None:
        campaign = Campaign.objects.filter(workspace=workspace, pk=campaign_id).first()
        if campaign is None:
            raise ValidationError({"campaign_id": "No such campaign in this workspace."})
        if campaign.status == Campaign.Status.CLOSED:
            raise ValidationError({"campaign_id": "This campaign is closed; choose an open one."})
    clean = rerun_parameters_clean(parameters)
    now = timezone.now()
    job = RerunJob.objects.create(
        workspace=workspace,
        created_by=actor,
        samples=samples,
        parameters=clean,
        campaign=campaign,
        created_at=now,
        deadline_at=now + timedelta(seconds=deadline_seconds),
    )
    ModelRun.objects.bulk_create(
        [
            ModelRun(job=job, scenario_id=s, endpoint_id=e, sample_index=i, created_at=now)
            for s in scenarios
            for e in endpoints
            for i in range(samples)
        ],
        batch_size=2000,
    )
    audit.record(
        verb="rerun.create",
        actor=actor,
        workspace=workspace,
        target=job,
        summary=f"Queued a re-run of {len(scenarios)} scenarios on {len(endpoints)} endpoints",
        data={
            "scenarios": len(scenarios),
            "endpoints": endpoints,
            "samples": samples,
            "calls": total,
            "parameters": clean,
            "campaign": campaign.pk if campaign else None,
        },
    )
    from reviews.tasks import run_rerun_job

    # The id only: the worker reads the endpoint (and decrypts its secret) itself. A broker that
    # is down leaves the job failed, saying so, and the caller gets QueueUnavailable (503).
    enqueue_on_commit(run_rerun_job, job.pk, on_failure=lambda: _not_queued(job))
    return job


NOT_QUEUED = (
    "The task queue was unreachable, so this job was never started and makes no calls. "
    "Start a new one once the queue is back."
)


def _not_queued(job: RerunJob) -> None:
    now = timezone.now()
    with transaction.atomic():
        RerunJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED, error=NOT_QUEUED, finished_at=now
        )
        ModelRun.objects.filter(job=job, status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED, error=NOT_QUEUED, finished_at=now
        )
    job.status, job.error, job.finished_at = JobStatus.FAILED, NOT_QUEUED, now


@transaction.atomic
def rerun_job_cancel(*, job: RerunJob, actor: User) -> bool:
    """Stop a queued or running job: no new calls start (calls in flight finish and are kept).
    False if it had already finished."""
    permissions.require(_membership(job.workspace, actor), RUN_PERMISSION)
    now = timezone.now()
    cancelled = RerunJob.objects.filter(
        pk=job.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(status=JobStatus.CANCELLED, finished_at=now)
    if not cancelled:
        return False
    # Runs a live worker has claimed are ended by that worker at its next check (within
    # CHECK_SECONDS); ones whose worker died would otherwise stay running forever.
    ModelRun.objects.filter(
        Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now),
        job=job,
        transcript__isnull=True,
    ).update(status=JobStatus.CANCELLED, finished_at=now)
    # A live worker adds the answers of calls still in flight when it stops; a job whose worker
    # died (or that never started) has nobody else to add what it stored.
    _add_answers_to_campaign(job)
    audit.record(
        verb="rerun.cancel",
        actor=actor,
        workspace=job.workspace,
        target=job,
        summary=f"Cancelled re-run job {job.pk}",
    )
    job.status = JobStatus.CANCELLED
    job.finished_at = now
    return True


# --- running ------------------------------------------------------------------------------------


def rerun_job_claim(*, job_id: int) -> RerunJob | None:
    """Take a queued job, or a running one whose worker stopped renewing its lease; None if
    another worker has it or it finished. One conditional UPDATE, so only one worker wins.
    A lapsed job already claimed MAX_JOB_ATTEMPTS times is failed instead (its worker keeps
    dying on it: taking it over again would loop)."""
    now = timezone.now()
    claimable = RerunJob.objects.filter(
        pk=job_id, status=JobStatus.QUEUED
    ) | RerunJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, lease_expires_at__lt=now)
    claimed = claimable.filter(attempts__lt=MAX_JOB_ATTEMPTS).update(
        status=JobStatus.RUNNING,
        lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
        started_at=Coalesce(F("started_at"), Value(now)),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        _fail_exhausted(job_id, now)
        return None
    return RerunJob.objects.select_related("workspace").get(pk=job_id)


def _fail_exhausted(job_id: int, now: Any) -> bool:
    """Fail a lapsed job that has had all its claims, and its unfinished runs, saying why."""
    message = (
        f"The worker running this job stopped {MAX_JOB_ATTEMPTS} times; "
        "it was not started again. Calls already answered are kept."
    )
    with transaction.atomic():
        failed = RerunJob.objects.filter(
            pk=job_id,
            status=JobStatus.RUNNING,
            lease_expires_at__lt=now,
            attempts__gte=MAX_JOB_ATTEMPTS,
        ).update(status=JobStatus.FAILED, error=message, finished_at=now, lease_expires_at=None)
        if failed:
            ModelRun.objects.filter(
                job_id=job_id,
                transcript__isnull=True,
                status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
            ).update(status=JobStatus.FAILED, error=message, finished_at=now)
            _add_answers_to_campaign(RerunJob.objects.get(pk=job_id))
    return bool(failed)


def rerun_job_busy_seconds(*, job_id: int) -> float | None:
    """Seconds until a running job's lease lapses (a live worker may still hold it), or None
    when the job is not running. A redelivered task waits this long, then tries again."""
    job = RerunJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).only("lease_expires_at")
    found = job.first()
    if found is None:
        return None
    if found.lease_expires_at is None:
        return 0.0
    return max(0.0, (found.lease_expires_at - timezone.now()).total_seconds())


def sweep_jobs(
    model: type[RerunJob] | type[JudgeRun],
    *,
    send: Callable[[int], object],
    fail_exhausted: Callable[[int, Any], object],
    now: Any,
) -> int:
    """What the sweep does for re-run jobs and judge runs alike; the number of jobs acted on.

    * A running job whose lease lapsed (its worker died and no redelivery came, e.g. on the
      filesystem broker) is sent again to be taken over, or failed once out of claims.
    * A queued job no worker claimed within a lease of being created (its message lost: a broker
      restarted without persistence, a purged queue) is sent again, at most once per lease: a
      queued job's ``lease_expires_at`` says when it may be sent again (the claim replaces it).

    A duplicate message is harmless, since the claim is one conditional UPDATE; so is a second
    sweep at once (of two, one marks a queued job sent)."""
    window = timedelta(seconds=LEASE_SECONDS)
    unclaimed = Q(status=JobStatus.QUEUED, created_at__lt=now - window) & (
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )
    resent = [
        pk
        for pk in model.objects.filter(unclaimed).values_list("pk", flat=True)
        if model.objects.filter(unclaimed, pk=pk).update(lease_expires_at=now + window)
    ]
    for pk in resent:
        send(pk)
    lapsed = list(
        model.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now).values_list(
            "pk", "attempts"
        )
    )
    for pk, attempts in lapsed:
        if attempts >= MAX_JOB_ATTEMPTS:
            fail_exhausted(pk, now)
        else:
            send(pk)
    return len(resent) + len(lapsed)


def rerun_job_sweep(*, now: Any = None) -> int:
    """Re-run jobs whose worker died or whose message was lost (:func:`sweep_jobs`)."""
    from reviews.tasks import run_rerun_job

    return sweep_jobs(
        RerunJob,
        send=run_rerun_job.delay,
        fail_exhausted=_fail_exhausted,
        now=now or timezone.now(),
    )


_RUNS = ModelRun._meta.db_table
_JOBS = RerunJob._meta.db_table
_TRANSCRIPTS = Transcript._meta.db_table
# A run is called only if it has no answer and nobody live holds it: queued, or running under
# a lease that lapsed (its worker died mid-call). The job must still be running (not cancelled).
# A batch of one endpoint's runs is claimed in one statement; SKIP LOCKED so a run another
# transaction is writing (its answer being stored) is left to that transaction.
_CLAIM_RUNS_SQL = (
    f"UPDATE {_RUNS} SET status = 'running', lease_holder = %s, "  # noqa: S608
    "lease_expires_at = clock_timestamp() + make_interval(secs => %s) "
    f"WHERE id IN (SELECT r.id FROM {_RUNS} r WHERE r.job_id = %s AND r.endpoint_id = %s "
    "AND r.transcript_id IS NULL AND (r.status = 'queued' "
    "OR (r.status = 'running' AND r.lease_expires_at < clock_timestamp())) "
    f"AND EXISTS (SELECT 1 FROM {_JOBS} j WHERE j.id = r.job_id AND j.status = 'running') "
    "ORDER BY r.id LIMIT %s FOR UPDATE SKIP LOCKED) "
    "RETURNING id, scenario_id, sample_index"
)
_RENEW_RUNS_SQL = (
    f"UPDATE {_RUNS} SET lease_expires_at = clock_timestamp() + make_interval(secs => %s) "  # noqa: S608
    "WHERE job_id = %s AND status = 'running' AND lease_holder = %s"
)
_RENEW_JOB_SQL = (
    f"UPDATE {_JOBS} SET lease_expires_at = clock_timestamp() + make_interval(secs => %s) "  # noqa: S608
    "WHERE id = %s AND status = 'running' RETURNING status"
)
# The rows of a batch this worker still holds, locked until the batch commits: a worker that
# took a run over after our lease lapsed stores its own answer, and ours is dropped.
_MINE_SQL = (
    f"SELECT id FROM {_RUNS} WHERE id = ANY(%s) AND status = 'running' "  # noqa: S608
    "AND lease_holder = %s AND transcript_id IS NULL FOR UPDATE"
)
# One statement marks a batch succeeded with its transcripts (the check constraint
# model_run_transcript_means_succeeded holds row by row).
_SUCCEED_RUNS_SQL = (
    f"UPDATE {_RUNS} r SET status = 'succeeded', transcript_id = v.transcript_id, "  # noqa: S608
    "attempts = v.attempts, error = '', prompt_tokens = v.prompt_tokens, "
    "completion_tokens = v.completion_tokens, latency_ms = v.latency_ms, "
    "lease_expires_at = NULL, finished_at = clock_timestamp() "
    "FROM unnest(%s::bigint[], %s::bigint[], %s::int[], %s::int[], %s::int[], %s::int[]) "
    "AS v(id, transcript_id, attempts, prompt_tokens, completion_tokens, latency_ms) "
    "WHERE r.id = v.id"
)
_FAIL_RUNS_SQL = (
    f"UPDATE {_RUNS} r SET status = v.status, error = v.error, attempts = v.attempts, "  # noqa: S608
    "lease_expires_at = NULL, finished_at = clock_timestamp() "
    "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[]) "
    "AS v(id, status, error, attempts) "
    "WHERE r.id = v.id AND r.status = 'running' AND r.lease_holder = %s "
    "AND r.transcript_id IS NULL"
)
#: A run the job's deadline ended says so (the job's own error says it as a whole).
DEADLINE_MESSAGE = "the job's deadline passed before this call finished"
#: Answers are stored in batches: this many, or after this long, or at once when nothing else
#: is in flight (so a job of one call at a time reports, and notices a cancel, call by call).
WRITE_BATCH = 64
WRITE_SECONDS = 0.05
#: Runs claimed ahead per endpoint, as a multiple of its slots (held under this worker's lease).
CLAIM_AHEAD = 4


def transcript_messages(scenario_messages: list[Any], answer: str) -> list[dict[str, Any]]:
    return [*scenario_messages, {"role": "assistant", "content": answer}]


def _content_hash(messages: list[dict[str, Any]]) -> str:
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _prompt(messages: Any) -> list[dict[str, Any]]:
    """The scenario's messages as the API takes them: role and content only."""
    prompt = []
    for message in messages or []:
        if isinstance(message, dict) and message.get("role") in ("system", "user", "assistant"):
            prompt.append({"role": message["role"], "content": str(message.get("content") or "")})
    return prompt


@dataclass
class _Call:
    run_id: int
    endpoint_id: int
    scenario_id: int
    sample_index: int
    attempts: int = 0
    not_before: float = 0.0
    #: Its retry was not made because the job's deadline would pass first.
    out_of_time: bool = False


@dataclass
class _Outcome:
    completion: endpoint_calls.Completion | None = None
    error: endpoint_calls.EndpointError | None = None


def _call(
    endpoint: ModelEndpoint,
    messages: list[dict[str, Any]],
    parameters: dict[str, Any],
    timeout: float,
    client: httpx.Client | None,
) -> _Outcome:
    try:
        return _Outcome(
            completion=endpoint_calls.chat_completion(
                endpoint, messages, parameters, timeout=timeout, client=client
            )
        )
    except endpoint_calls.EndpointError as error:
        return _Outcome(error=error)


@dataclass
class _Runner:
    """One job on one worker. The calling thread does all database work on its connection;
    pool threads only make HTTP calls. Slots are held per endpoint while the job has calls for
    it, runs are claimed a batch at a time, and answers are written a batch at a time."""

    job: RerunJob
    limiter: Limiter
    client: httpx.Client | None
    progress: Callable[[int, int], None] | None
    endpoints: dict[int, ModelEndpoint] = field(default_factory=dict)
    prompts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    ready: dict[int, deque[_Call]] = field(default_factory=dict)
    waiting: list[_Call] = field(default_factory=list)
    paused_until: dict[int, float] = field(default_factory=dict)
    in_flight: dict[Future[_Outcome], _Call] = field(default_factory=dict)
    # Finished calls, in the order they finished: one queue to block on, not a wait() over
    # every future in flight each time one finishes.
    completed: queue.SimpleQueue[Future[_Outcome]] = field(default_factory=queue.SimpleQueue)
    per_endpoint: dict[int, int] = field(default_factory=dict)
    slots: dict[int, list[Permit]] = field(default_factory=dict)
    # Endpoints whose claim came back short: none of their runs are left to claim for now.
    drained: set[int] = field(default_factory=set)
    answers: list[tuple[_Call, endpoint_calls.Completion]] = field(default_factory=list)
    failures: list[tuple[_Call, str, str]] = field(default_factory=list)
    batch_started: float = 0.0
    done: int = 0
    total: int = 0
    stopping: str = ""

    def load(self) -> bool:
        """Read the endpoints and prompts of the job's unfinished runs; False when none are left
        to anyone (another worker's live claims count as left)."""
        counts = dict(
            ModelRun.objects.filter(job=self.job)
            .values("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        self.total = sum(counts.values())
        self.done = self.total - counts.get(JobStatus.QUEUED, 0) - counts.get(JobStatus.RUNNING, 0)
        pending = ModelRun.objects.filter(
            job=self.job,
            transcript__isnull=True,
            status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
        )
        # Our own live claims are all in this runner's queues; the rest is someone else's.
        pending = pending.exclude(lease_holder=self.limiter.holder)
        endpoint_ids = set(pending.values_list("endpoint_id", flat=True).distinct())
        if not endpoint_ids:
            return False
        needed = endpoint_ids - set(self.endpoints)
        for endpoint in ModelEndpoint.objects.filter(pk__in=needed):
            self.endpoints[endpoint.pk] = endpoint
        scenario_ids = set(pending.values_list("scenario_id", flat=True).distinct())
        self.load_prompts(scenario_ids)
        self.drained.clear()
        return True

    def load_prompts(self, scenario_ids: Iterable[int]) -> None:
        needed = set(scenario_ids) - set(self.prompts)
        if needed:
            for pk, messages in Scenario.objects.filter(pk__in=needed).values_list(
                "pk", "messages"
            ):
                self.prompts[pk] = _prompt(messages)

    # --- slots and claims

    def take_slots(self) -> None:
        """Hold up to each endpoint's concurrency in slots while it has calls left here."""
        for endpoint_id, endpoint in self.endpoints.items():
            held = self.slots.setdefault(endpoint_id, [])
            if endpoint_id in self.drained and not self.has_work(endpoint_id):
                continue
            while len(held) < endpoint.concurrency:
                permit = self.limiter.try_acquire(
                    endpoint_id=endpoint_id, concurrency=endpoint.concurrency, rate_per_minute=0
                )
                if not isinstance(permit, Permit):
                    break  # another worker holds the rest; asked again at the next check
                held.append(permit)

    def release_slots(self, endpoint_id: int) -> None:
        for permit in self.slots.pop(endpoint_id, []):
            self.limiter.release(permit)

    def has_work(self, endpoint_id: int) -> bool:
        return bool(
            self.ready.get(endpoint_id)
            or self.per_endpoint.get(endpoint_id)
            or any(call.endpoint_id == endpoint_id for call in self.waiting)
        )

    def claim(self, endpoint_id: int) -> None:
        """Top up the endpoint's queue with a batch of claimed runs."""
        if endpoint_id in self.drained or self.stopping:
            return
        pending = self.ready.setdefault(endpoint_id, deque())
        held = len(self.slots.get(endpoint_id, []))
        if not held or len(pending) >= held:
            return
        size = max(16, CLAIM_AHEAD * held)
        with connection.cursor() as cursor:
            cursor.execute(
                _CLAIM_RUNS_SQL,
                [self.limiter.holder, LEASE_SECONDS, self.job.pk, endpoint_id, size],
            )
            rows = sorted(cursor.fetchall())
        if len(rows) < size:
            self.drained.add(endpoint_id)
        self.load_prompts(row[1] for row in rows)
        for run_id, scenario_id, sample_index in rows:
            pending.append(_Call(run_id, endpoint_id, scenario_id, sample_index))
        if not self.has_work(endpoint_id):
            # Nothing left for this endpoint here: let other jobs and workers have its slots.
            self.release_slots(endpoint_id)

    # --- the loop

    def run(self) -> None:
        threads = max(
            1,
            min(MAX_THREADS, sum(e.concurrency for e in self.endpoints.values()) or 1),
        )
        next_check = 0.0
        try:
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rerun") as pool:
                while True:
                    now = time.monotonic()
                    if now >= next_check:
                        self.check()
                        next_check = now + CHECK_SECONDS
                    if not self.stopping:
                        self.wake(now)
                        self.launch(pool, now)
                    if self.in_flight:
                        # Calls were started first, so writing a batch overlaps their I/O.
                        self.maybe_flush()
                        try:
                            future = self.completed.get(timeout=self.idle_wait(time.monotonic()))
                        except queue.Empty:
                            continue
                        self.settle(future)
                        while True:
                            try:
                                self.settle(self.completed.get_nowait())
                            except queue.Empty:
                                break
                        if not self.in_flight:
                            # Nothing else running: store and report now, so a job of one call
                            # at a time notices a cancel before its next call.
                            self.flush()
                        continue
                    self.flush()
                    if self.stopping:
                        return
                    if any(self.ready.values()) or self.waiting:
                        time.sleep(self.idle_wait(now))
                        continue
                    # Nothing left here: runs another worker held may come free when its lease
                    # lapses.
                    if not self.load():
                        return
                    self.take_slots()
                    for endpoint_id in self.endpoints:
                        self.claim(endpoint_id)
                    if not any(self.ready.values()):
                        time.sleep(min(1.0, LEASE_SECONDS / 10))
        finally:
            self.flush()
            for endpoint_id in list(self.slots):
                self.release_slots(endpoint_id)

    def idle_wait(self, now: float) -> float:
        times = [call.not_before for call in self.waiting]
        times += [t for e, t in self.paused_until.items() if self.ready.get(e)]
        if self.answers or self.failures:
            times.append(self.batch_started + WRITE_SECONDS)
        soonest = min(times, default=now + CHECK_SECONDS)
        return max(0.005, min(CHECK_SECONDS, soonest - now))

    def check(self) -> None:
        """Renew the leases; notice a cancel or the deadline; ask for slots still missing."""
        with connection.cursor() as cursor:
            cursor.execute(_RENEW_JOB_SQL, [LEASE_SECONDS, self.job.pk])
            still_running = cursor.fetchone() is not None
            cursor.execute(_RENEW_RUNS_SQL, [LEASE_SECONDS, self.job.pk, self.limiter.holder])
        self.limiter.renew()
        if not still_running:
            self.stop("cancelled")
        elif self.job.deadline_at and timezone.now() >= self.job.deadline_at:
            self.stop("deadline")
        else:
            self.take_slots()

    def stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = reason
        message = {
            "cancelled": "the job was cancelled before this call",
            "deadline": DEADLINE_MESSAGE,
        }[reason]
        status = JobStatus.CANCELLED if reason == "cancelled" else JobStatus.FAILED
        ModelRun.objects.filter(
            job=self.job, transcript__isnull=True, status=JobStatus.QUEUED
        ).update(status=status, error=message, finished_at=timezone.now())
        for pending in self.ready.values():
            for call in pending:
                self.fail(call, status=status, error=message)
        for call in self.waiting:
            self.fail(call, status=status, error=message)
        self.waiting.clear()
        self.ready.clear()
        self.flush()

    def wake(self, now: float) -> None:
        due = [call for call in self.waiting if call.not_before <= now]
        if due:
            self.waiting = [call for call in self.waiting if call.not_before > now]
            for call in due:
                self.ready.setdefault(call.endpoint_id, deque()).appendleft(call)

    def launch(self, pool: ThreadPoolExecutor, now: float) -> None:
        if self.job.deadline_at and timezone.now() >= self.job.deadline_at:
            # Between checks too: a call must not start after the deadline (its timeout would
            # be floored at a second and it could still answer, as if on time).
            self.stop("deadline")
            return
        parameters = self.job.parameters or {}
        for endpoint_id, endpoint in self.endpoints.items():
            if self.paused_until.get(endpoint_id, 0.0) > now:
                continue
            self.claim(endpoint_id)
            pending = self.ready.get(endpoint_id)
            held = len(self.slots.get(endpoint_id, []))
            while pending and self.per_endpoint.get(endpoint_id, 0) < held:
                if endpoint.rate_limit_per_minute:
                    pause = self.limiter.try_take_token(
                        endpoint_id=endpoint_id, rate_per_minute=endpoint.rate_limit_per_minute
                    )
                    if pause is not None:
                        self.paused_until[endpoint_id] = now + pause
                        break
                call = pending.popleft()
                call.attempts += 1
                timeout = float(endpoint.timeout_seconds)
                if self.job.deadline_at:
                    left = (self.job.deadline_at - timezone.now()).total_seconds()
                    timeout = max(1.0, min(timeout, left))
                future = pool.submit(
                    _call,
                    endpoint,
                    self.prompts.get(call.scenario_id, []),
                    parameters,
                    timeout,
                    self.client,
                )
                self.in_flight[future] = call
                future.add_done_callback(self.completed.put)
                self.per_endpoint[endpoint_id] = self.per_endpoint.get(endpoint_id, 0) + 1
                if len(pending) < held:
                    self.claim(endpoint_id)

    def settle(self, future: Future[_Outcome]) -> None:
        call = self.in_flight.pop(future)
        self.per_endpoint[call.endpoint_id] -= 1
        outcome = future.result()
        if outcome.completion is not None:
            self.buffer()
            self.answers.append((call, outcome.completion))
            return
        error = outcome.error or endpoint_calls.InvalidResponse("the call gave no answer")
        delay = self.retry_delay(call, error)
        if delay is None:
            message = str(error)
            if call.out_of_time:
                # Say why it was not tried again: the endpoint's error alone reads as a fault.
                message = f"{DEADLINE_MESSAGE} (last try: {message})"
            self.fail(call, status=JobStatus.FAILED, error=message)
            return
        call.not_before = time.monotonic() + delay
        if isinstance(error, endpoint_calls.RateLimited):
            # The endpoint said to slow down: every call to it waits, not just this one.
            self.paused_until[call.endpoint_id] = max(
                self.paused_until.get(call.endpoint_id, 0.0), call.not_before
            )
        self.waiting.append(call)

    def retry_delay(self, call: _Call, error: endpoint_calls.EndpointError) -> float | None:
        if not error.retryable or call.attempts >= MAX_ATTEMPTS:
            return None
        if self.stopping:
            call.out_of_time = self.stopping == "deadline"
            return None
        delay = endpoint_calls.backoff_seconds(call.attempts)
        if isinstance(error, endpoint_calls.RateLimited) and error.retry_after is not None:
            if error.retry_after > MAX_RETRY_AFTER_SECONDS:
                return None
            delay = max(error.retry_after, 0.0) + random.uniform(0, 0.1 * error.retry_after)  # noqa: S311
        if (
            self.job.deadline_at
            and timezone.now() + timedelta(seconds=delay) >= self.job.deadline_at
        ):
            call.out_of_time = True
            return None
        return delay

    # --- storing results

    def buffer(self) -> None:
        if not self.answers and not self.failures:
            self.batch_started = time.monotonic()

    def fail(self, call: _Call, *, status: str, error: str) -> None:
        self.buffer()
        self.failures.append((call, status, error[:2000]))

    def maybe_flush(self) -> None:
        pending = len(self.answers) + len(self.failures)
        if pending and (
            pending >= WRITE_BATCH
            or not self.in_flight
            or time.monotonic() - self.batch_started >= WRITE_SECONDS
        ):
            self.flush()

    def flush(self) -> None:
        """Store the buffered answers and failures in one transaction, then report them."""
        answers, failures = self.answers, self.failures
        if not answers and not failures:
            return
        self.answers, self.failures = [], []
        holder = self.limiter.holder
        with transaction.atomic():
            if answers:
                self.store(answers)
            if failures:
                with connection.cursor() as cursor:
                    cursor.execute(
                        _FAIL_RUNS_SQL,
                        [
                            [call.run_id for call, _, _ in failures],
                            [status for _, status, _ in failures],
                            [error for _, _, error in failures],
                            [call.attempts for call, _, _ in failures],
                            holder,
                        ],
                    )
        for _ in range(len(answers) + len(failures)):
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)
        if self.progress is not None and not self.stopping:
            # The callback may have cancelled the job (the CLI's Ctrl-C, a test): notice it
            # before another call starts, not at the next check.
            self.check()

    def store(self, answers: list[tuple[_Call, endpoint_calls.Completion]]) -> None:
        """The batch's transcripts and the runs they answer, only for runs still ours."""
        with connection.cursor() as cursor:
            cursor.execute(_MINE_SQL, [[call.run_id for call, _ in answers], self.limiter.holder])
            mine = {row[0] for row in cursor.fetchall()}
        kept = [(call, completion) for call, completion in answers if call.run_id in mine]
        if not kept:
            return
        parameters = self.job.parameters or {}
        source = f"rerun job {self.job.pk}"
        transcripts = []
        for call, completion in kept:
            messages = transcript_messages(
                self.prompts.get(call.scenario_id, []), completion.content
            )
            transcripts.append(
                Transcript(
                    workspace_id=self.job.workspace_id,
                    messages=messages,
                    message_count=len(messages),
                    content_hash=_content_hash(messages),
                    source=source,
                    model=completion.model[:120],
                    origin=TranscriptOrigin.RERUN,
                    origin_scenario_id=call.scenario_id,
                    metadata={
                        "rerun_job": self.job.pk,
                        "endpoint": self.endpoints[call.endpoint_id].name,
                        "sample_index": call.sample_index,
                        "finish_reason": completion.finish_reason,
                        "parameters": parameters,
                    },
                )
            )
        Transcript.objects.bulk_create(transcripts)
        with connection.cursor() as cursor:
            cursor.execute(
                _SUCCEED_RUNS_SQL,
                [
                    [call.run_id for call, _ in kept],
                    [transcript.pk for transcript in transcripts],
                    [call.attempts for call, _ in kept],
                    [completion.prompt_tokens for _, completion in kept],
                    [completion.completion_tokens for _, completion in kept],
                    [completion.latency_ms for _, completion in kept],
                ],
            )


def _finalize(job: RerunJob, stopping: str) -> RerunJob:
    counts = dict(
        ModelRun.objects.filter(job=job)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    unfinished = counts.get(JobStatus.QUEUED, 0) + counts.get(JobStatus.RUNNING, 0)
    now = timezone.now()
    if stopping == "cancelled":
        status, error = JobStatus.CANCELLED, ""
    elif stopping == "deadline":
        status, error = JobStatus.FAILED, "The job's deadline passed before every call finished."
    elif unfinished:
        return RerunJob.objects.get(pk=job.pk)  # another worker still holds some of its runs
    elif counts.get(JobStatus.SUCCEEDED, 0) == 0:
        status, error = JobStatus.FAILED, "No call succeeded; see each endpoint's errors."
    else:
        status, error = JobStatus.SUCCEEDED, ""
    RerunJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=status, error=error, finished_at=now, lease_expires_at=None
    )
    job.refresh_from_db()
    if job.status in FINISHED_STATUSES:
        _add_answers_to_campaign(job)
    return job


#: A job in one of these is over; its stored answers belong in its campaign whichever it is.
FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


def _add_answers_to_campaign(job: RerunJob) -> int:
    """Add the job's stored answers (runs with a transcript) to its campaign, if it has one
    that is still open; the number added. A cancelled or timed-out job's answers count too: a
    user who stops a job after 900 of 1000 calls expects those 900 to be labeled. Safe to call
    again (answers already in the campaign are skipped)."""
    if not job.campaign_id:
        return 0
    campaign = Campaign.objects.filter(pk=job.campaign_id).first()
    if campaign is None or campaign.status == Campaign.Status.CLOSED:
        return 0
    try:
        return campaign_services.campaign_items_add(
            campaign=campaign,
            transcript_ids=ModelRun.objects.filter(job=job, transcript__isnull=False).values_list(
                "transcript_id", flat=True
            ),
        )
    except ValidationError:
        return 0  # closed since we looked: nothing may be added to a closed campaign


def rerun_job_run(
    *,
    job_id: int,
    client: httpx.Client | None = None,
    limiter: Limiter | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RerunJob | None:
    """Claim the job and run its calls (see the module's contracts); None if it was not
    claimable. ``client`` replaces the process's guarded HTTP client (tests and the bench pass
    one); ``progress(done, total)`` is called once per finished call, after its result is
    stored (results are stored in batches, so calls come in bursts)."""
    job = rerun_job_claim(job_id=job_id)
    if job is None:
        return None
    runner = _Runner(
        job=job, limiter=limiter or limiter_for_worker(), client=client, progress=progress
    )
    with connection.cursor() as cursor:
        # The job commits many small batches (claims, answers). Not waiting for each commit's
        # flush costs at most the last moment's writes on a crash, and those are atomic: a lost
        # answer is a call made again, never a second transcript.
        cursor.execute("SET synchronous_commit TO off")
    try:
        if runner.load():
            runner.run()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
    return _finalize(job, runner.stopping)
