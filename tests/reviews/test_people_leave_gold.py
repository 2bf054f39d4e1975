"""People leave, evidence stays, for review work: removing a member or deactivating a user keeps
their labels, assignments and gold decisions (theirs and the ones their agreement made); deleting
such a user is refused rather than cascading. (The platform side is tests/clausebook.)"""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError

from clausebook import services
from clausebook.models import Membership
from reviews.models import Assignment, GoldDecision, Item, Label
from reviews.services.gold import decision_record
from tests.reviews.factories import label_and_submit, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold(personas):  # type: ignore[no-untyped-def]
    """Two reviewers agree on clause 1 (agreed gold) and disagree on clause 2, which the
    adjudicator decides."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=2,
    )
    label_and_submit(campaign, personas.reviewer, ["complies", "complies"])
    label_and_submit(campaign, personas.second_reviewer, ["complies", "violates"])
    decision_record(
        item=Item.objects.get(campaign=campaign),
        clause=campaign.campaign_clauses.order_by("position")[1].clause,
        actor=personas.adjudicator,
        verdict="violates",
        rationale="The second reviewer read it right.",
        current_decision_id=None,
    )
    return campaign


def _evidence(personas) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    return (
        Label.objects.filter(reviewer=personas.reviewer).count(),
        Assignment.objects.filter(reviewer=personas.reviewer).count(),
        GoldDecision.objects.filter(agreeing_reviewers=personas.reviewer).count(),
        GoldDecision.objects.filter(decided_by=personas.adjudicator).count(),
    )


def test_removing_members_keeps_their_labels_assignments_and_decisions(personas, gold) -> None:
    before = _evidence(personas)
    assert before == (2, 1, 1, 1)
    for user in (personas.reviewer, personas.adjudicator):
        services.membership_remove(
            membership=Membership.objects.get(workspace=personas.workspace, user=user),
            actor=personas.owner,
        )
    assert _evidence(personas) == before
    assert GoldDecision.objects.gold().count() == 2


def test_deactivating_users_keeps_their_labels_assignments_and_decisions(personas, gold) -> None:
    before = _evidence(personas)
    services.user_deactivate(user=personas.reviewer, actor=personas.owner)
    services.user_deactivate(user=personas.adjudicator, actor=personas.owner)
    assert _evidence(personas) == before
    agreed = GoldDecision.objects.get(kind="agreed")
    assert set(agreed.agreeing_reviewers.all()) == {personas.reviewer, personas.second_reviewer}


def test_deleting_a_reviewer_or_an_adjudicator_with_evidence_is_refused(personas, gold) -> None:
    before = _evidence(personas)
    with pytest.raises(ProtectedError):
        personas.reviewer.delete()
    with pytest.raises(ProtectedError):
        personas.adjudicator.delete()
    assert _evidence(personas) == before
