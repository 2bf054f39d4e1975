"""A clause across spec versions: agreement per campaign grouped by the version labeled against,
the items labeled against a form of the clause that has since changed, and queueing exactly
those for re-review in a new campaign against the newer version."""

from __future__ import annotations

import re

import krippendorff
import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from reviews.models import Campaign, Item
from reviews.selectors.clause_history import changed_since, clause_agreement_history
from specs.models import Clause, ClauseAlias, Spec, SpecVersion, VersionStatus
from tests.reviews.factories import label_and_submit, make_campaign, make_transcript

pytestmark = pytest.mark.django_db


def publish(workspace, label: str, bodies: dict[str, str]) -> SpecVersion:  # type: ignore[no-untyped-def]
    """A published version with these clauses (key → body), no examples, first one the root."""
    spec, _ = Spec.objects.get_or_create(
        workspace=workspace, slug="model-spec", defaults={"title": "Model Spec"}
    )
    version = SpecVersion.objects.create(spec=spec, label=label)
    root = None
    for position, (key, body) in enumerate(bodies.items()):
        clause = Clause.objects.create(
            version=version,
            key=key,
            title=key.replace("_", " ").capitalize(),
            level=1 if position == 0 else 2,
            parent=root,
            position=position,
            body=body,
        )
        root = root or clause
    version.clause_count = len(bodies)
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.save()
    return version


V1 = {"overview": "Intro.", "be_honest": "Do not lie.", "be_kind": "Be kind."}
V2 = {"overview": "Intro.", "be_honest": "Do not lie, even by omission.", "be_kind": "Be kind."}


def labeled(personas, version, title, verdicts_a, verdicts_b, transcripts=2):  # type: ignore[no-untyped-def]
    """A campaign on ``version`` where the two reviewers gave these be_honest verdicts, item by
    item (the other clauses complies)."""
    p = personas
    campaign = make_campaign(
        p.workspace,
        created_by=p.editor,
        reviewers=[p.reviewer, p.second_reviewer],
        version=version,
        transcripts=[make_transcript(p.workspace) for _ in range(transcripts)],
    )
    Campaign.objects.filter(pk=campaign.pk).update(title=title)
    campaign.refresh_from_db()
    for a, b in zip(verdicts_a, verdicts_b, strict=True):
        label_and_submit(campaign, p.reviewer, ["complies", a, "complies"])
        label_and_submit(campaign, p.second_reviewer, ["complies", b, "complies"])
    return campaign


def alpha(table: list[list[str]]) -> float:
    codes = {"complies": 0, "violates": 1, "borderline": 2, "not_applicable": 3}
    data = np.array([[codes[v] for v in row] for row in table], dtype=float).T
    return float(
        krippendorff.alpha(
            reliability_data=data, level_of_measurement="nominal", value_domain=[0, 1, 2, 3]
        )
    )


@pytest.fixture
def history(personas):  # type: ignore[no-untyped-def]
    v1 = publish(personas.workspace, "2025-10-01", V1)
    agreeing = labeled(personas, v1, "Agreeing", ["complies", "violates"], ["complies", "violates"])
    split = labeled(
        personas, v1, "Split", ["complies", "violates", "violates"],
        ["violates", "violates", "complies"], transcripts=3,
    )  # fmt: skip
    v2 = publish(personas.workspace, "2025-12-18", V2)
    after = labeled(personas, v2, "After", ["complies", "violates"], ["complies", "violates"])
    return v1, v2, agreeing, split, after


def test_agreement_is_given_per_campaign_grouped_by_the_version_labeled_against(history) -> None:
    v1, v2, agreeing, split, after = history
    groups = clause_agreement_history(v2, "be_honest")
    assert [g.version.label for g in groups] == ["2025-10-01", "2025-12-18"]
    assert [[row.campaign.title for row in g.campaigns] for g in groups] == [
        ["Agreeing", "Split"],
        ["After"],
    ]
    by_title = {row.campaign.title: row for g in groups for row in g.campaigns}
    assert by_title["Agreeing"].alpha == pytest.approx(1.0)
    expected = alpha([["complies", "violates"], ["violates", "violates"], ["violates", "complies"]])
    assert by_title["Split"].alpha == pytest.approx(expected)
    assert by_title["Split"].n_items == 3


def test_the_clause_is_followed_through_a_rename(personas, history) -> None:
    v1, v2, *_ = history
    v3 = publish(
        personas.workspace, "2026-01-01", {"overview": "Intro.", "be_truthful": "Be true."}
    )
    ClauseAlias.objects.create(
        spec=v1.spec, old_key="be_honest", new_key="be_truthful", status="confirmed"
    )
    groups = clause_agreement_history(v3, "be_truthful")
    assert {row.clause_key for g in groups for row in g.campaigns} == {"be_honest"}
    assert sum(len(g.campaigns) for g in groups) == 3


def test_only_items_labeled_against_a_clause_that_changed_are_listed(history) -> None:
    v1, v2, agreeing, split, _ = history
    (entry,) = changed_since(v2, "be_honest")
    assert entry.version == v1
    expected = set(
        Item.objects.filter(campaign__in=[agreeing, split]).values_list("transcript_id", flat=True)
    )
    assert set(entry.transcript_ids) == expected
    assert entry.item_count == 5
    assert changed_since(v2, "be_kind") == []


def panel_url(workspace, version, key) -> str:  # type: ignore[no-untyped-def]
    return reverse(
        "reviews:clause-history-panel", args=[workspace.slug, version.spec.slug, version.label, key]
    )


def test_the_panel_shows_alpha_per_campaign_under_each_version(personas, history) -> None:
    v1, v2, agreeing, split, after = history
    response = personas.client_for(personas.viewer).get(
        panel_url(personas.workspace, v2, "be_honest")
    )
    assert response.status_code == 200
    text = response.text
    assert text.index('data-version="2025-10-01"') < text.index('data-version="2025-12-18"')
    assert re.search(rf'data-campaign="{agreeing.pk}".*?data-alpha>1\.000<', text, re.S)
    assert "5 items labeled against 2025-10-01" in text
    assert 'data-testid="queue-rereview"' not in text  # a viewer may not create campaigns


def test_queueing_for_re_review_creates_a_campaign_of_exactly_the_changed_items(
    personas, history
) -> None:
    v1, v2, agreeing, split, after = history
    url = reverse(
        "reviews:clause-rereview-create",
        args=[personas.workspace.slug, v2.spec.slug, v2.label, "be_honest"],
    )
    assert (
        'data-testid="queue-rereview"'
        in personas.client_for(personas.adjudicator)
        .get(panel_url(personas.workspace, v2, "be_honest"))
        .text
    )
    response = personas.client_for(personas.adjudicator).post(url)
    assert response.status_code == 302
    campaign = Campaign.objects.latest("pk")
    assert campaign.spec_version == v2
    assert list(campaign.clauses.values_list("key", flat=True)) == ["be_honest"]
    expected = set(
        Item.objects.filter(campaign__in=[agreeing, split]).values_list("transcript_id", flat=True)
    )
    assert set(campaign.items.values_list("transcript_id", flat=True)) == expected
    assert campaign.status == "draft"


def test_nothing_to_re_review_is_a_400_and_roles_are_enforced(personas, history) -> None:
    v1, v2, *_ = history

    def url(key: str, workspace=personas.workspace) -> str:  # type: ignore[no-untyped-def]
        return reverse(
            "reviews:clause-rereview-create", args=[workspace.slug, v2.spec.slug, v2.label, key]
        )

    before = Campaign.objects.count()
    response = personas.client_for(personas.adjudicator).post(url("be_kind"))
    assert response.status_code == 400
    assert "need re-review" in response.text
    assert personas.client_for(personas.reviewer).post(url("be_honest")).status_code == 403
    assert personas.client_for(personas.outsider).post(url("be_honest")).status_code == 404
    other = url("be_honest", personas.other_workspace)
    assert personas.client_for(personas.outsider).post(other).status_code == 404
    assert (
        personas.client_for(personas.outsider)
        .get(panel_url(personas.workspace, v2, "be_honest"))
        .status_code
        == 404
    )
    assert Campaign.objects.count() == before


def test_the_api_gives_the_history_and_queues_the_re_review(personas, history) -> None:
    v1, v2, *_ = history
    base = f"/api/v1/workspaces/{personas.workspace.slug}/specs/{v2.spec.slug}/versions/{v2.label}/clauses/be_honest/"
    body = personas.client_for(personas.viewer).get(base + "history/").json()
    assert [g["version"] for g in body["agreement"]] == ["2025-10-01", "2025-12-18"]
    assert body["changed_since"][0]["item_count"] == 5
    assert personas.client_for(personas.viewer).post(base + "rereview/").status_code == 403
    created = personas.client_for(personas.adjudicator).post(base + "rereview/")
    assert created.status_code == 201
    assert created.json()["item_count"] == 5
