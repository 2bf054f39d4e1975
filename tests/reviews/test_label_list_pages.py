"""The label list in keyset pages: what a script reads (item, transcript, clause key, reviewer),
pages that hold still while labels arrive, and one campaign's page as one range of the
``label_campaign_id`` index whatever other campaigns hold (the plan is pinned)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviews.models import Assignment, Campaign, Item, Label
from tests.reviews.factories import make_campaign
from transcripts.models import Transcript

pytestmark = pytest.mark.django_db


def fill(campaign: Campaign, reviewers: list, items: int) -> list[int]:  # type: ignore[type-arg]
    """``items`` more items, each with a submitted label per clause and reviewer; the new
    labels' ids, ascending."""
    start = Item.objects.filter(campaign=campaign).count()
    transcripts = Transcript.objects.bulk_create(
        Transcript(
            workspace=campaign.workspace,
            messages=[{"role": "user", "content": f"{campaign.pk}-{n}"}],
            message_count=1,
            content_hash=hashlib.sha256(f"{campaign.pk}-{n}".encode()).hexdigest(),
        )
        for n in range(start, start + items)
    )
    rows = Item.objects.bulk_create(
        Item(campaign=campaign, transcript=t, position=1000 + start + n, open_slots=0)
        for n, t in enumerate(transcripts)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(campaign=campaign, item=item, reviewer=user, status="submitted")
        for item in rows
        for user in reviewers
    )
    clause_ids = list(campaign.campaign_clauses.values_list("clause_id", flat=True))
    labels = Label.objects.bulk_create(
        (
            Label(
                campaign=campaign,
                item_id=a.item_id,
                clause_id=clause_id,
                reviewer_id=a.reviewer_id,
                assignment=a,
                verdict="complies",
                status="submitted",
            )
            for a in assignments
            for clause_id in clause_ids
        ),
        batch_size=5000,
    )
    return sorted(label.pk for label in labels)


def url(personas: Any, workspace: Any = None) -> str:
    return f"/api/v1/workspaces/{(workspace or personas.workspace).slug}/labels/"


def ids(page: dict[str, Any]) -> list[int]:
    return [row["id"] for row in page["results"]]


@pytest.fixture
def campaign(personas) -> Campaign:
    return make_campaign(
        personas.workspace,
        created_by=personas.editor,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        blind=False,
    )


def test_a_campaigns_label_pages_hold_still_while_labels_arrive(personas, campaign):
    reviewers = [personas.reviewer, personas.second_reviewer]
    original = fill(campaign, reviewers, items=3)  # 3 items x 2 reviewers x 3 clauses
    client = personas.client_for(personas.adjudicator)
    page = client.get(url(personas), {"campaign": campaign.pk, "page_size": 5}).json()
    assert page["total"] == len(original)
    seen = ids(page)
    while page["next"]:
        fill(campaign, reviewers, items=1)
        page = client.get(page["next"]).json()
        assert page["total"] is None
        seen += ids(page)
    assert seen == sorted(original, reverse=True)


def test_a_label_row_carries_its_item_transcript_clause_key_and_reviewer(personas, campaign):
    fill(campaign, [personas.reviewer], items=1)
    client = personas.client_for(personas.adjudicator)
    row = client.get(url(personas), {"campaign": campaign.pk, "page_size": 1}).json()["results"][0]
    label = Label.objects.select_related("item", "clause", "reviewer").get(pk=row["id"])
    assert (row["item"], row["transcript"], row["clause_key"], row["reviewer"]) == (
        label.item_id,
        label.item.transcript_id,
        label.clause.key,
        personas.reviewer.email,
    )


def test_jumping_into_another_workspaces_campaign_finds_nothing(personas, campaign):
    theirs = make_campaign(
        personas.other_workspace, created_by=personas.outsider, transcripts=1, blind=False
    )
    their_labels = fill(theirs, [personas.outsider], items=2)
    client = personas.client_for(personas.adjudicator)
    for params in ({"campaign": theirs.pk}, {"campaign": theirs.pk, "after": their_labels[-1] + 1}):
        page = client.get(url(personas), params).json()
        assert page["results"] == [] and page["next"] is None


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


@pytest.mark.parametrize("deep", [False, True])
def test_a_campaign_page_is_one_range_of_its_index(personas, campaign, deep):
    reviewers = [personas.reviewer, personas.second_reviewer]
    mine = fill(campaign, reviewers, items=150)  # 900 labels
    other = make_campaign(
        personas.other_workspace, created_by=personas.outsider, transcripts=1, blind=False
    )
    fill(other, [personas.outsider], items=2_000)  # 6,000 newer labels elsewhere
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reviews_label")
    params: dict[str, Any] = {"campaign": campaign.pk, "page_size": 50}
    if deep:
        params["after"] = mine[len(mine) // 10]
    with CaptureQueriesContext(connection) as queries:
        response = personas.client_for(personas.adjudicator).get(url(personas), params)
    assert response.status_code == 200 and len(response.json()["results"]) == 50
    (sql,) = [q["sql"] for q in queries.captured_queries if "LIMIT 51" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        raw = cursor.fetchone()[0]
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes = _nodes(plan)
    assert not [n for n in nodes if "Sort" in n["Node Type"]]
    (scan,) = [n for n in nodes if n.get("Relation Name") == "reviews_label"]
    assert (scan["Node Type"], scan["Index Name"]) == ("Index Scan", "label_campaign_id")
    assert "ROW(campaign_id, id) <" in scan["Index Cond"]
    assert scan["Actual Rows"] <= 51 and scan.get("Rows Removed by Filter", 0) == 0
