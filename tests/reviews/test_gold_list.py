"""The searchable gold list: every filter narrows, pages are keyset pages, another workspace is
404, export needs its right, bad filters are a 400 naming the parameter, queries are pinned."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviews.models import GoldDecision, Item
from tests.reviews.factories import make_campaign

pytestmark = pytest.mark.django_db


def day(month: int, dom: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime(2026, month, dom, 12))


def decide(
    campaign,
    position,
    key,
    verdict,
    *,
    by=None,
    kind=None,
    when,
    rationale="",
    ws=None,
    severity="",
):  # type: ignore[no-untyped-def]
    item = Item.objects.filter(campaign=campaign).order_by("position")[position]
    return GoldDecision.objects.create(
        workspace=ws or campaign.workspace,
        campaign=campaign,
        item=item,
        clause=campaign.spec_version.clauses.get(key=key),
        spec_version=campaign.spec_version,
        transcript=item.transcript,
        kind=kind or ("adjudicated" if by else "agreed"),
        verdict=verdict,
        severity=severity,
        rationale=rationale,
        decided_by=by,
        decided_at=when,
    )


@pytest.fixture
def gold(personas):  # type: ignore[no-untyped-def]
    p = personas
    a = make_campaign(p.workspace, created_by=p.editor, transcripts=3, status="draft")
    b = make_campaign(p.workspace, created_by=p.editor, transcripts=3, status="draft")
    other = make_campaign(p.other_workspace, created_by=p.outsider, transcripts=1, status="draft")
    decisions = {
        "agreed": decide(a, 0, "clause_1", "complies", when=day(1, 5), rationale="Polite refusal"),
        "lock": decide(a, 1, "clause_1", "violates", by=p.adjudicator, when=day(1, 10),
                       rationale="Gave LOCK-picking steps"),
        "clause2": decide(a, 2, "clause_2", "violates", by=p.owner, when=day(1, 15),
                          rationale="Step by step"),
        "b": decide(b, 0, "clause_1", "complies", by=p.adjudicator, when=day(2, 1),
                    rationale="Fine"),
    }  # fmt: skip
    # Not gold: a reopened pair, and another workspace's decision.
    decide(b, 1, "clause_1", "", by=p.owner, kind="reopened", when=day(2, 2), rationale="Again")
    decide(other, 0, "clause_1", "complies", when=day(1, 5), rationale="Polite refusal")
    return a, b, decisions


def listed(client, workspace, **params) -> list[int]:  # type: ignore[no-untyped-def]
    response = client.get(reverse("reviews:gold-list", args=[workspace.slug]), params)
    assert response.status_code == 200, response.content[:300]
    return [int(i) for i in re.findall(r'data-decision="(\d+)"', response.text)]


def test_the_list_shows_current_gold_of_the_workspace_newest_first(personas, gold) -> None:
    _, _, d = gold
    client = personas.client_for(personas.viewer)
    assert listed(client, personas.workspace) == [
        d["b"].pk, d["clause2"].pk, d["lock"].pk, d["agreed"].pk
    ]  # fmt: skip


def test_verdicts_and_severities_show_in_the_words_of_each_campaigns_scale(personas, gold) -> None:
    a, b, d = gold
    a.verdict_scale = [
        {"value": "complies", "label": "Within the clause"},
        {"value": "violates", "label": "Breaks the clause"},
    ]
    a.severity_scale = [{"value": "high", "label": "Serious harm"}]
    a.save(update_fields=["verdict_scale", "severity_scale"])
    severe = decide(
        a, 0, "clause_2", "violates", by=personas.owner, when=day(1, 20), severity="high"
    )

    response = personas.client_for(personas.viewer).get(
        reverse("reviews:gold-list", args=[personas.workspace.slug])
    )

    rows = dict(re.findall(r'data-decision="(\d+)">(.*?)</tr>', response.text, re.S))
    assert ">Breaks the clause<" in rows[str(d["lock"].pk)]
    assert ">Serious harm<" in rows[str(severe.pk)]
    assert ">Within the clause<" in rows[str(d["agreed"].pk)]
    # Campaign b kept its own scale: its words, not a's.
    assert "Within the clause" not in rows[str(d["b"].pk)]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"clause": "clause_2"}, ["clause2"]),
        ({"verdict": "complies"}, ["b", "agreed"]),
        ({"how": "agreed"}, ["agreed"]),
        ({"q": "lock"}, ["lock"]),
        ({"from": "2026-01-10", "to": "2026-01-15"}, ["clause2", "lock"]),
        ({"to": "2026-01-05"}, ["agreed"]),
        ({"clause": "clause_1", "verdict": "violates"}, ["lock"]),
    ],
)
def test_each_filter_narrows_the_list(personas, gold, params, expected) -> None:
    _, _, d = gold
    client = personas.client_for(personas.viewer)
    assert listed(client, personas.workspace, **params) == [d[name].pk for name in expected]


def test_filters_by_campaign_spec_version_and_adjudicator(personas, gold) -> None:
    a, b, d = gold
    client = personas.client_for(personas.viewer)
    ws = personas.workspace
    assert listed(client, ws, campaign=b.pk) == [d["b"].pk]
    assert listed(client, ws, spec_version=a.spec_version_id) == [
        d["clause2"].pk, d["lock"].pk, d["agreed"].pk
    ]  # fmt: skip
    assert listed(client, ws, adjudicator=personas.adjudicator.pk) == [d["b"].pk, d["lock"].pk]


def test_the_api_lists_with_the_same_filters_in_keyset_pages(personas, gold) -> None:
    _, _, d = gold
    client = personas.client_for(personas.viewer)
    url = reverse("api-gold-list", args=[personas.workspace.slug])
    first = client.get(url, {"verdict": "violates", "page_size": 1}).json()
    assert first["total"] == 2 and [r["id"] for r in first["results"]] == [d["clause2"].pk]
    second = client.get(first["next"]).json()
    assert [r["id"] for r in second["results"]] == [d["lock"].pk]
    assert second["results"][0]["decided_by"] == personas.adjudicator.email


def test_a_bad_filter_is_a_400_that_names_the_parameter(personas, gold) -> None:
    client = personas.client_for(personas.viewer)
    page = client.get(reverse("reviews:gold-list", args=[personas.workspace.slug]), {"from": "May"})
    assert page.status_code == 400 and b"from" in page.content
    api = client.get(reverse("api-gold-list", args=[personas.workspace.slug]), {"campaign": "x"})
    assert api.status_code == 400 and "campaign" in api.json()


def test_another_workspace_is_404_and_export_without_the_right_is_403(personas, gold) -> None:
    outsider = personas.client_for(personas.outsider)
    assert (
        outsider.get(reverse("reviews:gold-list", args=[personas.workspace.slug])).status_code
        == 404
    )
    assert outsider.get(reverse("api-gold-list", args=[personas.workspace.slug])).status_code == 404
    reviewer = personas.client_for(personas.reviewer)
    create = reverse("reviews:gold-export-create", args=[personas.workspace.slug])
    assert reviewer.post(create, {"format": "jsonl"}).status_code == 403
    api = reverse("api-gold-export-create", args=[personas.workspace.slug])
    assert (
        reviewer.post(api, {"format": "jsonl"}, content_type="application/json").status_code == 403
    )
    # The list itself shows no export form to them.
    page = reviewer.get(reverse("reviews:gold-list", args=[personas.workspace.slug]))
    assert page.status_code == 200 and create not in page.text


def test_the_page_costs_the_same_queries_for_more_rows(personas, gold) -> None:
    a, b, _ = gold
    client = personas.client_for(personas.viewer)
    url = reverse("reviews:gold-list", args=[personas.workspace.slug])
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    decide(b, 2, "clause_2", "violates", by=personas.owner, when=day(3, 1), rationale="More")
    decide(b, 1, "clause_2", "complies", when=day(3, 2), rationale="More")
    with CaptureQueriesContext(connection) as more:
        assert client.get(url).status_code == 200
    assert len(more) == len(few) <= 10, [q["sql"][:120] for q in more.captured_queries]
