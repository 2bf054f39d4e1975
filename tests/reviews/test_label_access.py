"""Object-level access for labeling, decided in ``reviews.access`` and the one visibility method
``Label.objects.visible_to``, with the services checking again behind it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from clausebook.models import Membership
from reviews import access
from reviews.models import Label
from reviews.selectors.labels import labeling_page
from reviews.services.campaigns import item_claim_next
from reviews.services.labels.core import LabelInput
from reviews.services.labels.judge import judge_label_record
from reviews.services.labels.save import labels_save
from tests.reviews.factories import label_and_submit, make_campaign, make_judge_run

pytestmark = pytest.mark.django_db


def _membership(personas, user) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(workspace=personas.workspace, user=user)


def _visible(personas, user) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(author, status) of every label ``user`` may read."""
    return {
        (label.reviewer.email if label.reviewer else "judge", label.status)
        for label in Label.objects.visible_to(_membership(personas, user)).select_related(
            "reviewer"
        )
    }


@pytest.fixture
def labeled(personas):  # type: ignore[no-untyped-def]
    """Blind campaign, one item: the second reviewer submitted, the reviewer holds a draft, and
    a judge labeled it."""
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
    )
    label_and_submit(campaign, personas.second_reviewer, ["violates"])
    mine = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    clause = campaign.campaign_clauses.get().clause
    labels_save(
        assignment=mine,
        reviewer=personas.reviewer,
        labels=[LabelInput(clause=clause.pk, verdict="complies")],
    )
    run = make_judge_run(campaign, created_by=personas.editor)
    judge_label_record(judge_run=run, item=mine.item, clause=clause, verdict="borderline")
    return campaign, mine


def test_blind_visibility_for_each_role(personas, labeled) -> None:
    campaign, _ = labeled
    reviewer, second = "reviewer@policy.test", "second-reviewer@policy.test"
    # A reviewer mid-item sees only their own draft.
    assert _visible(personas, personas.reviewer) == {(reviewer, "draft")}
    # Having submitted, others' submitted work shows, never their drafts nor a judge's label.
    assert _visible(personas, personas.second_reviewer) == {(second, "submitted")}
    # An adjudicator holding no assignment sees submitted work and the judge, no drafts.
    assert _visible(personas, personas.adjudicator) == {
        (second, "submitted"),
        ("judge", "submitted"),
    }
    # A viewer sees nothing of a blind campaign; an outsider's membership is elsewhere.
    assert _visible(personas, personas.viewer) == set()
    outsider = Membership.objects.get(user=personas.outsider)
    assert not Label.objects.visible_to(outsider).exists()
    # Open labeling: others' submitted work and the judge show to everyone in the workspace.
    campaign.blind = False
    campaign.save(update_fields=["blind"])
    assert _visible(personas, personas.viewer) == {(second, "submitted"), ("judge", "submitted")}


def test_items_resolve_only_inside_their_workspace_and_campaign(personas, labeled) -> None:
    campaign, mine = labeled
    membership = _membership(personas, personas.reviewer)
    item, assignment = access.item_to_label(membership, mine.item_id, campaign_id=campaign.pk)
    assert (item.pk, assignment.pk) == (mine.item_id, mine.pk)
    with pytest.raises(Http404):
        access.item_to_label(membership, mine.item_id, campaign_id=campaign.pk + 1000)
    with pytest.raises(Http404):
        access.item_to_label(Membership.objects.get(user=personas.outsider), mine.item_id)
    with pytest.raises(PermissionDenied):
        access.item_to_label(_membership(personas, personas.adjudicator), mine.item_id)
    # Adjudicators may still open it read-only.
    _, none = access.item_to_read(_membership(personas, personas.adjudicator), mine.item_id)
    assert none is None


def test_the_service_refuses_another_reviewers_assignment_as_a_second_line(
    personas, labeled
) -> None:
    campaign, mine = labeled
    with pytest.raises(PermissionDenied):
        labels_save(
            assignment=mine,
            reviewer=personas.second_reviewer,
            labels=[LabelInput(clause=campaign.campaign_clauses.get().clause_id, verdict="x")],
        )
    assert Label.objects.get(reviewer=personas.reviewer).verdict == "complies"


def test_a_member_changes_only_their_own_labels(personas, labeled) -> None:
    _, _ = labeled
    theirs = Label.objects.get(reviewer=personas.second_reviewer)
    with pytest.raises(PermissionDenied, match="only your own labels"):
        access.own_label(_membership(personas, personas.adjudicator), theirs.pk)
    with pytest.raises(Http404):
        access.own_label(_membership(personas, personas.reviewer), theirs.pk)
    assert access.own_label(_membership(personas, personas.second_reviewer), theirs.pk) == theirs


@pytest.mark.parametrize("blind", [True, False])
def test_the_labeling_pages_plain_read_shows_exactly_what_visible_to_allows(
    personas, labeled, blind
) -> None:
    """The page decides blind visibility in Python for the one item it shows (a plain index
    read, issue 9's speed item); it must agree with the SQL rule for every role and state."""
    campaign, mine = labeled
    campaign.blind = blind
    campaign.save(update_fields=["blind"])
    item = access.item_in_workspace(personas.workspace, mine.item_id)
    for user in (
        personas.reviewer,  # in progress
        personas.second_reviewer,  # submitted
        personas.adjudicator,  # no assignment
        personas.owner,
        personas.viewer,
    ):
        membership = _membership(personas, user)
        assignment = access.own_assignment(item, membership)
        page_read = set(
            access.labels_on_item(membership, item, assignment).values_list("pk", flat=True)
        )
        rule = set(
            Label.objects.visible_to(membership).filter(item=item).values_list("pk", flat=True)
        )
        assert page_read == rule, (user.email, blind)
        # What the page itself shows (its own labels read apart while others' are closed).
        page = labeling_page(item=item, assignment=assignment, membership=membership)
        shown = {label.pk for label in page.labels.values()} | {
            label.pk for labels in page.others.values() for label in labels
        }
        assert shown == rule, (user.email, blind)
        for label in page.labels.values():
            stored = Label.objects.get(pk=label.pk)
            assert (label.verdict, label.spans, label.revision, label.updated_at) == (
                stored.verdict,
                stored.spans,
                stored.revision,
                stored.updated_at,
            )
    # Somebody's own page mid-item reads their own labels only, with no per-row subquery.
    membership = _membership(personas, personas.reviewer)
    sql = str(access.labels_on_item(membership, item, mine).query)
    assert "EXISTS" not in sql and "JOIN" not in sql
