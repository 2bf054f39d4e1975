"""Submitting an item: at least one verdict, frozen labels, agreed/disputed at k submissions."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from reviews.models import Assignment, Item, ItemState, Label
from reviews.services.campaigns import item_claim_next
from reviews.services.labels import LabelInput, assignment_submit, label_save
from tests.reviews.factories import make_campaign


def _label_and_submit(campaign, reviewer, verdicts: list[str]) -> Assignment:  # type: ignore[no-untyped-def]
    assignment = item_claim_next(campaign=campaign, reviewer=reviewer)
    assignment = Assignment.objects.select_related("item__campaign", "item__transcript").get(
        pk=assignment.pk
    )
    clauses = [cc.clause_id for cc in campaign.campaign_clauses.order_by("position")]
    for clause_id, verdict in zip(clauses, verdicts, strict=False):
        label_save(
            assignment=assignment,
            reviewer=reviewer,
            data=LabelInput(clause_id=clause_id, verdict=verdict),
            revision=None,
        )
    return assignment_submit(assignment=assignment, reviewer=reviewer)


@pytest.fixture
def campaign(personas):  # type: ignore[no-untyped-def]
    return make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        k=2,
    )


@pytest.mark.django_db
def test_an_item_labeled_alike_by_k_reviewers_is_agreed(personas, campaign) -> None:
    _label_and_submit(campaign, personas.reviewer, ["complies", "not_applicable"])
    item = Item.objects.get(campaign=campaign)
    assert (item.state, item.submitted_count) == (ItemState.OPEN, 1)
    _label_and_submit(campaign, personas.second_reviewer, ["complies", "not_applicable"])
    item.refresh_from_db()
    assert (item.state, item.submitted_count) == (ItemState.AGREED, 2)
    assert set(Label.objects.values_list("status", flat=True)) == {Label.Status.SUBMITTED}


@pytest.mark.django_db
def test_a_disagreement_on_any_clause_makes_the_item_disputed(personas, campaign) -> None:
    _label_and_submit(campaign, personas.reviewer, ["complies", "complies"])
    _label_and_submit(campaign, personas.second_reviewer, ["complies", "violates"])
    assert Item.objects.get(campaign=campaign).state == ItemState.DISPUTED


@pytest.mark.django_db
def test_submitting_needs_at_least_one_verdict_and_keeps_written_notes(personas, campaign) -> None:
    assignment = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    with pytest.raises(ValidationError):
        assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    clauses = [cc.clause_id for cc in campaign.campaign_clauses.order_by("position")]
    assignment = Assignment.objects.select_related("item__campaign", "item__transcript").get(
        pk=assignment.pk
    )
    label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause_id=clauses[0], verdict="complies"),
        revision=None,
    )
    label_save(
        assignment=assignment,
        reviewer=personas.reviewer,
        data=LabelInput(clause_id=clauses[1], rationale="Unsure, need to re-read"),
        revision=None,
    )
    with pytest.raises(ValidationError, match=r"Pick a verdict"):
        assignment_submit(assignment=assignment, reviewer=personas.reviewer)
    assert Label.objects.count() == 2


@pytest.mark.django_db
def test_submitted_labels_are_frozen(personas, campaign) -> None:
    assignment = _label_and_submit(campaign, personas.reviewer, ["complies"])
    assignment = Assignment.objects.select_related("item__campaign", "item__transcript").get(
        pk=assignment.pk
    )
    clause_id = campaign.campaign_clauses.order_by("position").first().clause_id
    with pytest.raises(ValidationError):
        label_save(
            assignment=assignment,
            reviewer=personas.reviewer,
            data=LabelInput(clause_id=clause_id, verdict="violates"),
            revision=2,
        )
    assert Label.objects.get().verdict == "complies"


@pytest.mark.django_db
def test_submit_through_the_page_moves_to_the_next_item(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=2,
        k=1,
    )
    client = personas.client_for(personas.reviewer)
    ws = personas.workspace.slug
    first = client.post(f"/w/{ws}/campaigns/{campaign.pk}/claim/")
    item_id = int(first["Location"].rstrip("/").split("/")[-1])
    clause_id = campaign.campaign_clauses.first().clause_id
    client.post(
        f"/w/{ws}/campaigns/{campaign.pk}/items/{item_id}/labels/",
        {"clause": clause_id, "verdict": "complies"},
        content_type="application/json",
    )
    response = client.post(f"/w/{ws}/campaigns/{campaign.pk}/items/{item_id}/submit/")
    assert response.status_code == 302
    assert (
        response["Location"].endswith("/")
        and str(item_id) not in response["Location"].split("/items/")[1]
    )
    assert Assignment.objects.get(item_id=item_id).status == Assignment.Status.SUBMITTED
