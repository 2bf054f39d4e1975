"""Flagging a transcript for a re-run: the scenario it becomes and who asked, and why.

A flagged transcript becomes a scenario cut before its last assistant turn (the answer a model
will be asked to give again). One scenario per prompt per workspace, whatever its source: a
transcript whose prefix is already a scenario (imported, or flagged before) flags that one.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from clausebook import audit, permissions
from clausebook.models import Membership
from specs.models import Clause
from transcripts.formats.messages import content_hash
from transcripts.models import Scenario, ScenarioFlag, Transcript

FLAG_PERMISSION = "scenarios.flag"
#: Long enough for a paragraph; a reason is a note, not an essay.
MAX_REASON_CHARS = 2000
#: As long as the imports' scenario titles, so the scenario list reads the same.
TITLE_CHARS = 200


@dataclass(frozen=True)
class FlagResult:
    flag: ScenarioFlag
    scenario: Scenario
    scenario_created: bool


def last_assistant_turn(messages: list[dict[str, object]]) -> int | None:
    """Index of the last assistant message with at least one message before it, or None."""
    for index in range(len(messages) - 1, 0, -1):
        if messages[index].get("role") == "assistant":
            return index
    return None


def scenario_flag_create(
    *,
    membership: Membership,
    transcript: Transcript,
    reason: str,
    clause: Clause | None = None,
) -> FlagResult:
    """Flag ``transcript`` for a re-run: find or create its scenario (the conversation cut before
    its last assistant turn) and record a :class:`ScenarioFlag` with who asked and why, on which
    transcript, and, when it was raised on an (item, clause) pair, about which ``clause``.

    Raises ``PermissionDenied`` without the ``scenarios.flag`` right or for a transcript or
    clause of another workspace, ``ValidationError`` (by field) for an empty or long reason or a
    transcript without an assistant turn to re-run. Records one audit event.
    """
    permissions.require(membership, FLAG_PERMISSION)
    if transcript.workspace_id != membership.workspace_id:
        raise PermissionDenied("This transcript belongs to another workspace.")
    if clause is not None and clause.version.spec.workspace_id != membership.workspace_id:
        raise PermissionDenied("This clause belongs to another workspace.")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why this scenario should be re-run."})
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationError(
            {"reason": f"Keep the reason under {MAX_REASON_CHARS} characters ({len(reason)} now)."}
        )
    messages = list(transcript.messages)
    cut = last_assistant_turn(messages)
    if cut is None:
        raise ValidationError(
            {"transcript": "This transcript has no assistant answer after a prompt to re-run."}
        )
    prefix = messages[:cut]
    with transaction.atomic():
        scenario, created = _scenario_for_prefix(transcript, prefix, cut)
        flag = ScenarioFlag.objects.create(
            scenario=scenario,
            flagged_by=membership.user,
            reason=reason,
            clause=clause,
            transcript=transcript,
        )
        audit.record(
            verb="scenario.flag",
            actor=membership.user,
            workspace=membership.workspace,
            target=scenario,
            summary=f"Flagged {scenario} for a re-run",
            data={
                "transcript": transcript.pk,
                "flag": flag.pk,
                "clause": clause.key if clause is not None else None,
            },
        )
    return FlagResult(flag=flag, scenario=scenario, scenario_created=created)


def _scenario_for_prefix(
    transcript: Transcript, prefix: list[dict[str, object]], cut: int
) -> tuple[Scenario, bool]:
    digest = content_hash(prefix)
    existing = Scenario.objects.filter(
        workspace_id=transcript.workspace_id, content_hash=digest
    ).first()
    if existing is not None:
        return existing, False
    first_user = next((str(m.get("content") or "") for m in prefix if m.get("role") == "user"), "")
    try:
        # A savepoint: two reviewers flagging the same transcript at once race on the unique
        # (workspace, content_hash); the loser takes the winner's scenario.
        with transaction.atomic():
            scenario = Scenario.objects.create(
                workspace_id=transcript.workspace_id,
                source=Scenario.Source.TRANSCRIPT,
                origin_transcript=transcript,
                cut_before_turn=cut,
                title=first_user[:TITLE_CHARS],
                messages=prefix,
                content_hash=digest,
            )
    except IntegrityError:
        return Scenario.objects.get(
            workspace_id=transcript.workspace_id, content_hash=digest
        ), False
    return scenario, True
