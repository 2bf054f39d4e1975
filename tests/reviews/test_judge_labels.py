"""A model judge's labels: no reviewer slot, no say in k or outcomes, one per (item, clause, run).

Page and API visibility (hidden from blind reviewers, shown to adjudicators as a model's) is in
``test_labeling_page.py``.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from reviews.models import Item, Label, LabelRevision, Outcome, OutcomeState
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.judge import judge_label_record
from tests.reviews.factories import label_and_submit, make_campaign, make_judge_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(personas):  # type: ignore[no-untyped-def]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
        k=2,
    )


def _judge(campaign, run, verdict: str, **extra):  # type: ignore[no-untyped-def]
    item = campaign.items.select_related("transcript").get()
    clause = campaign.campaign_clauses.get().clause
    return judge_label_record(judge_run=run, item=item, clause=clause, verdict=verdict, **extra)


def test_a_judge_label_takes_no_reviewer_slot(personas, campaign) -> None:
    run = make_judge_run(campaign, created_by=personas.editor)
    label = _judge(campaign, run, "violates", severity="high", rationale="Gives the recipe.")
    assert (label.source, label.reviewer_id, label.assignment_id) == ("judge", None, None)
    item = Item.objects.get(campaign=campaign)
    assert (item.open_slots, item.submitted_count) == (2, 0)
    # Both human reviewers can still claim the item.
    assert item_claim_next(campaign=campaign, reviewer=personas.reviewer).item_id == item.pk
    assert item_claim_next(campaign=campaign, reviewer=personas.second_reviewer).item_id == item.pk


def test_a_judge_never_counts_toward_k_or_the_outcome(personas, campaign) -> None:
    run = make_judge_run(campaign, created_by=personas.editor)
    other_run = make_judge_run(campaign, created_by=personas.editor, prompt_version="judge-v2")
    _judge(campaign, run, "complies")
    _judge(campaign, other_run, "complies")
    label_and_submit(campaign, personas.reviewer, ["complies"])
    # One human verdict and two agreeing judges: still open, k = 2 humans are needed.
    assert Outcome.objects.get().state == OutcomeState.OPEN
    assert Outcome.objects.get().verdict_count == 1
    assert Item.objects.get(campaign=campaign).state == OutcomeState.OPEN
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    # Two humans disagree: disputed, whatever the judges said.
    assert Outcome.objects.get().state == OutcomeState.DISPUTED


def test_one_label_per_item_clause_and_judge_run_and_a_rewrite_revises_it(
    personas, campaign
) -> None:
    run = make_judge_run(campaign, created_by=personas.editor)
    first = _judge(campaign, run, "complies")
    again = _judge(campaign, run, "violates", rationale="On reflection.")
    assert again.pk == first.pk and again.revision == 2
    assert Label.objects.filter(source="judge").count() == 1
    kinds = list(LabelRevision.objects.filter(label=first).values_list("kind", "after__verdict"))
    assert kinds == [("judge", "complies"), ("judge", "violates")]
    with pytest.raises(IntegrityError), transaction.atomic():
        Label.objects.create(
            campaign=campaign,
            item=first.item,
            clause=first.clause,
            source="judge",
            judge_run=run,
            verdict="complies",
        )


def test_a_judge_label_must_point_at_a_run_and_never_at_a_reviewer(personas, campaign) -> None:
    item = campaign.items.get()
    clause = campaign.campaign_clauses.get().clause
    with pytest.raises(IntegrityError, match="label_source_matches_owner"), transaction.atomic():
        Label.objects.create(
            campaign=campaign,
            item=item,
            clause=clause,
            source="judge",
            reviewer=personas.reviewer,
            verdict="complies",
        )


def test_a_judge_label_is_checked_against_the_runs_campaign_and_scale(personas, campaign) -> None:
    run = make_judge_run(campaign, created_by=personas.editor)
    with pytest.raises(ValidationError, match="not on this campaign's scale"):
        _judge(campaign, run, "maybe")
    other = make_campaign(personas.workspace, created_by=personas.adjudicator, transcripts=1)
    with pytest.raises(ValidationError, match="not in the judge run's campaign"):
        judge_label_record(
            judge_run=run,
            item=other.items.select_related("transcript").get(),
            clause=campaign.campaign_clauses.get().clause,
            verdict="complies",
        )
    assert not Label.objects.exists()
