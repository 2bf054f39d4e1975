"""Claiming work: k distinct reviewers per item, resume, skip, and concurrency (T28)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from clausebook.models import Membership, Role
from reviews.models import Assignment, Item
from reviews.services.campaigns import assignment_skip, item_claim_next
from tests.factories import UserFactory
from tests.reviews.factories import make_campaign


def _drain(campaign, reviewer) -> list[int]:  # type: ignore[no-untyped-def]
    """Claim until nothing is left, marking each claim submitted so the next one is new work."""
    items = []
    while (assignment := item_claim_next(campaign=campaign, reviewer=reviewer)) is not None:
        items.append(assignment.item_id)
        Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.SUBMITTED)
    return items


@pytest.mark.django_db
def test_each_item_goes_to_exactly_k_distinct_reviewers(personas) -> None:
    reviewers = [personas.reviewer, personas.second_reviewer, personas.adjudicator]
    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=reviewers, transcripts=5, k=2
    )
    claimed = [item for reviewer in reviewers for item in _drain(campaign, reviewer)]
    assert Counter(claimed) == {item.pk: 2 for item in Item.objects.filter(campaign=campaign)}
    assert not Item.objects.filter(campaign=campaign, open_slots__gt=0).exists()


@pytest.mark.django_db
def test_claim_resumes_the_item_in_progress(personas) -> None:
    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.reviewer]
    )
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    again = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    assert first is not None and again is not None
    assert again.pk == first.pk
    assert Assignment.objects.filter(reviewer=personas.reviewer).count() == 1


@pytest.mark.django_db
def test_a_skipped_item_returns_its_slot_to_someone_else_but_never_the_skipper(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        k=1,
    )
    mine = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    assert item_claim_next(campaign=campaign, reviewer=personas.second_reviewer) is None
    assignment_skip(assignment=mine, reviewer=personas.reviewer, reason="Not in English")
    assert Item.objects.get(pk=mine.item_id).open_slots == 1
    assert item_claim_next(campaign=campaign, reviewer=personas.reviewer) is None
    theirs = item_claim_next(campaign=campaign, reviewer=personas.second_reviewer)
    assert theirs is not None and theirs.item_id == mine.item_id
    assert Assignment.objects.get(pk=mine.pk).skip_reason == "Not in English"


@pytest.mark.django_db
def test_a_reviewer_not_seated_on_the_campaign_cannot_claim(personas) -> None:
    from django.core.exceptions import PermissionDenied

    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.reviewer]
    )
    with pytest.raises(PermissionDenied):
        item_claim_next(campaign=campaign, reviewer=personas.second_reviewer)


@pytest.mark.django_db
def test_the_claim_query_walks_the_partial_index(personas) -> None:
    campaign = make_campaign(
        personas.workspace, created_by=personas.adjudicator, reviewers=[personas.reviewer]
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny table: make the planner show it
        cursor.execute(
            "EXPLAIN SELECT id FROM reviews_item WHERE campaign_id = %s AND open_slots > 0 "
            "ORDER BY position LIMIT 1",
            [campaign.pk],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "item_claimable" in plan


@pytest.mark.parametrize(("k", "items"), [(1, 60), (3, 25)])
@pytest.mark.django_db(transaction=True)
def test_t28_twenty_concurrent_reviewers_never_overfill_or_skip_an_item(
    personas, k: int, items: int
) -> None:
    reviewers = []
    for n in range(20):
        user = UserFactory(email=f"claimer{n}@policy.test")
        Membership.objects.create(workspace=personas.workspace, user=user, role=Role.REVIEWER)
        reviewers.append(user)
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=reviewers,
        transcripts=items,
        k=k,
    )
    barrier = threading.Barrier(len(reviewers))
    errors: list[BaseException] = []

    def work(reviewer) -> None:  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            _drain(campaign, reviewer)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()  # each thread had its own connection

    threads = [threading.Thread(target=work, args=(r,)) for r in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    per_item = Counter(
        Assignment.objects.filter(item__campaign=campaign).values_list("item_id", flat=True)
    )
    assert len(per_item) == items  # none skipped
    assert set(per_item.values()) == {k}  # none overfilled
    pairs = Assignment.objects.filter(item__campaign=campaign).values_list("item_id", "reviewer_id")
    assert len(set(pairs)) == items * k  # k distinct reviewers
    assert not Item.objects.filter(campaign=campaign, open_slots__gt=0).exists()
