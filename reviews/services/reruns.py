"""Re-run jobs: scenarios × endpoints × samples, called concurrently inside one worker.

Contracts
---------
* :func:`rerun_job_create` checks everything up front (the ``reruns.run`` right, scenarios,
  endpoints and campaign in the workspace, samples, parameters), writes the job and all its
  ``ModelRun`` rows in one transaction and enqueues ``reviews.run_rerun_job`` with the job's id
  only (never a secret) on commit.
* :func:`rerun_job_run` claims the job with a conditional UPDATE (queued, or running under a
  lapsed lease: the worker that had it died) and runs its calls on a thread pool. Threads only
  make HTTP calls; the calling thread does all database work on its one connection.
* Each call is idempotent by its ``ModelRun`` row: it is claimed with
  ``UPDATE … WHERE transcript_id IS NULL AND (queued OR lease lapsed)`` under a lease this
  worker renews, and its transcript (``origin=rerun``) is written in the transaction that marks
  the run succeeded, only while the claim is still this worker's. A run with a transcript is
  never called again; a redelivery creates nothing twice.
* Each endpoint's ``concurrency`` and ``rate_limit_per_minute`` hold across all workers
  (``reviews.services.limiter``). 429 (after ``Retry-After``), 5xx, unreachable and timeouts are
  retried with capped exponential backoff and jitter, up to :data:`MAX_ATTEMPTS` calls; other
  errors (400/401/…, blocked address, oversized or invalid answers) end the run at once.
* The job's deadline ends it: unfinished runs fail with the reason. :func:`rerun_job_cancel`
  stops new calls (calls in flight finish and their answers are kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max
from django.http import Http404
from django.utils import timezone

from clausebook import audit, permissions
from clausebook.models import Membership, User, Workspace
from reviews.models import Campaign, Item, JobStatus, ModelEndpoint, ModelRun, RerunJob
from reviews.services import endpoints as endpoint_calls
from reviews.services.limiter import Limiter, Permit, limiter_for_worker
from transcripts.models import Scenario, Transcript, TranscriptOrigin

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
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
#: A Retry-After longer than this is not waited for: the run fails with the endpoint's answer.
MAX_RETRY_AFTER_SECONDS = 300.0
LEASE_SECONDS = 60.0
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


def backoff_seconds(attempt: int, *, rng: random.Random = random._inst) -> float:  # type: ignore[attr-defined]
    """Capped exponential backoff with equal jitter: half fixed, half random, so retries
    from many runs spread out but never come back at once."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


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

    # The id only: the worker reads the endpoint (and decrypts its secret) itself.
    run_rerun_job.delay_on_commit(job.pk)
    return job


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
    ModelRun.objects.filter(job=job, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now
    )
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


@transaction.atomic
def campaign_items_add(*, campaign: Campaign, transcript_ids: Iterable[int]) -> int:
    """Add transcripts of the campaign's workspace to a campaign that is not closed, after its
    last item; the number added (ones already in it are skipped).

    Lives here until the campaigns area has its own add-items service."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.status == Campaign.Status.CLOSED:
        raise ValidationError({"campaign_id": "This campaign is closed; choose an open one."})
    wanted = sorted(set(transcript_ids))
    valid = set(
        Transcript.objects.filter(workspace_id=locked.workspace_id, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    present = set(
        Item.objects.filter(campaign=locked, transcript_id__in=wanted).values_list(
            "transcript_id", flat=True
        )
    )
    new = [pk for pk in wanted if pk in valid and pk not in present]
    start = (Item.objects.filter(campaign=locked).aggregate(last=Max("position"))["last"] or -1) + 1
    Item.objects.bulk_create(
        [
            Item(
                campaign=locked,
                transcript_id=pk,
                position=start + i,
                open_slots=locked.reviewers_per_item,
            )
            for i, pk in enumerate(new)
        ]
    )
    return len(new)


# --- running ------------------------------------------------------------------------------------


def rerun_job_claim(*, job_id: int) -> RerunJob | None:
    """Take a queued job, or a running one whose worker stopped renewing its lease; None if
    another worker has it or it finished. One conditional UPDATE, so only one worker wins."""
    now = timezone.now()
    claimable = RerunJob.objects.filter(
        pk=job_id, status=JobStatus.QUEUED
    ) | RerunJob.objects.filter(pk=job_id, status=JobStatus.RUNNING, lease_expires_at__lt=now)
    claimed = claimable.update(
        status=JobStatus.RUNNING,
        lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
        started_at=now,
    )
    if not claimed:
        return None
    return RerunJob.objects.select_related("workspace").get(pk=job_id)


_RUNS = ModelRun._meta.db_table
_JOBS = RerunJob._meta.db_table
# A run is called only if it has no answer and nobody live holds it: queued, or running under
# a lease that lapsed (its worker died mid-call). The job must still be running (not cancelled).
_CLAIM_RUN_SQL = (
    f"UPDATE {_RUNS} SET status = 'running', lease_holder = %s, "  # noqa: S608
    "lease_expires_at = clock_timestamp() + make_interval(secs => %s) "
    "WHERE id = %s AND transcript_id IS NULL "
    "AND (status = 'queued' OR (status = 'running' AND lease_expires_at < clock_timestamp())) "
    f"AND EXISTS (SELECT 1 FROM {_JOBS} j WHERE j.id = job_id AND j.status = 'running')"
)
_RENEW_RUNS_SQL = (
    f"UPDATE {_RUNS} SET lease_expires_at = clock_timestamp() + make_interval(secs => %s) "  # noqa: S608
    "WHERE job_id = %s AND status = 'running' AND lease_holder = %s"
)
_RENEW_JOB_SQL = (
    f"UPDATE {_JOBS} SET lease_expires_at = clock_timestamp() + make_interval(secs => %s) "  # noqa: S608
    "WHERE id = %s AND status = 'running' RETURNING status"
)


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
    claimed: bool = False
    not_before: float = 0.0


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
    job: RerunJob
    limiter: Limiter
    client: httpx.Client | None
    progress: Callable[[int, int], None] | None
    endpoints: dict[int, ModelEndpoint] = field(default_factory=dict)
    scenarios: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    ready: dict[int, deque[_Call]] = field(default_factory=dict)
    waiting: list[_Call] = field(default_factory=list)
    paused_until: dict[int, float] = field(default_factory=dict)
    in_flight: dict[Future[_Outcome], tuple[_Call, Permit]] = field(default_factory=dict)
    per_endpoint: dict[int, int] = field(default_factory=dict)
    done: int = 0
    total: int = 0
    stopping: str = ""

    def load(self) -> bool:
        """Queue the job's unfinished runs; False when there are none left."""
        rows = list(
            ModelRun.objects.filter(
                job=self.job,
                transcript__isnull=True,
                status__in=[JobStatus.QUEUED, JobStatus.RUNNING],
            )
            .exclude(lease_holder=self.limiter.holder)
            .order_by("id")
            .values_list("id", "endpoint_id", "scenario_id", "sample_index")
        )
        self.total = ModelRun.objects.filter(job=self.job).count()
        self.done = self.total - len(rows) - len(self.in_flight) - len(self.waiting)
        if not rows:
            return False
        needed = {row[1] for row in rows} - set(self.endpoints)
        for endpoint in ModelEndpoint.objects.filter(pk__in=needed):
            self.endpoints[endpoint.pk] = endpoint
        needed = {row[2] for row in rows} - set(self.scenarios)
        for pk, messages in Scenario.objects.filter(pk__in=needed).values_list("pk", "messages"):
            self.scenarios[pk] = messages
        queued = {call.run_id for call in self.waiting} | {
            c.run_id for c, _ in self.in_flight.values()
        }
        for run_id, endpoint_id, scenario_id, sample_index in rows:
            if run_id not in queued:
                self.ready.setdefault(endpoint_id, deque()).append(
                    _Call(run_id, endpoint_id, scenario_id, sample_index)
                )
        return True

    def run(self) -> None:
        threads = max(
            1,
            min(MAX_THREADS, sum(e.concurrency for e in self.endpoints.values()) or 1),
        )
        next_check = 0.0
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
                    done, _ = wait(
                        list(self.in_flight),
                        timeout=self.idle_wait(now),
                        return_when=FIRST_COMPLETED,
                    )
                    for future in done:
                        self.settle(future)
                    continue
                if self.stopping:
                    return
                if any(self.ready.values()) or self.waiting:
                    time.sleep(self.idle_wait(now))
                    continue
                # Nothing left here: runs another worker held may come free when its lease lapses.
                if not self.load():
                    return
                time.sleep(min(1.0, LEASE_SECONDS / 10))

    def idle_wait(self, now: float) -> float:
        times = [call.not_before for call in self.waiting]
        times += [t for e, t in self.paused_until.items() if self.ready.get(e)]
        soonest = min(times, default=now + CHECK_SECONDS)
        return max(0.005, min(CHECK_SECONDS, soonest - now))

    def check(self) -> None:
        """Renew the leases; notice a cancel or the deadline."""
        with connection.cursor() as cursor:
            cursor.execute(_RENEW_JOB_SQL, [LEASE_SECONDS, self.job.pk])
            still_running = cursor.fetchone() is not None
            cursor.execute(_RENEW_RUNS_SQL, [LEASE_SECONDS, self.job.pk, self.limiter.holder])
        self.limiter.renew()
        if not still_running:
            self.stop("cancelled")
        elif self.job.deadline_at and timezone.now() >= self.job.deadline_at:
            self.stop("deadline")

    def stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = reason
        message = {
            "cancelled": "the job was cancelled before this call",
            "deadline": "the job's deadline passed before this call finished",
        }[reason]
        status = JobStatus.CANCELLED if reason == "cancelled" else JobStatus.FAILED
        ModelRun.objects.filter(
            job=self.job, transcript__isnull=True, status=JobStatus.QUEUED
        ).update(status=status, error=message, finished_at=timezone.now())
        for call in self.waiting:
            self.finish(call, status=status, error=message)
        self.waiting.clear()
        self.ready.clear()

    def wake(self, now: float) -> None:
        due = [call for call in self.waiting if call.not_before <= now]
        if due:
            self.waiting = [call for call in self.waiting if call.not_before > now]
            for call in due:
                self.ready.setdefault(call.endpoint_id, deque()).appendleft(call)

    def launch(self, pool: ThreadPoolExecutor, now: float) -> None:
        for endpoint_id, queue in self.ready.items():
            endpoint = self.endpoints[endpoint_id]
            if self.paused_until.get(endpoint_id, 0.0) > now:
                continue
            while queue and self.per_endpoint.get(endpoint_id, 0) < endpoint.concurrency:
                permit = self.limiter.try_acquire(
                    endpoint_id=endpoint_id,
                    concurrency=endpoint.concurrency,
                    rate_per_minute=endpoint.rate_limit_per_minute,
                )
                if not isinstance(permit, Permit):
                    self.paused_until[endpoint_id] = now + permit
                    break
                call = queue.popleft()
                if not call.claimed:
                    with connection.cursor() as cursor:
                        cursor.execute(
                            _CLAIM_RUN_SQL, [self.limiter.holder, LEASE_SECONDS, call.run_id]
                        )
                        call.claimed = cursor.rowcount == 1
                    if not call.claimed:  # finished meanwhile, or a live worker holds it
                        self.limiter.release(permit)
                        continue
                call.attempts += 1
                timeout = float(endpoint.timeout_seconds)
                if self.job.deadline_at:
                    left = (self.job.deadline_at - timezone.now()).total_seconds()
                    timeout = max(1.0, min(timeout, left))
                future = pool.submit(
                    _call,
                    endpoint,
                    _prompt(self.scenarios.get(call.scenario_id)),
                    self.job.parameters or {},
                    timeout,
                    self.client,
                )
                self.in_flight[future] = (call, permit)
                self.per_endpoint[endpoint_id] = self.per_endpoint.get(endpoint_id, 0) + 1

    def settle(self, future: Future[_Outcome]) -> None:
        call, permit = self.in_flight.pop(future)
        self.per_endpoint[call.endpoint_id] -= 1
        self.limiter.release(permit)
        outcome = future.result()
        if outcome.completion is not None:
            self.succeed(call, outcome.completion)
            return
        error = outcome.error or endpoint_calls.InvalidResponse("the call gave no answer")
        delay = self.retry_delay(call, error)
        if delay is None:
            self.finish(call, status=JobStatus.FAILED, error=str(error))
            return
        call.not_before = time.monotonic() + delay
        if isinstance(error, endpoint_calls.RateLimited):
            # The endpoint said to slow down: every call to it waits, not just this one.
            self.paused_until[call.endpoint_id] = max(
                self.paused_until.get(call.endpoint_id, 0.0), call.not_before
            )
        self.waiting.append(call)

    def retry_delay(self, call: _Call, error: endpoint_calls.EndpointError) -> float | None:
        if not error.retryable or call.attempts >= MAX_ATTEMPTS or self.stopping:
            return None
        delay = backoff_seconds(call.attempts)
        if isinstance(error, endpoint_calls.RateLimited) and error.retry_after is not None:
            if error.retry_after > MAX_RETRY_AFTER_SECONDS:
                return None
            delay = max(error.retry_after, 0.0) + random.uniform(0, 0.1 * error.retry_after)  # noqa: S311
        if (
            self.job.deadline_at
            and timezone.now() + timedelta(seconds=delay) >= self.job.deadline_at
        ):
            return None
        return delay

    def succeed(self, call: _Call, completion: endpoint_calls.Completion) -> None:
        endpoint = self.endpoints[call.endpoint_id]
        messages = transcript_messages(
            _prompt(self.scenarios.get(call.scenario_id)), completion.content
        )
        with transaction.atomic():
            # The claim must still be ours: a worker that took the run over after our lease
            # lapsed stores its own answer, and ours is dropped rather than stored twice.
            mine = (
                ModelRun.objects.select_for_update()
                .filter(
                    pk=call.run_id,
                    status=JobStatus.RUNNING,
                    lease_holder=self.limiter.holder,
                    transcript__isnull=True,
                )
                .exists()
            )
            if not mine:
                return
            transcript = Transcript.objects.create(
                workspace_id=self.job.workspace_id,
                messages=messages,
                message_count=len(messages),
                content_hash=_content_hash(messages),
                source=f"rerun job {self.job.pk}",
                model=completion.model[:120],
                origin=TranscriptOrigin.RERUN,
                origin_scenario_id=call.scenario_id,
                metadata={
                    "rerun_job": self.job.pk,
                    "endpoint": endpoint.name,
                    "sample_index": call.sample_index,
                    "finish_reason": completion.finish_reason,
                    "parameters": self.job.parameters or {},
                },
            )
            ModelRun.objects.filter(pk=call.run_id).update(
                status=JobStatus.SUCCEEDED,
                transcript=transcript,
                attempts=call.attempts,
                error="",
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                latency_ms=completion.latency_ms,
                lease_expires_at=None,
                finished_at=timezone.now(),
            )
        self.tick()

    def finish(self, call: _Call, *, status: str, error: str) -> None:
        ModelRun.objects.filter(
            pk=call.run_id,
            status=JobStatus.RUNNING,
            lease_holder=self.limiter.holder,
            transcript__isnull=True,
        ).update(
            status=status,
            error=error[:2000],
            attempts=call.attempts,
            lease_expires_at=None,
            finished_at=timezone.now(),
        )
        self.tick()

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


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
    if job.campaign_id and job.status == JobStatus.SUCCEEDED:
        campaign = Campaign.objects.filter(pk=job.campaign_id).first()
        if campaign is not None and campaign.status != Campaign.Status.CLOSED:
            campaign_items_add(
                campaign=campaign,
                transcript_ids=ModelRun.objects.filter(
                    job=job, transcript__isnull=False
                ).values_list("transcript_id", flat=True),
            )
    return job


def rerun_job_run(
    *,
    job_id: int,
    client: httpx.Client | None = None,
    limiter: Limiter | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RerunJob | None:
    """Claim the job and run its calls (see the module's contracts); None if it was not
    claimable. ``client`` replaces the process's guarded HTTP client (tests and the bench pass
    one); ``progress(done, total)`` is called after each finished call."""
    job = rerun_job_claim(job_id=job_id)
    if job is None:
        return None
    runner = _Runner(
        job=job, limiter=limiter or limiter_for_worker(), client=client, progress=progress
    )
    with connection.cursor() as cursor:
        # Each call commits a few small writes (claim, slot, answer). Not waiting for each
        # commit's flush costs at most the last moment's writes on a crash, and those are
        # atomic: a lost answer is a call made again, never a second transcript.
        cursor.execute("SET synchronous_commit TO off")
    try:
        if runner.load():
            runner.run()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
    return _finalize(job, runner.stopping)
