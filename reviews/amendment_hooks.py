"""What the reviews app adds to the specs app's amendment machinery, registered from
``ReviewsConfig.ready`` (specs never imports reviews):

* :func:`link_promoted_examples`, a merge hook: once an amendment merges, each gold promotion of
  that amendment points at the example the merge created, so the example keeps a link to the
  case it came from.
* :func:`unlink_discarded_examples`, an unmerge hook: a discarded draft's examples are let go.
* :func:`changelog_case_lines`, a changelog source: under each merged amendment of a published
  version's changelog, one line per promoted case (campaign, item, clause, decision), then one
  per case linked to it as motivation (``reviews.services.amendment_cases``).
"""

from __future__ import annotations

from reviews.models import AmendmentCase, GoldDecision, GoldPromotion
from specs.amendments.selectors import merged_examples
from specs.models import Amendment, SpecVersion


def link_promoted_examples(amendment: Amendment, draft: SpecVersion) -> None:
    """Link the amendment's unlinked promotions to the examples its merge into ``draft`` created
    (found through ``merged_examples``, which follows renames made in the same amendment).
    Runs inside the merge's transaction: an error here rolls the merge back."""
    pending = list(
        GoldPromotion.objects.select_for_update(of=("self",)).filter(
            change__amendment=amendment, example__isnull=True
        )
    )
    if not pending:
        return
    examples = merged_examples(amendment)
    taken = set(
        GoldPromotion.objects.filter(
            example_id__in=[example.pk for example in examples.values()]
        ).values_list("example_id", flat=True)
    )
    linked = []
    for promotion in pending:
        example = examples.get(promotion.change_id) if promotion.change_id else None
        if example is not None and example.pk not in taken:
            promotion.example = example
            taken.add(example.pk)
            linked.append(promotion)
    GoldPromotion.objects.bulk_update(linked, ["example"])


def unlink_discarded_examples(amendments: list[Amendment], draft: SpecVersion) -> None:
    """An unmerge hook: the draft the amendments merged into is being discarded, so their
    promotions let go of the draft's examples (which would otherwise protect the draft); the
    next merge links them again (:func:`link_promoted_examples`)."""
    GoldPromotion.objects.filter(
        change__amendment__in=[a.pk for a in amendments], example__clause__version=draft
    ).update(example=None)


def _decision_text(decision: GoldDecision) -> str:
    labels = {
        entry.get("value"): entry.get("label")
        for entry in decision.campaign.verdict_scale
        if isinstance(entry, dict)
    }
    verdict = labels.get(decision.verdict) or decision.verdict
    return f"{decision.get_kind_display().lower()} “{verdict}” (decision #{decision.pk})"


def changelog_case_lines(amendments: list[Amendment]) -> dict[int, list[str]]:
    """``{amendment id: [line]}``: for each gold case promoted into one of ``amendments``, the
    campaign, the item (numbered from 1, as the pages show it), the clause and the decision;
    then each case linked to it as a motivating case (``AmendmentCase``) that was not also
    promoted into it. Two queries whatever the number of amendments."""
    ids = [a.pk for a in amendments]
    promotions = (
        GoldPromotion.objects.filter(change__amendment__in=ids)
        .select_related("change", "decision__campaign", "decision__item", "decision__clause")
        .order_by("change__position", "pk")
    )
    lines: dict[int, list[str]] = {}
    promoted: set[tuple[int, int, int]] = set()
    for promotion in promotions:
        decision = promotion.decision
        amendment_id = promotion.change.amendment_id
        promoted.add((amendment_id, decision.item_id, decision.clause_id))
        lines.setdefault(amendment_id, []).append(
            f"Example from a gold case: campaign “{decision.campaign.title}”, "
            f"item {decision.item.position + 1}, clause `{decision.clause.key}`, "
            f"{_decision_text(decision)}"
        )
    cases = (
        AmendmentCase.objects.filter(amendment__in=ids)
        .select_related("item__campaign", "clause", "decision__campaign")
        .order_by("linked_at", "pk")
    )
    for case in cases:
        if (case.amendment_id, case.item_id, case.clause_id) in promoted:
            continue
        decided = _decision_text(case.decision) if case.decision is not None else "no gold decision"
        lines.setdefault(case.amendment_id, []).append(
            f"Motivating case: campaign “{case.item.campaign.title}”, "
            f"item {case.item.position + 1}, clause `{case.clause.key}`, {decided}"
        )
    return lines
