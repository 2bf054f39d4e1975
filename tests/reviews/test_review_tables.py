"""The tables later features write to say what those features need (issue 8's placeholders).

Comments belong to one (item, clause) pair or to an amendment, never to an item alone; an
approval is of one revision of an amendment; a scenario flag says who asked and why.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from reviews.models import Comment, Item
from specs.models import Amendment, AmendmentApproval
from tests.reviews.factories import make_campaign, make_transcript
from transcripts.models import Scenario, ScenarioFlag


@pytest.fixture
def campaign(personas):
    return make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=2,
    )


def _amendment(personas, campaign) -> Amendment:
    return Amendment.objects.create(
        spec=campaign.spec_version.spec,
        base_version=campaign.spec_version,
        title="Say when a refusal is partial",
        author=personas.editor,
    )


def test_a_comment_belongs_to_an_item_and_one_of_its_clauses(personas, campaign):
    item = Item.objects.get(campaign=campaign)
    clause = campaign.clauses.first()
    comment = Comment.objects.create(
        workspace=personas.workspace, item=item, clause=clause, author=personas.reviewer, body="Hm."
    )
    assert list(Comment.objects.filter(item=item, clause=clause)) == [comment]
    with (
        pytest.raises(IntegrityError, match="comment_on_a_pair_or_an_amendment"),
        transaction.atomic(),
    ):
        Comment.objects.create(
            workspace=personas.workspace, item=item, author=personas.reviewer, body="Which?"
        )


def test_a_comment_on_an_amendment_names_no_item(personas, campaign):
    amendment = _amendment(personas, campaign)
    Comment.objects.create(
        workspace=personas.workspace, amendment=amendment, author=personas.owner, body="Agreed."
    )
    with (
        pytest.raises(IntegrityError, match="comment_on_a_pair_or_an_amendment"),
        transaction.atomic(),
    ):
        Comment.objects.create(
            workspace=personas.workspace,
            amendment=amendment,
            item=Item.objects.get(campaign=campaign),
            clause=campaign.clauses.first(),
            author=personas.owner,
            body="Both?",
        )


def test_an_approval_is_of_one_revision_so_an_edit_needs_a_new_one(personas, campaign):
    amendment = _amendment(personas, campaign)
    AmendmentApproval.objects.create(amendment=amendment, user=personas.owner, revision=1)
    # The amendment is edited (revision 2): the same editor approves again, and both stay.
    AmendmentApproval.objects.create(amendment=amendment, user=personas.owner, revision=2)
    assert sorted(amendment.approvals.values_list("revision", flat=True)) == [1, 2]
    with pytest.raises(IntegrityError, match="amendment_approval_unique"), transaction.atomic():
        AmendmentApproval.objects.create(amendment=amendment, user=personas.owner, revision=2)


def test_a_scenario_flag_keeps_who_asked_and_why(personas):
    transcript = make_transcript(personas.workspace, message_count=4)
    scenario = Scenario.objects.create(
        workspace=personas.workspace,
        source=Scenario.Source.TRANSCRIPT,
        origin_transcript=transcript,
        cut_before_turn=1,
        messages=transcript.messages[:1],
        content_hash="a" * 64,
    )
    ScenarioFlag.objects.create(scenario=scenario, flagged_by=personas.reviewer, reason="Refused")
    ScenarioFlag.objects.create(
        scenario=scenario, flagged_by=personas.second_reviewer, reason="Try the new model"
    )
    assert sorted(scenario.flags.values_list("flagged_by__email", "reason")) == sorted(
        [
            (personas.reviewer.email, "Refused"),
            (personas.second_reviewer.email, "Try the new model"),
        ]
    )


def test_a_scenario_cut_from_a_transcript_must_say_where(personas):
    transcript = make_transcript(personas.workspace, message_count=4)
    with pytest.raises(IntegrityError, match="scenario_source_matches_link"), transaction.atomic():
        Scenario.objects.create(
            workspace=personas.workspace,
            source=Scenario.Source.TRANSCRIPT,
            origin_transcript=transcript,
            messages=transcript.messages[:1],
            content_hash="b" * 64,
        )
