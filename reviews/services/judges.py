"""Model judges: creating a judge run and running it.

Contracts
---------
* :func:`judge_call_count` is the number of model calls a run would make (shown before it
  starts): items × clauses in scope (``per_pair``), or items (``per_item``).
* :func:`judge_run_create` needs ``judges.run``; the endpoint must be the campaign's
  workspace's (else 404). It records the prompt version (``reviews.judging.prompts``) and the
  call count, and enqueues ``reviews.run_judge`` on commit (a broker that is down: the run is
  failed saying so, and ``QueueUnavailable``, a 503, is raised).
* :func:`judge_run_execute` claims a queued run, or a running one whose lease lapsed (its
  worker died), with a conditional UPDATE (a second delivery does nothing while the lease is
  renewed; the task sends it again for when the lease lapses; a run whose worker died
  ``RERUN_MAX_ATTEMPTS`` times is failed, not looped), renews the lease while it works, skips every pair this run already labeled, makes the
  remaining calls concurrently (a bounded thread pool; the threads only talk HTTP, the
  database writes happen in the calling thread), and stores each valid answer through
  ``reviews.services.labels.judge.judge_label_record``. An answer the schema refuses is counted
  in ``invalid_count`` with a few kept in ``invalid_sample``, never guessed; a call that fails
  (after retrying transient errors) is counted in ``failed_count`` with its safe message in
  ``error``. The run ends ``succeeded`` unless every call failed. The tokens the endpoint
  reports for each answered call (valid or not) are added to the run's ``prompt_tokens`` and
  ``completion_tokens`` in the statement that counts the call.
* :func:`judge_run_cancel` stops a queued or running run (calls not started never start; calls
  in flight finish and their labels are kept); :func:`judge_run_sweep` (``reviews.sweep_runs``)
  enqueues again, or fails, runs whose lease lapsed.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from clausebook import audit, permissions
from clausebook.models import Membership, User
from clausebook.queueing import enqueue_on_commit
from reviews.judging import prompts, schema
from reviews.models import (
    Campaign,
    CampaignClause,
    Item,
    JobStatus,
    JudgeRun,
    Label,
    LabelSource,
    ModelEndpoint,
)
from reviews.models.runs import JudgeMode
from reviews.services import endpoints as endpoint_calls
from reviews.services import reruns
from reviews.services.labels.core import MAX_RATIONALE
from reviews.services.labels.judge import judge_label_record
from specs.models import Clause

PERMISSION = "judges.run"
#: Threads per run, whatever the endpoint allows: each holds an open HTTP call, nothing more.
MAX_THREADS = 32
MAX_ATTEMPTS = 3
MAX_BACKOFF_SECONDS = 10.0
INVALID_SAMPLE_SIZE = 5
ANSWER_EXCERPT = 300


def judge_call_count(campaign: Campaign, mode: str = JudgeMode.PER_PAIR) -> int:
    items = Item.objects.filter(campaign=campaign).count()
    if mode == JudgeMode.PER_ITEM:
        return items
    return items * CampaignClause.objects.filter(campaign=campaign).count()


@transaction.atomic
def judge_run_create(
    *,
    campaign: Campaign,
    endpoint: ModelEndpoint,
    actor: User,
    mode: str = JudgeMode.PER_PAIR,
) -> tuple[JudgeRun, int]:
    """A queued judge run of ``endpoint`` on ``campaign``, and the number of calls it will make."""
    membership = Membership.objects.filter(workspace_id=campaign.workspace_id, user=actor).first()
    if membership is None:
        raise Http404("No such workspace")
    permissions.require(membership, PERMISSION)
    if endpoint.workspace_id != campaign.workspace_id:
        raise Http404("No such endpoint")
    if mode not in JudgeMode.values:
        raise ValidationError({"mode": f"Choose one of: {', '.join(JudgeMode.values)}."})
    if not campaign.verdict_scale:
        raise ValidationError({"campaign": "This campaign has no verdict scale to judge with."})
    calls = judge_call_count(campaign, mode)
    if calls == 0:
        raise ValidationError({"campaign": "This campaign has no items or clauses to judge."})
    run = JudgeRun.objects.create(
        workspace_id=campaign.workspace_id,
        campaign=campaign,
        endpoint=endpoint,
        prompt_version=prompts.PROMPT_VERSION,
        created_by=actor,
        mode=mode,
        calls_total=calls,
    )
    audit.record(
        verb="judge_run.create",
        actor=actor,
        workspace=campaign.workspace,
        target=run,
        summary=f"Judge run of {endpoint.name} on {campaign.title}: {calls} calls",
        data={"campaign": campaign.pk, "endpoint": endpoint.pk, "mode": mode, "calls": calls},
    )
    from reviews.tasks import run_judge

    # A broker that is down leaves the run failed, saying so; the caller gets a 503.
    enqueue_on_commit(run_judge, run.pk, on_failure=lambda: _not_queued(run))
    return run, calls


def _not_queued(run: JudgeRun) -> None:
    now = timezone.now()
    JudgeRun.objects.filter(pk=run.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.FAILED, error=reruns.NOT_QUEUED, finished_at=now
    )
    run.status, run.error, run.finished_at = JobStatus.FAILED, reruns.NOT_QUEUED, now


# ------------------------------------------------------------------ running -----------------


@dataclass(frozen=True)
class _Call:
    item_id: int
    clause_ids: tuple[int, ...]


@dataclass
class _Outcome:
    call: _Call
    content: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def judge_run_claim(*, run_id: int) -> bool:
    """Take a queued run, or a running one whose worker stopped renewing its lease, once: the
    delivery that wins does the work. A lapsed run out of claims is failed instead."""
    now = timezone.now()
    claimable = Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, lease_expires_at__lt=now)
    claimed = JudgeRun.objects.filter(
        claimable, pk=run_id, attempts__lt=reruns.MAX_JOB_ATTEMPTS
    ).update(
        status=JobStatus.RUNNING,
        lease_expires_at=now + timedelta(seconds=reruns.LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        _fail_exhausted(run_id, now)
    return bool(claimed)


def _fail_exhausted(run_id: int, now: Any) -> bool:
    message = (
        f"The worker running this judge run stopped {reruns.MAX_JOB_ATTEMPTS} times; "
        "it was not started again. Labels already stored are kept."
    )
    return bool(
        JudgeRun.objects.filter(
            pk=run_id,
            status=JobStatus.RUNNING,
            lease_expires_at__lt=now,
            attempts__gte=reruns.MAX_JOB_ATTEMPTS,
        ).update(status=JobStatus.FAILED, error=message, finished_at=now, lease_expires_at=None)
    )


def judge_run_busy_seconds(*, run_id: int) -> float | None:
    """Seconds until a running run's lease lapses, or None when it is not running."""
    found = JudgeRun.objects.filter(pk=run_id, status=JobStatus.RUNNING).only("lease_expires_at")
    run = found.first()
    if run is None:
        return None
    if run.lease_expires_at is None:
        return 0.0
    return max(0.0, (run.lease_expires_at - timezone.now()).total_seconds())


def _renew(run_id: int) -> bool:
    """Extend the run's lease; False once it is no longer running (cancelled)."""
    return bool(
        JudgeRun.objects.filter(pk=run_id, status=JobStatus.RUNNING).update(
            lease_expires_at=timezone.now() + timedelta(seconds=reruns.LEASE_SECONDS)
        )
    )


def judge_run_sweep(*, now: Any = None) -> int:
    """Judge runs whose worker died or whose message was lost (``reruns.sweep_jobs``)."""
    from reviews.tasks import run_judge

    return reruns.sweep_jobs(
        JudgeRun, send=run_judge.delay, fail_exhausted=_fail_exhausted, now=now or timezone.now()
    )


@transaction.atomic
def judge_run_cancel(*, run: JudgeRun, actor: User) -> bool:
    """Stop a queued or running judge run: no new call starts (calls in flight finish and their
    labels are kept). False if it had already finished."""
    membership = Membership.objects.filter(workspace_id=run.workspace_id, user=actor).first()
    if membership is None:
        raise Http404("No such workspace")
    permissions.require(membership, PERMISSION)
    now = timezone.now()
    cancelled = JudgeRun.objects.filter(
        pk=run.pk, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(status=JobStatus.CANCELLED, finished_at=now, lease_expires_at=None)
    if not cancelled:
        return False
    audit.record(
        verb="judge_run.cancel",
        actor=actor,
        workspace=run.campaign.workspace,
        target=run,
        summary=f"Cancelled judge run {run.pk}",
    )
    run.status = JobStatus.CANCELLED
    run.finished_at = now
    return True


def judge_run_execute(*, run_id: int) -> JudgeRun:
    """Run a claimable judge run to the end (see the module). One not claimable (finished, or
    held by a live worker) is returned as is."""
    if not judge_run_claim(run_id=run_id):
        return JudgeRun.objects.get(pk=run_id)
    run = JudgeRun.objects.select_related("campaign__workspace", "endpoint").get(pk=run_id)
    campaign = run.campaign
    scope = list(
        CampaignClause.objects.filter(campaign=campaign)
        .order_by("position")
        .values_list("clause_id", flat=True)
    )
    clauses = _clause_texts(scope)
    calls = _calls_left(run, scope)
    JudgeRun.objects.filter(pk=run.pk).update(calls_done=max(run.calls_total - len(calls), 0))
    verdicts = [entry["value"] for entry in campaign.verdict_scale]
    severities = [entry["value"] for entry in campaign.severity_scale]
    items = {
        item.pk: item
        for item in Item.objects.select_related("transcript").filter(
            pk__in={call.item_id for call in calls}
        )
    }

    def request(call: _Call) -> tuple[list[dict[str, str]], dict[str, Any]]:
        texts = [clauses[pk][1] for pk in call.clause_ids]
        messages = prompts.build_messages(
            clauses=texts,
            transcript=items[call.item_id].transcript.messages,
            verdicts=verdicts,
            severities=severities,
        )
        return messages, _schema_for(run.mode, texts, verdicts, severities)

    prepared = {call: request(call) for call in calls}
    failures = 0
    last_error = ""
    threads = max(1, min(run.endpoint.concurrency, MAX_THREADS, len(calls) or 1))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"judge-{run.pk}") as pool:
        pending = {
            pool.submit(_call_endpoint, run.endpoint, call, *prepared[call]) for call in calls
        }
        next_check = time.monotonic() + reruns.CHECK_SECONDS
        while pending:
            done, pending = wait(pending, timeout=reruns.CHECK_SECONDS, return_when=FIRST_COMPLETED)
            for future in done:
                if future.cancelled():
                    continue
                outcome = future.result()
                if outcome.error is not None:
                    failures += 1
                    last_error = outcome.error
                    _count(run, failed=1, error=outcome.error)
                    continue
                _store(
                    run, outcome, items[outcome.call.item_id], clauses, prepared[outcome.call][1]
                )
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + reruns.CHECK_SECONDS
                if not _renew(run.pk):
                    # Cancelled: calls not started never start; those in flight finish.
                    for future in pending:
                        future.cancel()
    status = JobStatus.FAILED if calls and failures == len(calls) else JobStatus.SUCCEEDED
    JudgeRun.objects.filter(pk=run.pk, status=JobStatus.RUNNING).update(
        status=status,
        finished_at=timezone.now(),
        lease_expires_at=None,
        error=last_error if status == JobStatus.FAILED else F("error"),
    )
    run.refresh_from_db()
    return run


def _schema_for(
    mode: str, texts: list[prompts.ClauseText], verdicts: list[str], severities: list[str]
) -> dict[str, Any]:
    if mode == JudgeMode.PER_ITEM:
        return schema.item_schema(
            clause_keys=[t.key for t in texts],
            verdicts=verdicts,
            severities=severities,
            max_rationale=MAX_RATIONALE,
        )
    return schema.verdict_schema(
        verdicts=verdicts, severities=severities, max_rationale=MAX_RATIONALE
    )


def _clause_texts(clause_ids: list[int]) -> dict[int, tuple[Clause, prompts.ClauseText]]:
    found = Clause.objects.filter(pk__in=clause_ids).prefetch_related("examples")
    out = {}
    for clause in found:
        examples = sorted(clause.examples.all(), key=lambda e: e.position)
        out[clause.pk] = (
            clause,
            prompts.ClauseText(
                key=clause.key,
                title=clause.title,
                text=clause.body,
                examples=tuple(prompts.example_from_turns(e.title, e.turns) for e in examples),
            ),
        )
    return out


def _calls_left(run: JudgeRun, scope: list[int]) -> list[_Call]:
    """Every (item, clause) in scope this run has not labeled yet, grouped by the run's mode."""
    done: defaultdict[int, set[int]] = defaultdict(set)
    for item_id, clause_id in Label.objects.filter(
        source=LabelSource.JUDGE, judge_run=run
    ).values_list("item_id", "clause_id"):
        done[item_id].add(clause_id)
    calls = []
    for item_id in (
        Item.objects.filter(campaign_id=run.campaign_id)
        .order_by("position")
        .values_list("pk", flat=True)
    ):
        missing = tuple(pk for pk in scope if pk not in done[item_id])
        if not missing:
            continue
        if run.mode == JudgeMode.PER_ITEM:
            calls.append(_Call(item_id, missing))
        else:
            calls.extend(_Call(item_id, (pk,)) for pk in missing)
    return calls


def _call_endpoint(
    endpoint: ModelEndpoint,
    call: _Call,
    messages: list[dict[str, str]],
    answer_schema: dict[str, Any],
) -> _Outcome:
    """One call, retried on transient errors with capped, jittered backoff. No database here."""
    parameters = {"response_format": schema.response_format(answer_schema)}
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            completion = endpoint_calls.chat_completion(endpoint, messages, parameters)
        except endpoint_calls.EndpointError as exc:
            if not exc.retryable or attempt == MAX_ATTEMPTS:
                return _Outcome(call, error=str(exc))
            wait = getattr(exc, "retry_after", None)
            if wait is None:
                wait = endpoint_calls.backoff_seconds(attempt)
            _sleep(min(wait, MAX_BACKOFF_SECONDS))
            continue
        return _Outcome(
            call,
            content=completion.content,
            prompt_tokens=completion.prompt_tokens or 0,
            completion_tokens=completion.completion_tokens or 0,
        )
    return _Outcome(call, error="no attempt was made")  # pragma: no cover - loop always returns


_sleeper = threading.Event()


def _sleep(seconds: float) -> None:
    _sleeper.wait(seconds)


def _store(
    run: JudgeRun,
    outcome: _Outcome,
    item: Item,
    clauses: dict[int, tuple[Clause, prompts.ClauseText]],
    answer_schema: dict[str, Any],
) -> None:
    call = outcome.call
    try:
        document = schema.parse_answer(outcome.content or "", answer_schema)
    except schema.InvalidAnswer as exc:
        _invalid(run, outcome, clauses, str(exc))
        return
    answers = (
        [(pk, document[clauses[pk][1].key]) for pk in call.clause_ids]
        if run.mode == JudgeMode.PER_ITEM
        else [(call.clause_ids[0], document)]
    )
    for clause_id, answer in answers:
        try:
            judge_label_record(
                judge_run=run,
                item=item,
                clause=clauses[clause_id][0],
                verdict=answer["verdict"],
                severity=answer["severity"],
                rationale=answer["rationale"],
            )
        except ValidationError as exc:
            _invalid(run, outcome, clauses, "; ".join(exc.messages))
            return
    _count(run, outcome)


def _invalid(
    run: JudgeRun,
    outcome: _Outcome,
    clauses: dict[int, tuple[Clause, prompts.ClauseText]],
    reason: str,
) -> None:
    call, content = outcome.call, outcome.content or ""
    sample = {
        "item": call.item_id,
        "clauses": [clauses[pk][1].key for pk in call.clause_ids],
        "reason": reason[:300],
        "answer": content[:ANSWER_EXCERPT],
    }
    with transaction.atomic():
        locked = JudgeRun.objects.select_for_update().only("invalid_sample").get(pk=run.pk)
        kept = list(locked.invalid_sample or [])
        if len(kept) < INVALID_SAMPLE_SIZE:
            kept.append(sample)
        JudgeRun.objects.filter(pk=run.pk).update(
            invalid_count=F("invalid_count") + 1,
            calls_done=F("calls_done") + 1,
            invalid_sample=kept,
            **_tokens(outcome),
        )


def _tokens(outcome: _Outcome) -> dict[str, Any]:
    """The run's token totals, plus what the endpoint reported for this call."""
    if not (outcome.prompt_tokens or outcome.completion_tokens):
        return {}
    return {
        "prompt_tokens": F("prompt_tokens") + outcome.prompt_tokens,
        "completion_tokens": F("completion_tokens") + outcome.completion_tokens,
    }


def _count(
    run: JudgeRun, outcome: _Outcome | None = None, *, failed: int = 0, error: str = ""
) -> None:
    changes: dict[str, Any] = {"calls_done": F("calls_done") + 1}
    if outcome is not None:
        changes.update(_tokens(outcome))
    if failed:
        changes.update(failed_count=F("failed_count") + failed, error=error[:500])
    JudgeRun.objects.filter(pk=run.pk).update(**changes)


# ------------------------------------------------------------------ reading -----------------


def judge_runs_of(campaign: Campaign) -> list[JudgeRun]:
    return list(
        JudgeRun.objects.filter(campaign=campaign).select_related("endpoint").order_by("-pk")
    )


def judge_run_in_workspace(workspace_id: int, run_id: int) -> JudgeRun:
    """The workspace's judge run (with campaign and endpoint), or 404."""
    run = (
        JudgeRun.objects.select_related("campaign", "endpoint")
        .filter(workspace_id=workspace_id, pk=run_id)
        .first()
    )
    if run is None:
        raise Http404("No such judge run")
    return run
