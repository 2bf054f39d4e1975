"""Aggregations over a campaign's labels read one range of the index that matches them
(``label_campaign_counted``), never a join through every item: the plan is pinned."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from reviews.models import Assignment, Campaign, Item, Label
from reviews.selectors.labels import campaign_verdicts, campaign_verdicts_query
from tests.reviews.factories import make_campaign
from transcripts.models import Transcript

# A transactional test, so VACUUM can run: in production autovacuum keeps the visibility map
# current, which is what lets the planner read the covering index without visiting the heap.
pytestmark = pytest.mark.django_db(transaction=True)

VERDICTS = ["complies", "violates", "borderline", "not_applicable"]


def _fill(campaign: Campaign, reviewers: list, items: int) -> None:  # type: ignore[type-arg]
    """``items`` more items, each labeled and submitted on every clause by every reviewer."""
    workspace = campaign.workspace
    transcripts = Transcript.objects.bulk_create(
        Transcript(
            workspace=workspace,
            messages=[{"role": "user", "content": f"{campaign.pk}-{n}"}],
            message_count=1,
            content_hash=hashlib.sha256(f"{campaign.pk}-{n}".encode()).hexdigest(),
            external_id=f"bulk-{campaign.pk}-{n}",
        )
        for n in range(items)
    )
    rows = Item.objects.bulk_create(
        Item(campaign=campaign, transcript=t, position=1000 + n, open_slots=0)
        for n, t in enumerate(transcripts)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(campaign=campaign, item=item, reviewer=user, status="submitted")
        for item in rows
        for user in reviewers
    )
    clause_ids = list(campaign.campaign_clauses.values_list("clause_id", flat=True))
    Label.objects.bulk_create(
        (
            Label(
                campaign=campaign,
                item_id=a.item_id,
                clause_id=clause_id,
                reviewer_id=a.reviewer_id,
                assignment=a,
                verdict=VERDICTS[(a.item_id + clause_id) % len(VERDICTS)],
                status="submitted",
            )
            for a in assignments
            for clause_id in clause_ids
        ),
        batch_size=5000,
    )


def test_a_campaigns_verdicts_come_from_one_range_of_the_counted_index(personas) -> None:
    reviewers = [personas.reviewer, personas.second_reviewer]
    target = make_campaign(
        personas.workspace, created_by=personas.editor, reviewers=reviewers, transcripts=1
    )
    others = make_campaign(
        personas.workspace, created_by=personas.editor, reviewers=reviewers, transcripts=1
    )
    _fill(target, reviewers, items=150)
    _fill(others, reviewers, items=1500)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reviews_label")
    plan = campaign_verdicts_query(target).explain()
    assert "Index Scan using label_campaign_counted" in plan or (
        "Index Only Scan using label_campaign_counted" in plan
    ), plan
    assert "reviews_item" not in plan and "Join" not in plan and "Sort" not in plan, plan
    verdicts = list(campaign_verdicts(target))
    assert len(verdicts) == 150 * 2 * 3
    assert verdicts == sorted(verdicts, key=lambda row: (row[1], row[0]))
