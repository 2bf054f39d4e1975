"""Model judges: creating a judge run and running it.

Contracts
---------
* :func:`judge_call_count` is the number of model calls a run would make (shown before it
  starts): items × clauses in scope (``per_pair``), or items (``per_item``).
* :func:`judge_run_create` needs ``judges.run``; the endpoint must be the campaign's
  workspace's (else 404). It records the prompt version (``reviews.judging.prompts``) and the
  call count, and enqueues ``reviews.run_judge`` on commit.
* :func:`judge_run_execute` claims a queued run (``queued`` → ``running``, a conditional
  UPDATE: a second delivery does nothing), skips every pair this run already labeled, makes the
  remaining calls concurrently (a bounded thread pool; the threads only talk HTTP, the
  database writes happen in the calling thread), and stores each valid answer through
  ``reviews.services.labels.judge.judge_label_record``. An answer the schema refuses is counted
  in ``invalid_count`` with a few kept in ``invalid_sample``, never guessed; a call that fails
  (after retrying transient errors) is counted in ``failed_count`` with its safe message in
  ``error``. The run ends ``succeeded`` unless every call failed.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from clausebook import audit, permissions
from clausebook.models import Membership, User
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

    run_judge.delay_on_commit(run.pk)
    return run, calls


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


def judge_run_claim(*, run_id: int) -> bool:
    """``queued`` → ``running``, once: the delivery that wins does the work."""
    return bool(
        JudgeRun.objects.filter(pk=run_id, status=JobStatus.QUEUED).update(status=JobStatus.RUNNING)
    )


def judge_run_execute(*, run_id: int) -> JudgeRun:
    """Run a queued judge run to the end (see the module). A run not queued is returned as is."""
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
        futures = [
            pool.submit(_call_endpoint, run.endpoint, call, *prepared[call]) for call in calls
        ]
        for future in as_completed(futures):
            outcome = future.result()
            if outcome.error is not None:
                failures += 1
                last_error = outcome.error
                _count(run, failed=1, error=outcome.error)
                continue
            _store(run, outcome, items[outcome.call.item_id], clauses, prepared[outcome.call][1])
    status = JobStatus.FAILED if calls and failures == len(calls) else JobStatus.SUCCEEDED
    JudgeRun.objects.filter(pk=run.pk).update(
        status=status,
        finished_at=timezone.now(),
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
        return _Outcome(call, content=completion.content)
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
        _invalid(run, call, clauses, str(exc), outcome.content or "")
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
            _invalid(run, call, clauses, "; ".join(exc.messages), outcome.content or "")
            return
    _count(run)


def _invalid(
    run: JudgeRun,
    call: _Call,
    clauses: dict[int, tuple[Clause, prompts.ClauseText]],
    reason: str,
    content: str,
) -> None:
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
        )


def _count(run: JudgeRun, *, failed: int = 0, error: str = "") -> None:
    changes: dict[str, Any] = {"calls_done": F("calls_done") + 1}
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
