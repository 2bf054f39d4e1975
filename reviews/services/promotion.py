"""Promoting a gold case to an example of its clause.

Contracts
---------
* ``gold_promote`` turns one current gold decision into an ``add_example`` change of an amendment
  against a published version of the decision's spec (the newest published one unless given).
  The change joins the open amendment that already changes that clause, or opens one
  (``specs.amendments.services.amendment_for_clause``). Editors promote; adjudicators may too,
  and theirs is recorded as a proposal. Either way the amendment still needs its approvals: a
  promotion never changes a published version.
* The example has the structure of the spec's own examples: the conversation up to the model's
  last answer as messages, then that answer as a ``comparison`` candidate graded from the gold
  verdict (``verdict_grade``), with the gold rationale as its reason; ``origin`` is ``gold``.
* The clause is found in the target version by its key, then through the spec's confirmed
  renames; a clause removed from that version is a ValidationError saying so.
* A ``GoldPromotion`` row links the decision to the change (and, once the amendment merges, to
  the example: ``gold_promotions_link_examples``), so the example keeps a link to the case it
  came from.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from clausebook import audit, permissions
from clausebook.models import Membership, User
from reviews.models import Campaign, GoldDecision, GoldPromotion
from reviews.models.gold import GOLD_KINDS
from reviews.selectors.campaigns import ScopeChoice, TranscriptChoice
from reviews.selectors.clause_history import changed_since
from reviews.services.campaigns import campaign_create
from specs.amendments.services import (
    OPEN_STATES,
    amendment_change_add,
    amendment_for_clause,
    resolve_key,
)
from specs.models import AmendmentChange, Example, SpecVersion, VersionStatus

#: The one home of the verdict → example grade rule. A scale entry may carry its own ``"grade"``
#: (``good``, ``bad`` or ``ok``); otherwise its value is looked up here. A verdict with no grade
#: (``not_applicable``, or a custom value not listed) cannot be promoted: a case the clause does
#: not apply to is no example of it.
#:
#: * the default scale: complies → good, violates → bad, borderline → ok;
#: * the XSTest scale (``XSTEST_VERDICT_SCALE``): full_compliance → good, full_refusal → bad,
#:   partial_refusal → ok. XSTest's safe prompts are the ones its campaigns review against
#:   ``assume_best_intentions``, where answering is right; for its unsafe contrast prompts the
#:   grades would invert, so a campaign over those should give its scale entries explicit grades.
DEFAULT_GRADES: dict[str, str] = {
    "complies": "good",
    "violates": "bad",
    "borderline": "ok",
    "full_compliance": "good",
    "full_refusal": "bad",
    "partial_refusal": "ok",
}
GRADES = frozenset({"good", "bad", "ok"})
#: Right that makes a promotion the editor's own rather than a proposal.
PROMOTE_PERMISSION = "gold.promote"
#: Right needed at all (adjudicators propose).
PROPOSE_PERMISSION = "amendments.propose"
_TITLE_MAX = 120


def verdict_grade(campaign: Campaign, verdict: str) -> str | None:
    """The example grade (``good``, ``bad``, ``ok``) a verdict of ``campaign``'s scale maps to,
    or None when that verdict is not promotable."""
    for entry in campaign.verdict_scale:
        if isinstance(entry, dict) and entry.get("value") == verdict:
            grade = entry.get("grade")
            if grade in GRADES:
                return grade
            break
    return DEFAULT_GRADES.get(verdict)


def promotion_target_version(
    decision: GoldDecision, version: SpecVersion | None = None
) -> SpecVersion:
    """The published version a promotion targets: ``version`` if it is a published version of the
    decision's spec, else the spec's newest published version. ValidationError otherwise."""
    spec_id = decision.spec_version.spec_id
    published = SpecVersion.objects.filter(spec_id=spec_id, status=VersionStatus.PUBLISHED)
    if version is not None:
        if version.spec_id != spec_id or version.status != VersionStatus.PUBLISHED:
            raise ValidationError(
                {"version": ["Promote into a published version of the decision's spec."]}
            )
        return version
    newest = published.order_by("-published_at", "-pk").select_related("spec").first()
    if newest is None:  # the decision's own version is published, so this cannot happen
        raise ValidationError({"version": ["This spec has no published version."]})
    return newest


def promotion_clause_key(decision: GoldDecision, version: SpecVersion) -> str:
    """The decision's clause as it is keyed in ``version`` (by key, then confirmed renames), or
    ValidationError ``{"clause_key": ...}`` when the clause was removed."""
    key = decision.clause.key
    found = resolve_key(version.spec, version, key)
    if found is None:
        raise ValidationError(
            {
                "clause_key": [
                    f"Clause “{key}” was removed in version {version.label}: "
                    "there is no clause to add this example to."
                ]
            }
        )
    return found


def example_payload(decision: GoldDecision, grade: str) -> dict[str, Any]:
    """The ``add_example`` payload for ``decision``: the conversation before the model's last
    answer as messages, that answer graded ``grade`` with the gold rationale as the reason."""
    messages = [m for m in decision.transcript.messages if isinstance(m, dict)]
    last_answer = max(
        (i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None
    )
    if last_answer is None:
        raise ValidationError({"transcript": ["The conversation has no answer from the model."]})
    turns: list[dict[str, Any]] = [
        {"message": {"role": m["role"], "content": _text(m.get("content")), "attrs": {}}}
        for m in messages[:last_answer]
        if m.get("role") in {"system", "developer", "user", "assistant", "tool"}
    ]
    rationale = decision.rationale.strip() or f"Gold verdict: {decision.verdict}."
    turns.append(
        {
            "comparison": [
                {
                    "content": _text(messages[last_answer].get("content")),
                    "grade": grade,
                    "reason": rationale,
                    "cites": "",
                    "attrs": {},
                }
            ]
        }
    )
    first_user = next((t for t in turns if t.get("message", {}).get("role") == "user"), None)
    summary = " ".join(first_user["message"]["content"].split()) if first_user else ""
    title = summary or f"Gold case from {decision.campaign.title}"
    if len(title) > _TITLE_MAX:
        title = title[: _TITLE_MAX - 1].rstrip() + "…"
    return {"title": title, "turns": turns, "origin": "gold"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return "" if content is None else str(content)


@transaction.atomic
def gold_promote(
    *,
    decision: GoldDecision,
    actor: User,
    version: SpecVersion | None = None,
) -> GoldPromotion:
    """Promote ``decision`` to an example of its clause in ``version`` (default: the spec's
    newest published version); see the module's contracts.

    Raises PermissionDenied without ``amendments.propose``; ValidationError (naming the field)
    for a decision that is not current gold, a verdict with no grade, a removed clause, a
    conversation with no answer, or a decision already promoted into an open amendment.
    """
    membership = Membership.objects.filter(
        workspace_id=decision.workspace_id, user_id=actor.pk
    ).first()
    if membership is None:
        raise PermissionDenied("Only members of the workspace may promote its gold.")
    permissions.require(membership, PROPOSE_PERMISSION)
    decision = (
        GoldDecision.objects.select_related(
            "campaign", "clause", "spec_version__spec", "transcript"
        )
        .select_for_update(of=("self",))
        .get(pk=decision.pk)
    )
    if not decision.is_current or decision.kind not in GOLD_KINDS:
        raise ValidationError({"decision": ["Only current gold can be promoted."]})
    grade = verdict_grade(decision.campaign, decision.verdict)
    if grade is None:
        raise ValidationError(
            {"verdict": [f"A “{decision.verdict}” verdict has no example grade to promote to."]}
        )
    target = promotion_target_version(decision, version)
    clause_key = promotion_clause_key(decision, target)
    pending = GoldPromotion.objects.filter(
        decision=decision,
        change__amendment__base_version=target,
        change__amendment__state__in=OPEN_STATES,
    )
    if pending.exists():
        raise ValidationError(
            {"decision": ["This case is already proposed as an example in an open amendment."]}
        )
    payload = example_payload(decision, grade)
    amendment = amendment_for_clause(
        spec=target.spec, base_version=target, clause_key=clause_key, actor=actor
    )
    change = amendment_change_add(
        amendment=amendment,
        kind=AmendmentChange.Kind.ADD_EXAMPLE,
        clause_key=clause_key,
        payload=payload,
        actor=actor,
    )
    promotion = GoldPromotion.objects.create(decision=decision, change=change, promoted_by=actor)
    as_proposal = not permissions.can(membership, PROMOTE_PERMISSION)
    audit.record(
        verb="gold.promote",
        actor=actor,
        workspace=decision.workspace,
        target=decision,
        summary=(
            f"{'proposed' if as_proposal else 'promoted'} {decision.clause.key} gold "
            f"as a {grade} example in amendment #{amendment.pk}"
        ),
        data={
            "decision": decision.pk,
            "amendment": amendment.pk,
            "change": change.pk,
            "version": target.pk,
            "clause_key": clause_key,
            "grade": grade,
            "proposal": as_proposal,
        },
    )
    return promotion


@transaction.atomic
def rereview_campaign_create(
    *,
    version: SpecVersion,
    clause_key: str,
    actor: User,
    from_version: SpecVersion | None = None,
    title: str = "",
) -> Campaign:
    """A draft campaign against ``version`` over the transcripts labeled against an older version
    of clause ``clause_key`` that changed in ``version`` (``changed_since``; only those labeled
    against ``from_version`` when given), scoped to that clause. ValidationError when there is
    nothing to re-review; PermissionDenied without ``campaigns.create`` (``campaign_create``
    checks the rest: same workspace, published version)."""
    workspace = version.spec.workspace
    membership = Membership.objects.filter(workspace=workspace, user_id=actor.pk).first()
    if membership is None:
        raise PermissionDenied("Only members of the workspace may create its campaigns.")
    permissions.require(membership, "campaigns.create")
    groups = [
        group
        for group in changed_since(version, clause_key)
        if from_version is None or group.version.pk == from_version.pk
    ]
    transcript_ids = sorted({pk for group in groups for pk in group.transcript_ids})
    if not transcript_ids:
        raise ValidationError(
            {"clause_key": [f"No items labeled against an earlier “{clause_key}” need re-review."]}
        )
    labels = ", ".join(group.version.label for group in groups)
    return campaign_create(
        workspace=workspace,
        actor=actor,
        title=title or f"Re-review {clause_key} against {version.label} (labeled against {labels})",
        spec_version=version,
        scope=ScopeChoice(mode="list", keys=[clause_key]),
        transcripts=TranscriptChoice(source="ids", ids=transcript_ids),
        scope_description=f"{clause_key}, changed since {labels}",
    )


@transaction.atomic
def gold_promotions_link_examples(*, version: SpecVersion) -> int:
    """Link each promotion whose amendment merged into ``version`` to the example it became
    there (found by the change's fingerprint); return how many were linked. Safe to run again:
    linked promotions are left alone. Specs cannot call reviews, so whoever merges or publishes
    on the review side (or a page showing the promotion) calls this."""
    pending = GoldPromotion.objects.filter(
        example__isnull=True, change__amendment__merged_into=version
    ).select_related("change")
    linked = 0
    for promotion in pending.select_for_update(of=("self",)):
        example = (
            Example.objects.filter(
                clause__version=version,
                clause__key=promotion.change.clause_key,
                fingerprint=promotion.change.payload.get("fingerprint", ""),
                gold_promotion__isnull=True,
            )
            .order_by("pk")
            .first()
        )
        if example is not None:
            promotion.example = example
            promotion.save(update_fields=["example"])
            linked += 1
    return linked
