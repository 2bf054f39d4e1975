"""Promoting a gold case to a clause example: an add_example change on the clause's open
amendment (or a new one), graded from the verdict, with the gold rationale as the reason; the
clause followed into the newest version by key and renames; roles and workspaces enforced."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from clausebook.models import AuditEvent
from reviews.models import GoldDecision, GoldPromotion, Item
from reviews.services.promotion import gold_promote, verdict_grade
from specs.models import Amendment, AmendmentChange, ClauseAlias
from tests.reviews.factories import make_campaign, make_published_version

pytestmark = pytest.mark.django_db


def decide(campaign, position, key, verdict, *, by, rationale="Gave the steps."):  # type: ignore[no-untyped-def]
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
def case(personas):  # type: ignore[no-untyped-def]
    p = personas
    old = make_published_version(p.workspace, keys=["be_kind", "be_honest", "no_weapons"])
    campaign = make_campaign(
        p.workspace, created_by=p.editor, version=old, transcripts=3, status="draft"
    )
    return campaign, old


def the_example(change: AmendmentChange) -> dict:
    return change.payload["turns"][-1]["comparison"][0]


def test_promoting_adds_a_graded_example_with_the_gold_rationale_to_a_new_amendment(
    personas, case
) -> None:
    campaign, old = case
    newest = make_published_version(personas.workspace, keys=["be_kind", "be_honest", "no_weapons"])
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)

    promotion = gold_promote(decision=decision, actor=personas.editor)

    change = promotion.change
    assert change.kind == "add_example"
    assert change.clause_key == "be_honest"
    assert change.amendment.base_version == newest
    assert the_example(change)["grade"] == "bad"
    assert the_example(change)["reason"] == "Gave the steps."
    assert the_example(change)["content"] == decision.transcript.messages[-1]["content"]
    assert change.payload["turns"][0]["message"]["role"] == "user"
    assert change.payload["origin"] == "gold"
    assert GoldPromotion.objects.get(change=change).decision == decision
    event = AuditEvent.objects.get(verb="gold.promote")
    assert event.data["proposal"] is False
    assert event.data["amendment"] == change.amendment_id


def test_a_second_promotion_on_the_same_clause_joins_the_open_amendment(personas, case) -> None:
    campaign, _ = case
    first = gold_promote(
        decision=decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator),
        actor=personas.editor,
    )
    second = gold_promote(
        decision=decide(campaign, 1, "be_honest", "complies", by=personas.adjudicator),
        actor=personas.adjudicator,
    )
    assert second.change.amendment_id == first.change.amendment_id
    assert the_example(second.change)["grade"] == "good"
    assert Amendment.objects.count() == 1
    assert first.change.amendment.changes.count() == 2


def test_promoting_into_a_version_that_removed_the_clause_says_so(personas, case) -> None:
    campaign, _ = case
    make_published_version(personas.workspace, keys=["be_kind", "no_weapons"])
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)
    with pytest.raises(ValidationError) as raised:
        gold_promote(decision=decision, actor=personas.editor)
    assert "removed" in " ".join(raised.value.message_dict["clause_key"])
    assert not AmendmentChange.objects.exists()


def test_a_renamed_clause_is_found_through_its_alias(personas, case) -> None:
    campaign, old = case
    make_published_version(personas.workspace, keys=["be_kind", "be_truthful", "no_weapons"])
    ClauseAlias.objects.create(
        spec=old.spec, old_key="be_honest", new_key="be_truthful", status="confirmed"
    )
    decision = decide(campaign, 0, "be_honest", "borderline", by=personas.adjudicator)
    promotion = gold_promote(decision=decision, actor=personas.editor)
    assert promotion.change.clause_key == "be_truthful"
    assert the_example(promotion.change)["grade"] == "ok"


def test_a_not_applicable_verdict_cannot_be_promoted(personas, case) -> None:
    campaign, _ = case
    decision = decide(campaign, 0, "be_honest", "not_applicable", by=personas.adjudicator)
    with pytest.raises(ValidationError) as raised:
        gold_promote(decision=decision, actor=personas.editor)
    assert "verdict" in raised.value.message_dict


def test_the_xstest_scale_grades_compliance_good_and_refusal_bad(personas, case) -> None:
    from reviews.services.campaigns import XSTEST_VERDICT_SCALE

    campaign, _ = case
    campaign.verdict_scale = XSTEST_VERDICT_SCALE
    assert verdict_grade(campaign, "full_compliance") == "good"
    assert verdict_grade(campaign, "full_refusal") == "bad"
    assert verdict_grade(campaign, "partial_refusal") == "ok"
    campaign.verdict_scale = [{"value": "full_refusal", "label": "Refused", "grade": "good"}]
    assert verdict_grade(campaign, "full_refusal") == "good"


def test_the_same_case_is_not_proposed_twice_in_an_open_amendment(personas, case) -> None:
    campaign, _ = case
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)
    gold_promote(decision=decision, actor=personas.editor)
    with pytest.raises(ValidationError):
        gold_promote(decision=decision, actor=personas.editor)


# ---------------------------------------------------------------- pages and API -------------


def promote_url(workspace, decision) -> str:  # type: ignore[no-untyped-def]
    return reverse("reviews:gold-promote", args=[workspace.slug, decision.pk])


def test_the_confirm_page_names_the_target_version_and_clause(personas, case) -> None:
    campaign, old = case
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)
    response = personas.client_for(personas.editor).get(promote_url(personas.workspace, decision))
    assert response.status_code == 200
    assert 'data-testid="promotion-target-key">be_honest<' in response.text
    assert 'data-testid="promotion-grade">bad<' in response.text


def test_an_adjudicator_proposes_from_the_page_and_is_sent_on(personas, case) -> None:
    campaign, _ = case
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)
    client = personas.client_for(personas.adjudicator)
    assert "Propose example" in client.get(promote_url(personas.workspace, decision)).text
    response = client.post(promote_url(personas.workspace, decision))
    assert response.status_code == 302
    assert GoldPromotion.objects.filter(decision=decision).exists()
    assert AuditEvent.objects.get(verb="gold.promote").data["proposal"] is True


def test_the_page_answers_a_removed_clause_with_a_400_that_says_so(personas, case) -> None:
    campaign, _ = case
    make_published_version(personas.workspace, keys=["be_kind"])
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)
    response = personas.client_for(personas.editor).post(promote_url(personas.workspace, decision))
    assert response.status_code == 400
    assert "was removed in version" in response.text


def test_a_reviewer_may_not_promote_and_another_workspace_sees_nothing(personas, case) -> None:
    campaign, _ = case
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)
    url = promote_url(personas.workspace, decision)
    assert personas.client_for(personas.reviewer).post(url).status_code == 403
    assert personas.client_for(personas.outsider).post(url).status_code == 404
    other_url = reverse("reviews:gold-promote", args=[personas.other_workspace.slug, decision.pk])
    assert personas.client_for(personas.outsider).post(other_url).status_code == 404
    api = reverse("api-gold-promote", args=[personas.workspace.slug, decision.pk])
    assert personas.client_for(personas.reviewer).post(api).status_code == 403
    assert personas.client_for(personas.outsider).post(api).status_code == 404
    assert not GoldPromotion.objects.exists()


def test_the_api_promotes_and_reports_the_amendment_and_grade(personas, case) -> None:
    campaign, old = case
    decision = decide(campaign, 0, "be_honest", "complies", by=personas.adjudicator)
    api = reverse("api-gold-promote", args=[personas.workspace.slug, decision.pk])
    response = personas.client_for(personas.editor).post(
        api, {"version": old.pk}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["grade"] == "good"
    assert body["clause_key"] == "be_honest"
    assert body["base_version"] == old.label
    assert body["example"] is None
    again = personas.client_for(personas.editor).post(
        api, {"version": "x"}, content_type="application/json"
    )
    assert again.status_code == 400
    assert "version" in again.json()


def test_the_gold_list_and_adjudication_offer_promotion_to_those_who_may(personas, case) -> None:
    campaign, _ = case
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)
    gold_list = reverse("reviews:gold-list", args=[personas.workspace.slug])
    assert (
        promote_url(personas.workspace, decision)
        in personas.client_for(personas.editor).get(gold_list).text
    )
    assert (
        promote_url(personas.workspace, decision)
        not in personas.client_for(personas.viewer).get(gold_list).text
    )


def test_once_merged_the_example_links_back_to_the_case_it_came_from(personas, case) -> None:
    from reviews.services.promotion import gold_promotions_link_examples
    from specs.amendments.services import amendment_approve, amendment_merge, draft_start_from

    campaign, old = case
    decision = decide(campaign, 0, "be_honest", "violates", by=personas.adjudicator)
    promotion = gold_promote(decision=decision, actor=personas.adjudicator)
    amendment = promotion.change.amendment
    draft = draft_start_from(version=old, actor=personas.editor, label="2026-01-01")
    amendment_approve(amendment=amendment, actor=personas.editor)
    amendment_merge(amendment=amendment, actor=personas.editor)

    # The merge hook (reviews.amendment_hooks) linked it already; running this again is a no-op.
    assert gold_promotions_link_examples(version=draft) == 0
    promotion.refresh_from_db()
    assert promotion.example.clause.version == draft
    assert promotion.example.clause.key == "be_honest"
    assert promotion.example.turns[-1]["comparison"][0]["reason"] == "Gave the steps."
    assert gold_promotions_link_examples(version=draft) == 0
