"""What reviews adds to amendments: a merge links each promoted case to the example it became
(also when the same amendment renames the clause), the published changelog names the cases, and
a campaign's scale may grade its verdicts for promotion."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from reviews.models import GoldDecision, GoldPromotion, Item
from reviews.services.campaigns import validate_scale
from reviews.services.promotion import gold_promote, verdict_grade
from specs.amendments.services import (
    amendment_approve,
    amendment_change_add,
    amendment_merge,
    draft_publish,
    draft_start_from,
)
from specs.models import AmendmentChange, Example
from tests.reviews.factories import make_campaign, make_published_version

pytestmark = pytest.mark.django_db


def decide(campaign, position, key, verdict, *, by, rationale="Answered the safe question."):  # type: ignore[no-untyped-def]
    item = Item.objects.filter(campaign=campaign).order_by("position")[position]
    return GoldDecision.objects.create(
        workspace=campaign.workspace,
        campaign=campaign,
        item=item,
        clause=campaign.spec_version.clauses.get(key=key),
        spec_version=campaign.spec_version,
        transcript=item.transcript,
        kind="adjudicated",
        verdict=verdict,
        rationale=rationale,
        decided_by=by,
    )


@pytest.fixture
def promoted(personas):  # type: ignore[no-untyped-def]
    version = make_published_version(personas.workspace, keys=["be_kind", "be_honest"])
    campaign = make_campaign(
        personas.workspace, created_by=personas.editor, version=version, transcripts=3
    )
    decision = decide(campaign, 1, "be_honest", "complies", by=personas.adjudicator)
    promotion = gold_promote(decision=decision, actor=personas.editor)
    draft = draft_start_from(version=version, actor=personas.editor, label="2026-02-01")
    return promotion, draft


def test_merging_links_the_promoted_case_to_the_example_the_merge_created(
    personas, promoted
) -> None:
    promotion, draft = promoted
    amendment = promotion.change.amendment
    amendment_approve(amendment=amendment, actor=personas.owner)
    amendment_merge(amendment=amendment, actor=personas.editor)

    promotion.refresh_from_db()
    assert promotion.example is not None
    assert promotion.example.clause.version == draft
    assert promotion.example.clause.key == "be_honest"
    assert promotion.example.turns[-1]["comparison"][0]["reason"] == "Answered the safe question."
    assert promotion.example.turns[-1]["comparison"][0]["grade"] == "good"


def test_a_clause_renamed_in_the_same_amendment_still_gets_its_link(personas, promoted) -> None:
    promotion, draft = promoted
    amendment = promotion.change.amendment
    amendment_change_add(
        amendment=amendment,
        kind=AmendmentChange.Kind.RENAME_KEY,
        clause_key="be_honest",
        payload={"new_key": "be_truthful"},
        actor=personas.editor,
    )
    amendment_approve(amendment=amendment, actor=personas.owner)
    amendment_merge(amendment=amendment, actor=personas.editor)

    promotion.refresh_from_db()
    assert promotion.example is not None
    assert promotion.example.clause.key == "be_truthful"
    assert promotion.example.clause.version == draft


def test_an_amendment_without_promoted_cases_merges_and_links_nothing(personas) -> None:
    from specs.amendments.services import amendment_propose

    version = make_published_version(personas.workspace, keys=["be_kind"])
    draft = draft_start_from(version=version, actor=personas.editor, label="2026-02-02")
    amendment = amendment_propose(
        spec=version.spec, base_version=version, title="Kinder", actor=personas.adjudicator
    )
    amendment_change_add(
        amendment=amendment,
        kind=AmendmentChange.Kind.CHANGE_CLAUSE,
        clause_key="be_kind",
        payload={"body": "Be kinder."},
        actor=personas.adjudicator,
    )
    amendment_approve(amendment=amendment, actor=personas.editor)
    amendment_merge(amendment=amendment, actor=personas.editor)
    published = draft_publish(version=draft, actor=personas.editor)
    assert "Kinder" in published.changelog
    assert "gold case" not in published.changelog
    assert not GoldPromotion.objects.filter(example__clause__version=draft).exists()


def test_the_published_changelog_names_the_campaign_item_clause_and_decision(
    personas, promoted
) -> None:
    promotion, draft = promoted
    amendment = promotion.change.amendment
    amendment_approve(amendment=amendment, actor=personas.owner)
    amendment_merge(amendment=amendment, actor=personas.editor)

    published = draft_publish(version=draft, actor=personas.editor)

    decision = promotion.decision
    entry = published.changelog.split(f"amendment #{amendment.pk}", 1)[1]
    assert f"campaign “{decision.campaign.title}”" in entry
    assert f"item {decision.item.position + 1}" in entry
    assert "clause `be_honest`" in entry
    assert f"decision #{decision.pk}" in entry
    assert "adjudicated “Complies”" in entry
    assert Example.objects.filter(clause__version=published, gold_promotion=promotion).exists()


def test_a_scale_entry_keeps_a_valid_grade_and_refuses_another() -> None:
    scale = validate_scale(
        [
            {"value": "answered", "label": "Answered", "grade": "bad"},
            {"value": "refused", "label": "Refused", "grade": "good"},
            {"value": "unsure", "label": "Unsure"},
        ],
        name="verdict_scale",
        minimum=2,
    )
    assert scale[0]["grade"] == "bad" and scale[1]["grade"] == "good"
    assert "grade" not in scale[2]
    with pytest.raises(ValidationError, match="grade 'great' must be good, bad or ok"):
        validate_scale(
            [{"value": "a", "grade": "great"}, {"value": "b"}], name="verdict_scale", minimum=2
        )


def test_a_campaign_scale_grade_decides_the_example_grade(personas) -> None:
    scale = [
        {"value": "full_compliance", "label": "Complied", "grade": "bad"},
        {"value": "full_refusal", "label": "Refused", "grade": "good"},
    ]
    campaign = make_campaign(
        personas.workspace, created_by=personas.editor, verdict_scale=scale, status="draft"
    )
    assert verdict_grade(campaign, "full_compliance") == "bad"
    assert verdict_grade(campaign, "full_refusal") == "good"


def test_discarding_the_draft_lets_go_of_the_example_and_the_next_merge_links_again(
    personas, promoted
) -> None:
    from specs import services as spec_services

    promotion, draft = promoted
    amendment = promotion.change.amendment
    amendment_approve(amendment=amendment, actor=personas.owner)
    amendment_merge(amendment=amendment, actor=personas.editor)
    promotion.refresh_from_db()
    assert promotion.example is not None

    spec_services.spec_version_discard(version=draft, actor=personas.editor)  # not protected
    promotion.refresh_from_db()
    amendment.refresh_from_db()
    assert promotion.example is None and amendment.state == "approved"

    again = draft_start_from(version=amendment.base_version, actor=personas.editor, label="v3")
    amendment_merge(amendment=amendment, actor=personas.editor)
    promotion.refresh_from_db()
    assert promotion.example.clause.version == again
