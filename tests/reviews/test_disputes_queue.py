"""The disagreement queue: the pairs a campaign's rule calls disputed, filtered by clause,
severity and age, sorted, counted per clause, and blind to what a reviewer has not labeled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from clausebook.models import Membership, Role
from reviews.models import Outcome
from reviews.selectors.disputes import QueueFilters, dispute_queue
from tests.factories import UserFactory
from tests.reviews.factories import label_and_submit, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue(personas):  # type: ignore[no-untyped-def]
    """Blind, k = 2, three items, clauses clause_1 and clause_2, three reviewers.

    * item 1 (reviewer, second): clause_1 disputed (severities low, high), clause_2 agreed
    * item 2 (reviewer, second): both clauses disputed (clause_1 severities none, medium)
    * item 3 (second, third): clause_1 disputed; the reviewer never saw it
    """
    third = UserFactory(email="third@policy.test")
    Membership.objects.create(workspace=personas.workspace, user=third, role=Role.REVIEWER)
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer, third],
        transcripts=3,
        clause_count=2,
    )
    r, s = personas.reviewer, personas.second_reviewer
    label_and_submit(campaign, r, ["complies", "complies"], ["low", "none"])
    label_and_submit(campaign, s, ["violates", "complies"], ["high", "none"])
    label_and_submit(campaign, r, ["complies", "complies"], ["none", "none"])
    label_and_submit(campaign, s, ["borderline", "violates"], ["medium", "low"])
    label_and_submit(campaign, third, ["complies", "complies"])
    label_and_submit(campaign, s, ["violates", "complies"])
    items = list(campaign.items.order_by("position"))
    return campaign, items, third


def _url(personas, campaign, api=False):  # type: ignore[no-untyped-def]
    name = "api-dispute-list" if api else "reviews:dispute-list"
    return reverse(name, args=[personas.workspace.slug, campaign.pk])


def _pairs(response):  # type: ignore[no-untyped-def]
    return [(row["item_position"], row["clause_key"]) for row in response.json()["results"]]


def test_an_adjudicator_sees_every_disputed_pair_with_counts_per_clause(personas, queue):
    campaign, _, _ = queue
    response = personas.client_for(personas.adjudicator).get(_url(personas, campaign, api=True))
    assert response.status_code == 200
    body = response.json()
    assert sorted(_pairs(response)) == [
        (0, "clause_1"),
        (1, "clause_1"),
        (1, "clause_2"),
        (2, "clause_1"),
    ]
    assert {c["key"]: c["disputed"] for c in body["clauses"]} == {"clause_1": 3, "clause_2": 1}
    first = next(
        r for r in body["results"] if (r["item_position"], r["clause_key"]) == (0, "clause_1")
    )
    assert first["verdicts"] == {"complies": 1, "violates": 1} and first["severity"] == "high"
    page = personas.client_for(personas.adjudicator).get(_url(personas, campaign))
    assert page.status_code == 200 and b'data-testid="count-clause_1">clause_1: 3' in page.content


def test_a_blind_reviewer_sees_only_disputes_on_items_they_submitted(personas, queue):
    campaign, items, _ = queue
    client = personas.client_for(personas.reviewer)
    response = client.get(_url(personas, campaign, api=True))
    assert sorted(_pairs(response)) == [(0, "clause_1"), (1, "clause_1"), (1, "clause_2")]
    assert {c["key"]: c["disputed"] for c in response.json()["clauses"]}["clause_1"] == 2
    page = client.get(_url(personas, campaign)).content.decode()
    assert f'data-testid="dispute-{items[2].pk}-clause_1"' not in page
    assert f'data-testid="dispute-{items[0].pk}-clause_1"' in page


def test_an_open_campaign_shows_every_dispute_to_every_reviewer(personas, queue):
    campaign, _, _ = queue
    campaign.blind = False
    campaign.save(update_fields=["blind"])
    response = personas.client_for(personas.reviewer).get(_url(personas, campaign, api=True))
    assert len(_pairs(response)) == 4


def test_filters_by_clause_severity_and_age(personas, queue):
    campaign, items, _ = queue
    client = personas.client_for(personas.adjudicator)
    url = _url(personas, campaign, api=True)
    assert sorted(_pairs(client.get(url, {"clause": "clause_2"}))) == [(1, "clause_2")]
    # At least medium: item 1's high and item 2's medium, not the pairs without severities.
    assert sorted(_pairs(client.get(url, {"severity": "medium"}))) == [
        (0, "clause_1"),
        (1, "clause_1"),
    ]
    Outcome.objects.filter(item=items[0], clause__key="clause_1").update(
        changed_at=timezone.now() - timedelta(days=10)
    )
    assert _pairs(client.get(url, {"older_than": 7})) == [(0, "clause_1")]
    assert (0, "clause_1") not in _pairs(client.get(url, {"newer_than": 7}))
    counts = client.get(url, {"older_than": 7}).json()["clauses"]
    assert {c["key"]: c["disputed"] for c in counts} == {"clause_1": 1, "clause_2": 0}


def test_sorts_by_severity_and_by_age(personas, queue):
    campaign, items, _ = queue
    Outcome.objects.filter(item=items[2]).update(changed_at=timezone.now() - timedelta(days=3))
    client = personas.client_for(personas.adjudicator)
    url = _url(personas, campaign, api=True)
    by_severity = _pairs(client.get(url, {"sort": "severity"}))
    assert by_severity[:3] == [(0, "clause_1"), (1, "clause_1"), (1, "clause_2")]
    assert _pairs(client.get(url, {"sort": "oldest"}))[0] == (2, "clause_1")
    assert _pairs(client.get(url, {"sort": "newest"}))[-1] == (2, "clause_1")
    assert _pairs(client.get(url, {"sort": "item"}))[0] == (0, "clause_1")


def test_bad_filters_get_a_400_naming_the_parameter(personas, queue):
    campaign, _, _ = queue
    client = personas.client_for(personas.adjudicator)
    url = _url(personas, campaign, api=True)
    for params, field in [
        ({"clause": "nope"}, "clause"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"older_than": "-1"}, "older_than"),
        ({"sort": "password"}, "sort"),
        ({"page_size": "100000"}, "page_size"),
    ]:
        response = client.get(url, params)
        assert response.status_code == 400 and field in response.json(), params
    page = client.get(_url(personas, campaign), {"severity": "apocalyptic"})
    assert page.status_code == 400 and b"is not a severity here" in page.content


def test_viewers_get_403_and_outsiders_404(personas, queue):
    campaign, _, _ = queue
    assert personas.client_for(personas.viewer).get(_url(personas, campaign)).status_code == 403
    viewer_api = personas.client_for(personas.viewer).get(_url(personas, campaign, api=True))
    assert viewer_api.status_code == 403
    assert personas.client_for(personas.outsider).get(_url(personas, campaign)).status_code == 404


def test_an_htmx_request_gets_the_queue_fragment_only(personas, queue):
    campaign, _, _ = queue
    response = personas.client_for(personas.adjudicator).get(
        _url(personas, campaign), {"clause": "clause_2"}, HTTP_HX_REQUEST="true"
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="dispute-queue">') and "<html" not in content


def test_the_queue_costs_the_same_queries_for_one_row_or_many(personas, queue):
    campaign, _, _ = queue
    membership = Membership.objects.get(workspace=personas.workspace, user=personas.adjudicator)

    def queries(filters: QueueFilters) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            shown = dispute_queue(membership, campaign, filters)
        return len(captured), len(shown.rows)

    few, one_row = queries(QueueFilters(clause="clause_2"))
    many, all_rows = queries(QueueFilters())
    assert (one_row, all_rows) == (1, 4)
    assert few == many


def test_the_campaign_page_links_to_its_disagreements(personas, queue):
    campaign, _, _ = queue
    page = personas.client_for(personas.reviewer).get(
        reverse("reviews:campaign-detail", args=[personas.workspace.slug, campaign.pk])
    )
    assert _url(personas, campaign).encode() in page.content


def test_the_queue_page_shows_verdicts_in_the_scales_words_and_the_api_keeps_the_values(
    personas,
):
    scale = [
        {"value": "v_safe", "label": "Safe reply"},
        {"value": "v_unsafe", "label": "Unsafe reply"},
    ]
    campaign = make_campaign(
        personas.workspace,
        created_by=personas.owner,
        reviewers=[personas.reviewer, personas.second_reviewer],
        transcripts=1,
        clause_count=1,
        verdict_scale=scale,
    )
    label_and_submit(campaign, personas.reviewer, ["v_safe"], ["low"])
    label_and_submit(campaign, personas.second_reviewer, ["v_unsafe"], ["high"])
    client = personas.client_for(personas.adjudicator)
    page = client.get(_url(personas, campaign)).content.decode()
    table = page[page.index('data-testid="dispute-list"') :]
    assert "Safe reply × 1" in table and "Unsafe reply × 1" in table
    assert "<td>High</td>" in table  # the highest severity, in its words too
    assert "v_safe" not in page and "v_unsafe" not in page
    api = client.get(_url(personas, campaign, api=True)).json()["results"]
    assert api[0]["verdicts"] == {"v_safe": 1, "v_unsafe": 1} and api[0]["severity"] == "high"
    # The pair's thread shows each label in the same words.
    clause = campaign.clauses.get()
    thread = client.get(
        reverse(
            "reviews:thread-detail",
            args=[personas.workspace.slug, campaign.pk, campaign.items.get().pk, clause.key],
        )
    ).content.decode()
    labels = thread[thread.index('data-testid="thread-labels"') :]
    labels = labels[: labels.index("</section>")]
    assert "Safe reply" in labels and "Unsafe reply" in labels
    assert "v_safe" not in labels and "v_unsafe" not in labels
