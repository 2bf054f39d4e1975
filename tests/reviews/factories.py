"""Shared builders for reviews tests: transcripts, published spec versions, campaigns.

Plain functions over the ORM (no factory-boy subclasses): the data model has database triggers
on published versions, so clauses are created while the version is a draft and only then is the
version published.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from itertools import count
from typing import Any

from django.utils import timezone

from clausebook.models import User, Workspace
from reviews.models import Campaign
from specs.models import Authority, Clause, Example, Spec, SpecVersion, VersionStatus
from transcripts.models import Transcript

_seq = count(1)


def make_transcript(
    workspace: Workspace,
    *,
    messages: list[dict[str, Any]] | None = None,
    message_count: int = 2,
    external_id: str | None = None,
    tags: Sequence[str] = (),
) -> Transcript:
    """One transcript; ``message_count`` alternating user/assistant turns unless given."""
    n = next(_seq)
    if messages is None:
        messages = [
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": f"Message {i} of transcript {n}: how do I bake **bread**?",
            }
            for i in range(message_count)
        ]
    digest = hashlib.sha256(json.dumps([n, messages]).encode()).hexdigest()
    return Transcript.objects.create(
        workspace=workspace,
        messages=messages,
        message_count=len(messages),
        content_hash=digest,
        external_id=external_id if external_id is not None else f"t-{n}",
        tags=list(tags),
        source="tests",
    )


def make_published_version(
    workspace: Workspace,
    *,
    clause_count: int = 3,
    keys: Sequence[str] | None = None,
    examples_per_clause: int = 1,
    label: str | None = None,
) -> SpecVersion:
    """A published spec version whose clauses are ``keys`` (or ``clause_1``…``clause_N``).

    The first clause is the root of the others (level 1, the rest level 2 under it), so a
    "subtree" scope can be tested.
    """
    n = next(_seq)
    spec, _ = Spec.objects.get_or_create(
        workspace=workspace, slug="model-spec", defaults={"title": "Model Spec"}
    )
    version = SpecVersion.objects.create(spec=spec, label=label or f"2025-12-{n:02d}")
    keys = list(keys) if keys is not None else [f"clause_{i + 1}" for i in range(clause_count)]
    authorities = [Authority.ROOT, Authority.SYSTEM, Authority.DEVELOPER, Authority.USER]
    parent = None
    clauses = []
    for position, key in enumerate(keys):
        clause = Clause.objects.create(
            version=version,
            key=key,
            title=key.replace("_", " ").capitalize(),
            level=1 if position == 0 else 2,
            parent=parent if position else None,
            position=position,
            authority=authorities[position % len(authorities)],
            body=f"The assistant should **{key.replace('_', ' ')}**.",
        )
        if position == 0:
            parent = clause
        clauses.append(clause)
    examples = [
        Example(
            clause=clause,
            position=i,
            title=f"Example {i + 1} for {clause.key}",
            turns=[
                {"message": {"role": "user", "content": "Tell me something."}},
                {
                    "comparison": [
                        {"content": "Sure.", "grade": "good", "reason": "Helpful."},
                        {"content": "No.", "grade": "bad", "reason": "Unhelpful."},
                    ]
                },
            ],
            fingerprint=f"{clause.pk}-{i}",
        )
        for clause in clauses
        for i in range(examples_per_clause)
    ]
    Example.objects.bulk_create(examples)
    version.clause_count = len(clauses)
    version.example_count = len(examples)
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.save()
    return version


def make_campaign(
    workspace: Workspace,
    *,
    created_by: User,
    reviewers: Sequence[User] = (),
    transcripts: int | Sequence[Transcript] = 3,
    clause_count: int = 3,
    k: int = 2,
    blind: bool = True,
    message_count: int = 2,
    verdict_scale: list[dict[str, str]] | None = None,
    version: SpecVersion | None = None,
    status: str = "open",
) -> Campaign:
    """A campaign through the real service, on a fresh published version unless given.

    It is open by default, so tests about labeling can claim at once. The service opens only a
    campaign with at least k seated reviewers; for tests that seat fewer (and are not about the
    lifecycle), the factory sets the status directly. Pass ``status="draft"`` for a draft.
    """
    from reviews.selectors.campaigns import ScopeChoice, TranscriptChoice
    from reviews.services.campaigns import campaign_create

    if version is None:
        version = make_published_version(workspace, clause_count=clause_count)
    if isinstance(transcripts, int):
        transcripts = [
            make_transcript(workspace, message_count=message_count) for _ in range(transcripts)
        ]
    seated_enough = len(set(reviewers)) >= k
    campaign = campaign_create(
        workspace=workspace,
        actor=created_by,
        title="Safety sample",
        spec_version=version,
        scope=ScopeChoice(mode="all"),
        transcripts=TranscriptChoice(source="ids", ids=[t.pk for t in transcripts]),
        reviewers=list(reviewers),
        reviewers_per_item=k,
        blind=blind,
        instructions="Label **every** clause you can.",
        verdict_scale=verdict_scale,
        open_now=status == Campaign.Status.OPEN and seated_enough,
    )
    if campaign.status != status:
        Campaign.objects.filter(pk=campaign.pk).update(status=status)
        campaign.refresh_from_db()
    return campaign


# --------------------------------------------------------------------------------------------------
# Labels, outcomes and judges (helper H2)
# --------------------------------------------------------------------------------------------------


def set_campaign_rule(campaign: Campaign, **fields: Any) -> Campaign:
    """Set campaign settings the creation service does not take yet (``agreement_rule``,
    ``agreement_min_share``, ``gold_from_agreement``, ``require_every_clause``, ...)."""
    Campaign.objects.filter(pk=campaign.pk).update(**fields)
    campaign.refresh_from_db()
    return campaign


def label_and_submit(
    campaign: Campaign, reviewer: User, verdicts: Sequence[str], severities: Sequence[str] = ()
) -> Any:
    """Claim the reviewer's next item, give ``verdicts`` clause by clause (in scope order) through
    the label service, and submit. Returns the submitted assignment."""
    from reviews.services.campaigns import item_claim_next
    from reviews.services.labels.core import LabelInput
    from reviews.services.labels.save import labels_save
    from reviews.services.labels.submit import assignment_submit

    assignment = item_claim_next(campaign=campaign, reviewer=reviewer)
    assert assignment is not None, "nothing left to claim"
    clause_ids = [cc.clause_id for cc in campaign.campaign_clauses.order_by("position")]
    labels = [
        LabelInput(
            clause=clause_id,
            verdict=verdict,
            severity=severities[i] if i < len(severities) else None,
        )
        for i, (clause_id, verdict) in enumerate(zip(clause_ids, verdicts, strict=False))
    ]
    labels_save(assignment=assignment, reviewer=reviewer, labels=labels)
    return assignment_submit(assignment=assignment, reviewer=reviewer)


def make_judge_run(
    campaign: Campaign,
    *,
    created_by: User,
    name: str = "Judge model",
    prompt_version: str = "judge-v1",
) -> Any:
    """A model endpoint and a judge run of it on ``campaign``."""
    from reviews.models import JudgeRun, ModelEndpoint

    endpoint, _ = ModelEndpoint.objects.get_or_create(
        workspace=campaign.workspace,
        name=name,
        defaults={"base_url": "https://models.example.test/v1", "model": "judge-large"},
    )
    return JudgeRun.objects.create(
        workspace=campaign.workspace,
        campaign=campaign,
        endpoint=endpoint,
        prompt_version=prompt_version,
        created_by=created_by,
    )
