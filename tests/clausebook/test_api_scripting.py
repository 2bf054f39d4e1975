"""A script goes from a spec, a version label and clause keys to a campaign and labels, with
the API alone (issue 9).

On 0a5a311 campaign creation took ``spec_version`` and label creation ``clause`` as integer ids,
but no spec, version or clause response carried one.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from clausebook import services
from reviews.models import Label
from tests.reviews.factories import make_published_version, make_transcript

pytestmark = pytest.mark.django_db

WS = "policy-team"


def _api(user) -> Client:  # type: ignore[no-untyped-def]
    _token, secret = services.api_token_create(user=user, name="script")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def test_every_spec_version_clause_workspace_and_member_response_carries_ids(personas) -> None:
    version = make_published_version(personas.workspace, keys=["be_honest", "be_kind"])
    api = _api(personas.viewer)
    [workspace] = api.get(reverse("api-workspace-list")).json()["results"]
    assert workspace["id"] == personas.workspace.pk and workspace["slug"] == WS
    [spec] = api.get(reverse("api-spec-list", args=[WS])).json()["results"]
    assert spec["id"] == version.spec.pk and spec["slug"] == "model-spec"
    [listed] = api.get(reverse("api-version-list", args=[WS, "model-spec"])).json()["results"]
    assert listed["id"] == version.pk and listed["label"] == version.label
    clauses = api.get(reverse("api-clause-list", args=[WS, "model-spec", version.label])).json()
    by_key = {clause["key"]: clause["id"] for clause in clauses["results"]}
    assert by_key == dict(version.clauses.values_list("key", "id"))
    members = api.get(reverse("api-member-list", args=[WS])).json()["results"]
    reviewer = next(m for m in members if m["user"]["email"] == "reviewer@policy.test")
    assert reviewer["user"]["id"] == personas.reviewer.pk


def test_a_script_creates_a_campaign_and_labels_with_the_api_alone(personas) -> None:
    make_published_version(personas.workspace, keys=["be_honest", "be_kind"], label="2025-12-18")
    transcript = make_transcript(personas.workspace)
    lead = _api(personas.adjudicator)
    [version] = lead.get(reverse("api-version-list", args=[WS, "model-spec"])).json()["results"]
    clauses = lead.get(
        reverse("api-clause-list", args=[WS, "model-spec", version["label"]])
    ).json()["results"]
    be_honest = next(clause["id"] for clause in clauses if clause["key"] == "be_honest")

    created = lead.post(
        reverse("api-campaign-list", args=[WS]),
        {
            "title": "Scripted",
            "spec_version": version["id"],
            "clause_keys": ["be_honest"],
            "transcript_ids": [transcript.pk],
            "reviewers": ["reviewer@policy.test", "second-reviewer@policy.test"],
            "reviewers_per_item": 2,
            "open": True,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.json()
    campaign = created.json()
    assert [clause["id"] for clause in campaign["clauses"]] == [be_honest]

    reviewer = _api(personas.reviewer)
    claimed = reviewer.post(reverse("api-claim-next", args=[WS, campaign["id"]]))
    assert claimed.status_code == 200, claimed.content
    saved = reviewer.post(
        reverse("api-item-labels", args=[WS, campaign["id"], claimed.json()["item"]]),
        {"labels": [{"clause": be_honest, "verdict": "complies"}], "submit": True},
        content_type="application/json",
    )
    assert saved.status_code == 200, saved.json()
    label = Label.objects.get(reviewer=personas.reviewer)
    assert (label.clause_id, label.verdict) == (be_honest, "complies")
