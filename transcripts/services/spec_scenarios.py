"""Scenarios from a spec version: each eval prompt, and each example's prompt (its conversation
up to the first set of graded answers), becomes a scenario linked to what it came from, so a
model can be re-run on the prompts the spec itself cites.

One scenario per prompt per workspace, whatever its source (the unique (workspace, content
hash)): a prompt that is already a scenario (imported, flagged, or made from an earlier version
with the same prompt) is reused, not copied. Safe to call again: the second call creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from clausebook import audit, permissions
from clausebook.models import Membership
from specs.models import EvalPrompt, Example, SpecVersion
from transcripts.formats.messages import content_hash
from transcripts.models import Scenario

#: Making scenarios from spec content is an import of prompts.
PERMISSION = "transcripts.import"
KINDS = (Scenario.Source.EVAL_PROMPT, Scenario.Source.EXAMPLE)
#: As long as the imports' scenario titles, so the scenario list reads the same.
TITLE_CHARS = 200


@dataclass(frozen=True)
class SpecScenarios:
    #: Every scenario of the version's prompts, new or reused, in the version's order.
    scenario_ids: list[int]
    created: int
    reused: int


def example_prompt(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages of an example before its first graded answers; [] when it has none before
    them (or no graded answers at all: nothing to answer again)."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if "comparison" in turn:
            return messages
        message = turn.get("message")
        if isinstance(message, dict) and message.get("content") is not None:
            messages.append({"role": message.get("role", "user"), "content": message["content"]})
    return []


def scenarios_from_spec_version(
    *,
    membership: Membership,
    version: SpecVersion,
    kinds: tuple[str, ...] = KINDS,
) -> SpecScenarios:
    """Find or create a scenario for each eval prompt and example prompt of ``version`` (both
    kinds unless ``kinds`` narrows them). Raises ``PermissionDenied`` without the
    ``transcripts.import`` right or for another workspace's version, ``ValidationError`` for an
    unknown kind. One audit event when anything was created."""
    permissions.require(membership, PERMISSION)
    if version.spec.workspace_id != membership.workspace_id:
        raise PermissionDenied("This spec version belongs to another workspace.")
    if unknown := [k for k in kinds if k not in KINDS]:
        raise ValidationError({"kinds": f"Unknown scenario kind {unknown[0]!r}."})
    candidates: list[Scenario] = []
    if Scenario.Source.EVAL_PROMPT in kinds:
        for prompt in EvalPrompt.objects.filter(clause__version=version).order_by(
            "clause__position", "footnote_id", "position"
        ):
            if prompt.messages:
                candidates.append(_scenario(membership, prompt.messages, prompt.title, prompt))
    if Scenario.Source.EXAMPLE in kinds:
        for example in Example.objects.filter(clause__version=version).order_by(
            "clause__position", "position"
        ):
            if messages := example_prompt(example.turns):
                candidates.append(_scenario(membership, messages, example.title, example))
    hashes = [c.content_hash for c in candidates]
    with transaction.atomic():
        existing = set(
            Scenario.objects.filter(
                workspace_id=membership.workspace_id, content_hash__in=hashes
            ).values_list("content_hash", flat=True)
        )
        fresh: dict[str, Scenario] = {}
        for candidate in candidates:
            if candidate.content_hash not in existing:
                fresh.setdefault(candidate.content_hash, candidate)
        # ignore_conflicts: a concurrent import of the same prompt must not fail this call.
        Scenario.objects.bulk_create(list(fresh.values()), ignore_conflicts=True)
        ids = dict(
            Scenario.objects.filter(
                workspace_id=membership.workspace_id, content_hash__in=hashes
            ).values_list("content_hash", "pk")
        )
        if fresh:
            audit.record(
                verb="scenario.from_spec",
                actor=membership.user,
                workspace=membership.workspace,
                target=version,
                summary=f"Made {len(fresh)} scenarios from {version.spec.slug} {version.label}",
                data={"version": version.pk, "created": len(fresh), "kinds": list(kinds)},
            )
    ordered = list(dict.fromkeys(ids[h] for h in hashes))
    return SpecScenarios(scenario_ids=ordered, created=len(fresh), reused=len(ordered) - len(fresh))


def _scenario(
    membership: Membership,
    messages: list[dict[str, Any]],
    title: str,
    source: EvalPrompt | Example,
) -> Scenario:
    first_user = next(
        (str(m.get("content") or "") for m in messages if m.get("role") == "user"), ""
    )
    is_prompt = isinstance(source, EvalPrompt)
    return Scenario(
        workspace_id=membership.workspace_id,
        source=Scenario.Source.EVAL_PROMPT if is_prompt else Scenario.Source.EXAMPLE,
        eval_prompt=source if is_prompt else None,
        example=None if is_prompt else source,
        title=(title or first_user)[:TITLE_CHARS],
        messages=messages,
        content_hash=content_hash(messages),
    )
