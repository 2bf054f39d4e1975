"""Outcomes per (item, clause) in the database: the campaign's rule, re-evaluation whenever a
counted label changes, gold from agreement, and adjudication's last word."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from reviews.models import (
    DecisionKind,
    GoldDecision,
    Item,
    Label,
    Outcome,
    OutcomeState,
)
from reviews.outcomes import outcomes_refresh, outcomes_refresh_campaign
from reviews.services.gold import decision_record
from reviews.services.labels.core import LabelInput
from reviews.services.labels.save import labels_save
from tests.reviews.factories import label_and_submit, make_campaign, set_campaign_rule

pytestmark = pytest.mark.django_db


def _campaign(personas, *, clauses: int = 3, k: int = 2, reviewers=None):  # type: ignore[no-untyped-def]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=reviewers or [personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=clauses,
        k=k,
    )


def _states(campaign) -> list[str]:  # type: ignore[no-untyped-def]
    outcomes = {o.clause_id: o.state for o in Outcome.objects.filter(campaign=campaign)}
    return [
        outcomes.get(cc.clause_id, OutcomeState.OPEN)
        for cc in campaign.campaign_clauses.order_by("position")
    ]


def _revise(assignment, reviewer, clause_id: int, verdict: str):  # type: ignore[no-untyped-def]
    label = Label.objects.get(assignment=assignment, clause_id=clause_id)
    return labels_save(
        assignment=assignment,
        reviewer=reviewer,
        labels=[LabelInput(clause=clause_id, verdict=verdict, revision=label.revision)],
    )


def test_one_item_can_be_disputed_on_one_clause_agreed_on_another_and_adjudicated_on_a_third(
    personas,
) -> None:
    campaign = _campaign(personas)
    label_and_submit(campaign, personas.reviewer, ["complies", "complies", "complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates", "complies", "violates"])
    assert _states(campaign) == ["disputed", "agreed", "disputed"]
    item = Item.objects.get(campaign=campaign)
    third = campaign.campaign_clauses.order_by("position")[2].clause
    decision_record(
        item=item,
        clause=third,
        actor=personas.adjudicator,
        verdict="violates",
        severity="medium",
        rationale="The second reading is right.",
        current_decision_id=None,
    )
    assert _states(campaign) == ["disputed", "agreed", "adjudicated"]
    assert Item.objects.get(pk=item.pk).state == OutcomeState.DISPUTED


def test_the_share_rule_agrees_with_a_dissenter(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer, personas.adjudicator],
        transcripts=1,
        clause_count=1,
        k=3,
    )
    set_campaign_rule(campaign, agreement_rule="share", agreement_min_share=Decimal("0.66"))
    label_and_submit(campaign, personas.reviewer, ["violates"])
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    assert _states(campaign) == ["open"]  # two verdicts, k = 3
    label_and_submit(campaign, personas.adjudicator, ["complies"])
    outcome = Outcome.objects.get()
    assert (outcome.state, outcome.verdict_count, outcome.top_verdict) == ("agreed", 3, "violates")
    gold = GoldDecision.objects.gold().get()
    assert gold.rule == "share >= 0.66 of at least 3 verdicts"
    assert set(gold.agreeing_reviewers.all()) == {personas.reviewer, personas.second_reviewer}


def test_a_revision_after_submission_re_evaluates_and_supersedes_the_agreed_gold(
    personas,
) -> None:
    campaign = _campaign(personas, clauses=1)
    mine = label_and_submit(campaign, personas.reviewer, ["complies"], ["low"])
    label_and_submit(campaign, personas.second_reviewer, ["complies"], ["low"])
    clause_id = campaign.campaign_clauses.get().clause_id
    agreed = GoldDecision.objects.get()
    assert (agreed.kind, agreed.verdict, agreed.severity, agreed.decided_by) == (
        DecisionKind.AGREED,
        "complies",
        "low",
        None,
    )
    assert agreed.campaign == campaign and agreed.spec_version_id == campaign.spec_version_id
    assert set(agreed.agreeing_reviewers.all()) == {personas.reviewer, personas.second_reviewer}

    _revise(mine, personas.reviewer, clause_id, "violates")
    assert _states(campaign) == ["disputed"]
    withdrawn = GoldDecision.objects.current().get()
    assert (withdrawn.kind, withdrawn.supersedes) == (DecisionKind.WITHDRAWN, agreed)
    assert not GoldDecision.objects.gold().exists()

    _revise(mine, personas.reviewer, clause_id, "complies")
    assert _states(campaign) == ["agreed"]
    again = GoldDecision.objects.gold().get()
    assert (again.kind, again.supersedes) == (DecisionKind.AGREED, withdrawn)
    # Nothing was deleted: three decisions, one current.
    kinds = list(GoldDecision.objects.order_by("id").values_list("kind", "is_current"))
    assert kinds == [("agreed", False), ("withdrawn", False), ("agreed", True)]


def test_without_gold_from_agreement_an_agreed_pair_makes_no_gold(personas) -> None:
    campaign = _campaign(personas, clauses=1)
    set_campaign_rule(campaign, gold_from_agreement=False)
    label_and_submit(campaign, personas.reviewer, ["complies"])
    label_and_submit(campaign, personas.second_reviewer, ["complies"])
    assert _states(campaign) == ["agreed"]
    assert not GoldDecision.objects.exists()


def test_re_evaluation_never_overwrites_a_current_adjudication(personas) -> None:
    campaign = _campaign(personas, clauses=1)
    mine = label_and_submit(campaign, personas.reviewer, ["complies"])
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    item = Item.objects.get(campaign=campaign)
    clause = campaign.campaign_clauses.get().clause
    decision = decision_record(
        item=item,
        clause=clause,
        actor=personas.adjudicator,
        verdict="violates",
        rationale="Clear violation.",
        current_decision_id=None,
    )
    # Its labels are final now (issue 11: revisions only while disputed and not adjudicated).
    with pytest.raises(ValidationError, match="its labels are final"):
        _revise(mine, personas.reviewer, clause.pk, "violates")
    outcome = Outcome.objects.get()
    assert outcome.state == "adjudicated"
    assert GoldDecision.objects.current().get() == decision
    outcomes_refresh(item=item)
    outcomes_refresh_campaign(campaign=campaign)
    assert Outcome.objects.get().state == "adjudicated"


def test_a_campaign_wide_refresh_recomputes_outcomes_from_the_labels(personas) -> None:
    campaign = _campaign(personas, clauses=2)
    label_and_submit(campaign, personas.reviewer, ["complies", "complies"])
    label_and_submit(campaign, personas.second_reviewer, ["complies", "violates"])
    # Someone wrote the table behind the rule's back; the refresh puts it right.
    Outcome.objects.update(state="open")
    Item.objects.update(state="agreed")
    assert outcomes_refresh_campaign(campaign=campaign) == 1
    assert _states(campaign) == ["agreed", "disputed"]
    assert Item.objects.get(campaign=campaign).state == "disputed"
    assert outcomes_refresh_campaign(campaign=campaign) == 0


def test_drafts_never_count(personas) -> None:
    campaign = _campaign(personas, clauses=1)
    label_and_submit(campaign, personas.reviewer, ["complies"])
    from reviews.services.campaigns import item_claim_next

    theirs = item_claim_next(campaign=campaign, reviewer=personas.second_reviewer)
    labels_save(
        assignment=theirs,
        reviewer=personas.second_reviewer,
        labels=[LabelInput(clause=campaign.campaign_clauses.get().clause_id, verdict="complies")],
    )
    outcomes_refresh(item=theirs.item)
    outcome = Outcome.objects.get()
    assert (outcome.state, outcome.verdict_count) == ("open", 1)
