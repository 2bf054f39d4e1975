"""Claiming work: k distinct reviewers per item, resume, skip, only in an open campaign, one active
assignment per reviewer and campaign (held by the database), and concurrency (T28)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction

from clausebook.models import Membership, Role
from reviews.models import Assignment, Campaign, Item
from reviews.services.campaigns import assignment_skip, item_claim_next
from tests.factories import UserFactory
from tests.reviews.factories import make_campaign


def _in_threads(work, args_list, *, timeout: float = 120) -> list:  # type: ignore[no-untyped-def]
    """Run ``work(*args)`` in one thread per entry, started together; re-raise any error."""
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)
    errors: list[BaseException] = []

    def run(index: int, args: tuple) -> None:  # type: ignore[type-arg]
        try:
            barrier.wait()
            results[index] = work(*args)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()  # each thread had its own connection

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not errors, errors
    return results


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


def _plan_nodes(plan: dict) -> list[dict]:  # type: ignore[type-arg]
    return [plan, *(node for child in plan.get("Plans", []) for node in _plan_nodes(child))]


@pytest.mark.django_db
def test_a_claim_planned_on_statistics_older_than_the_campaign_takes_the_first_item_unsorted(
    personas,
) -> None:
    from reviews.services.campaigns import _CLAIM_SQL

    # Statistics taken before the campaign existed: what the planner has in the minute or so
    # after a large campaign is created, until autovacuum analyzes its items.
    make_campaign(personas.workspace, created_by=personas.adjudicator, transcripts=5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reviews_item")
        cursor.execute("ANALYZE reviews_assignment")
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer],
        transcripts=40,
    )
    params = {"campaign": campaign.pk, "reviewer": personas.reviewer.pk, "active": "active"}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test-sized table: as if it were large
        cursor.execute("EXPLAIN (FORMAT JSON) " + _CLAIM_SQL, {**params, "now": "2026-01-01"})
        nodes = _plan_nodes(cursor.fetchone()[0][0]["Plan"])

    # The first claimable item straight off the partial index, in position order: never every
    # item of the campaign read and sorted to find it.
    assert not [node for node in nodes if node["Node Type"] == "Sort"], nodes
    scans = {
        node.get("Index Name") for node in nodes if node.get("Relation Name") == "reviews_item"
    }
    assert "item_claimable" in scans, nodes


def _claimers(personas, n: int) -> list:  # type: ignore[no-untyped-def]
    reviewers = []
    for i in range(n):
        user = UserFactory(email=f"claimer{i}@policy.test")
        Membership.objects.create(workspace=personas.workspace, user=user, role=Role.REVIEWER)
        reviewers.append(user)
    return reviewers


@pytest.mark.parametrize(("k", "items"), [(1, 60), (3, 25)])
@pytest.mark.django_db(transaction=True)
def test_t28_twenty_concurrent_reviewers_never_overfill_or_skip_an_item(
    personas, k: int, items: int
) -> None:
    reviewers = _claimers(personas, 20)
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=reviewers,
        transcripts=items,
        k=k,
    )
    _in_threads(_drain, [(campaign, reviewer) for reviewer in reviewers])
    per_item = Counter(
        Assignment.objects.filter(campaign=campaign).values_list("item_id", flat=True)
    )
    assert len(per_item) == items  # none skipped
    assert set(per_item.values()) == {k}  # none overfilled
    pairs = Assignment.objects.filter(campaign=campaign).values_list("item_id", "reviewer_id")
    assert len(set(pairs)) == items * k  # k distinct reviewers
    assert not Item.objects.filter(campaign=campaign, open_slots__gt=0).exists()


@pytest.mark.django_db(transaction=True)
def test_eight_parallel_claims_by_one_reviewer_all_answer_with_one_assignment(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=10,
        k=2,
    )

    def claim():  # type: ignore[no-untyped-def]
        return item_claim_next(campaign=campaign, reviewer=personas.reviewer)

    answers = _in_threads(claim, [()] * 8)
    assert all(answer is not None for answer in answers)
    assert len({answer.pk for answer in answers}) == 1
    mine = Assignment.objects.filter(reviewer=personas.reviewer)
    assert list(mine.values_list("status", flat=True)) == [Assignment.Status.ACTIVE]
    # Exactly one slot was taken: the losing claims gave theirs back.
    slots = list(Item.objects.filter(campaign=campaign).values_list("open_slots", flat=True))
    assert sorted(slots) == [1] + [2] * 9


@pytest.mark.django_db(transaction=True)
def test_t28_reviewers_claiming_from_two_tabs_at_once_still_give_k_distinct_reviewers(
    personas,
) -> None:
    reviewers = _claimers(personas, 8)
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=reviewers,
        transcripts=20,
        k=3,
    )
    _in_threads(_drain, [(campaign, reviewer) for reviewer in reviewers for _tab in range(2)])
    pairs = list(Assignment.objects.filter(campaign=campaign).values_list("item_id", "reviewer_id"))
    assert len(pairs) == len(set(pairs)) == 20 * 3  # k distinct reviewers, nobody twice
    assert set(Counter(item for item, _ in pairs).values()) == {3}
    assert not Item.objects.filter(campaign=campaign, open_slots__gt=0).exists()


@pytest.mark.parametrize("status", ["draft", "paused", "closed"])
@pytest.mark.django_db
def test_claiming_is_refused_unless_the_campaign_is_open(personas, status: str) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
        status=status,
    )
    with pytest.raises(ValidationError, match=f"This campaign is {status}"):
        item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    api = personas.client_for(personas.reviewer).post(
        f"/api/v1/workspaces/{personas.workspace.slug}/campaigns/{campaign.pk}/claim/"
    )
    assert api.status_code == 400
    assert f"This campaign is {status}" in str(api.json())
    assert not Assignment.objects.exists()


@pytest.mark.django_db
def test_an_assignment_in_progress_is_not_resumed_once_the_campaign_is_paused(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
    )
    assert item_claim_next(campaign=campaign, reviewer=personas.reviewer) is not None
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)
    with pytest.raises(ValidationError, match="paused"):
        item_claim_next(campaign=campaign, reviewer=personas.reviewer)


@pytest.mark.django_db
def test_the_database_holds_a_reviewer_to_one_active_assignment_per_campaign(personas) -> None:
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.adjudicator,
        reviewers=[personas.reviewer, personas.second_reviewer],
    )
    first = item_claim_next(campaign=campaign, reviewer=personas.reviewer)
    assert first.campaign_id == campaign.pk  # the denormalised key the constraint reads
    other = Item.objects.filter(campaign=campaign).exclude(pk=first.item_id).first()
    with (
        pytest.raises(IntegrityError, match="assignment_one_active_per_campaign"),
        transaction.atomic(),
    ):
        Assignment.objects.create(campaign=campaign, item=other, reviewer=personas.reviewer)
    # Finished work does not count against it.
    Assignment.objects.filter(pk=first.pk).update(status=Assignment.Status.SUBMITTED)
    Assignment.objects.create(campaign=campaign, item=other, reviewer=personas.reviewer)
