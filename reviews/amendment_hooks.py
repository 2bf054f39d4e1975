"""What the reviews app adds to the specs app's amendment machinery, registered from
``ReviewsConfig.ready`` (specs never imports reviews):

* :func:`link_promoted_examples`, a merge hook: once an amendment merges, each gold promotion of
  that amendment points at the example the merge created, so the example keeps a link to the
  case it came from.
* :func:`changelog_case_lines`, a changelog source: under each merged amendment of a published
  version's changelog, one line per promoted case (campaign, item, clause, decision).
"""

from __future__ import annotations

from reviews.models import GoldDecision, GoldPromotion
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
    campaign, the item (numbered from 1, as the pages show it), the clause and the decision.
    One query whatever the number of amendments."""
    promotions = (
        GoldPromotion.objects.filter(change__amendment__in=[a.pk for a in amendments])
        .select_related("change", "decision__campaign", "decision__item", "decision__clause")
        .order_by("change__position", "pk")
    )
    lines: dict[int, list[str]] = {}
    for promotion in promotions:
        decision = promotion.decision
        lines.setdefault(promotion.change.amendment_id, []).append(
            f"Example from a gold case: campaign “{decision.campaign.title}”, "
            f"item {decision.item.position + 1}, clause `{decision.clause.key}`, "
            f"{_decision_text(decision)}"
        )
    return lines
