"""Amendment pages and API: what each role sees and may do, conflicts shown, stale writes 409."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from specs import services
from specs.amendments import services as amendments
from specs.models import Amendment, AmendmentChange, Clause, SpecVersion, VersionStatus
from tests.specs.test_amendments import EXAMPLE, SOURCE

pytestmark = pytest.mark.django_db

WS = "policy-team"
Kind = AmendmentChange.Kind


@pytest.fixture
def published(spec, personas) -> SpecVersion:
    version = services.spec_version_import(
        spec=spec, label="v1", markdown=SOURCE, actor=personas.editor
    )
    return services.spec_version_publish(version=version, actor=personas.editor)


@pytest.fixture
def amendment(published, personas) -> Amendment:
    amendment = amendments.amendment_propose(
        spec=published.spec,
        base_version=published,
        title="Kinder wording",
        rationale="Reviewers split.",
        actor=personas.adjudicator,
    )
    amendments.amendment_change_add(
        amendment=amendment,
        kind=Kind.CHANGE_CLAUSE,
        clause_key="be_kind",
        payload={"body": "First paragraph, kinder.\n\nSecond paragraph.\n\nThird paragraph."},
        actor=personas.adjudicator,
    )
    amendment.refresh_from_db()
    return amendment


def page(name: str, *args: object) -> str:
    return reverse(f"specs:{name}", args=[WS, "model-spec", *args])


def api(name: str, *args: object) -> str:
    return reverse(name, args=[WS, "model-spec", *args])


# --- Pages -----------------------------------------------------------------------------------


def test_a_viewer_reads_the_list_and_the_amendment_page_with_its_preview(amendment, personas):
    client = personas.client_for(personas.viewer)
    listing = client.get(page("amendment-list")).content.decode()
    assert "Kinder wording" in listing and 'data-testid="propose"' not in listing
    html = client.get(page("amendment-detail", amendment.pk)).content.decode()
    assert "Change body of “be_kind”" in html
    assert "<ins>, kinder</ins>" in html or "<ins>," in html
    assert 'data-testid="approve"' not in html and 'data-testid="merge"' not in html
    assert reverse("reviews:amendment-thread-panel", args=[WS, amendment.pk]) in html


def test_the_list_page_runs_the_same_queries_for_one_amendment_or_five(
    amendment, published, personas
):
    client = personas.client_for(personas.viewer)
    with CaptureQueriesContext(connection) as one:
        client.get(page("amendment-list"))
    for number in range(4):
        amendments.amendment_propose(
            spec=published.spec, base_version=published, title=f"A{number}", actor=personas.editor
        )
    with CaptureQueriesContext(connection) as five:
        client.get(page("amendment-list"))
    assert len(five) == len(one)


def test_an_adjudicator_proposes_through_the_page(published, personas) -> None:
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        page("amendment-propose"), {"base_version": "v1", "title": "Tone", "rationale": "Why"}
    )
    created = Amendment.objects.get(title="Tone")
    assert response.status_code == 302
    assert response["Location"] == page("amendment-detail", created.pk)
    assert created.author == personas.adjudicator


def test_a_reviewer_may_not_propose_and_an_outsider_finds_nothing(amendment, personas) -> None:
    body = {"base_version": "v1", "title": "Tone"}
    assert (
        personas.client_for(personas.reviewer).post(page("amendment-propose"), body).status_code
        == 403
    )
    outsider = personas.client_for(personas.outsider)
    assert outsider.get(page("amendment-detail", amendment.pk)).status_code == 404
    assert not Amendment.objects.filter(title="Tone").exists()


def test_the_author_gets_403_approving_their_own_amendment(amendment, personas) -> None:
    personas.workspace.memberships.filter(user=personas.adjudicator).update(role=40)
    client = personas.client_for(personas.adjudicator)
    response = client.post(
        page("amendment-approve", amendment.pk), {"revision": amendment.revision}
    )
    assert response.status_code == 403
    assert amendment.approvals.count() == 0


def test_a_stale_revision_on_the_page_is_a_409_showing_the_amendment_as_it_is(
    amendment, personas
) -> None:
    client = personas.client_for(personas.editor)
    response = client.post(page("amendment-approve", amendment.pk), {"revision": 1})
    assert response.status_code == 409
    assert f'data-testid="revision">{amendment.revision}<' in response.content.decode()
    assert amendment.approvals.count() == 0


def test_the_loop_through_the_pages_ends_in_the_draft(amendment, published, personas) -> None:
    editor = personas.client_for(personas.editor)
    version_page = editor.get(page("version-detail", "v1")).content.decode()
    assert 'data-testid="draft-start"' in version_page
    started = editor.post(page("draft-start", "v1"), {"label": "v2"})
    assert started.status_code == 302
    draft = SpecVersion.objects.get(spec=published.spec, status=VersionStatus.DRAFT)
    editor.post(page("amendment-approve", amendment.pk), {"revision": amendment.revision})
    html = editor.get(page("amendment-detail", amendment.pk)).content.decode()
    assert (
        'data-testid="merge"' in html
        and "disabled" not in html.split('data-testid="merge"')[1][:40]
    )
    merged = editor.post(page("amendment-merge", amendment.pk), {"revision": amendment.revision})
    assert merged.status_code == 302
    assert Clause.objects.get(version=draft, key="be_kind").body.startswith(
        "First paragraph, kinder."
    )
    after = editor.get(page("amendment-detail", amendment.pk)).content.decode()
    assert 'data-testid="state">Merged<' in after and "merged into" in after
    assert 'data-testid="merge"' not in after


def test_a_moved_draft_shows_the_conflicts_and_a_rebase_resolves_them(
    amendment, published, personas
) -> None:
    amendments.draft_start_from(version=published, label="v2", actor=personas.editor)
    rival = amendments.amendment_propose(
        spec=published.spec, base_version=published, title="Rival", actor=personas.editor
    )
    amendments.amendment_change_add(
        amendment=rival,
        kind=Kind.CHANGE_CLAUSE,
        clause_key="be_kind",
        payload={"body": "First paragraph, sterner.\n\nSecond paragraph.\n\nThird paragraph."},
        actor=personas.editor,
    )
    amendments.amendment_approve(amendment=rival, actor=personas.owner)
    amendments.amendment_merge(amendment=rival, actor=personas.editor)

    client = personas.client_for(personas.adjudicator)
    html = client.get(page("amendment-detail", amendment.pk)).content.decode()
    assert 'data-testid="merge-conflicts"' in html and "be_kind" in html
    response = client.post(page("amendment-rebase", amendment.pk), {"revision": amendment.revision})
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-testid="rebase-conflicts"' in html and "sterner" in html and "kinder" in html
    resolved = client.post(
        page("amendment-rebase", amendment.pk),
        {
            "revision": amendment.revision,
            "resolve:be_kind:body": "First paragraph, kind but firm.\n\nThird paragraph.",
        },
    )
    assert resolved.status_code == 302
    amendment.refresh_from_db()
    assert amendment.changes.get().payload["body"].startswith("First paragraph, kind but firm.")


def test_an_example_is_added_on_the_page_as_json(amendment, personas) -> None:
    import json

    client = personas.client_for(personas.adjudicator)
    response = client.post(
        page("amendment-change-add", amendment.pk),
        {
            "revision": amendment.revision,
            "kind": "add_example",
            "clause_key": "tone",
            "example": json.dumps(EXAMPLE),
        },
    )
    assert response.status_code == 302
    assert amendment.changes.filter(kind=Kind.ADD_EXAMPLE, clause_key="tone").exists()
    bad = client.post(
        page("amendment-change-add", amendment.pk),
        {
            "revision": amendment.revision + 1,
            "kind": "add_example",
            "clause_key": "tone",
            "example": "{",
        },
    )
    assert bad.status_code == 400 and "Not JSON" in bad.content.decode()


# --- API -------------------------------------------------------------------------------------


def test_the_api_runs_the_loop_and_reports_conflicts_as_409(published, personas) -> None:
    adjudicator = personas.client_for(personas.adjudicator)
    editor = personas.client_for(personas.editor)
    created = adjudicator.post(
        api("api-amendment-list"), {"base_version": "v1", "title": "Via API"}, "application/json"
    )
    assert created.status_code == 201
    pk, revision = created.json()["id"], created.json()["revision"]
    change = adjudicator.post(
        api("api-amendment-changes", pk),
        {"revision": revision, "kind": "add_example", "clause_key": "tone", "payload": EXAMPLE},
        "application/json",
    )
    assert change.status_code == 201 and change.json()["base"]["title"] == "Tone"
    stale = editor.post(
        api("api-amendment-approve", pk), {"revision": revision}, "application/json"
    )
    assert stale.status_code == 409 and stale.json()["current"]["revision"] == revision + 1
    assert (
        editor.post(
            api("api-amendment-approve", pk), {"revision": revision + 1}, "application/json"
        ).json()["state"]
        == "approved"
    )
    no_draft = editor.post(
        api("api-amendment-merge", pk), {"revision": revision + 1}, "application/json"
    )
    assert no_draft.status_code == 400 and "no draft" in no_draft.json()["non_field_errors"][0]
    assert (
        editor.post(api("api-draft-start", "v1"), {"label": "v2"}, "application/json").status_code
        == 201
    )
    merged = editor.post(
        api("api-amendment-merge", pk), {"revision": revision + 1}, "application/json"
    )
    assert merged.status_code == 200 and merged.json()["example_count"] == 1
    listed = editor.get(api("api-amendment-list") + "?state=merged").json()
    assert [row["id"] for row in listed["results"]] == [pk]
    detail = editor.get(api("api-amendment-detail", pk)).json()
    assert detail["state"] == "merged" and detail["merged_into"] == "v2"


def test_the_api_refuses_bad_payloads_naming_the_field(amendment, personas) -> None:
    response = personas.client_for(personas.editor).post(
        api("api-amendment-changes", amendment.pk),
        {
            "revision": amendment.revision,
            "kind": "change_clause",
            "clause_key": "tone",
            "payload": {"tags": "x"},
        },
        "application/json",
    )
    assert response.status_code == 400 and "payload" in response.json()


def test_the_api_answers_403_for_a_missing_right_and_404_for_another_workspace(
    amendment, personas
) -> None:
    reviewer = personas.client_for(personas.reviewer)
    assert (
        reviewer.post(
            api("api-amendment-approve", amendment.pk),
            {"revision": amendment.revision},
            "application/json",
        ).status_code
        == 403
    )
    assert reviewer.get(api("api-amendment-detail", amendment.pk)).status_code == 200
    # The outsider's own workspace has a spec of the same slug: the id still names nothing there.
    services.spec_create(
        workspace=personas.other_workspace, slug="model-spec", title="Theirs", actor=None
    )
    other = reverse("api-amendment-detail", args=["other-org", "model-spec", amendment.pk])
    outsider = personas.client_for(personas.outsider)
    assert outsider.get(api("api-amendment-detail", amendment.pk)).status_code == 404
    assert outsider.get(other).status_code == 404


def test_the_schema_documents_the_amendment_operations(personas) -> None:
    schema = personas.client_for(personas.viewer).get("/api/schema/").content.decode()
    for path in (
        "/amendments/{amendment_id}/merge/",
        "/amendments/{amendment_id}/rebase/",
        "/draft/",
    ):
        assert path in schema


def test_the_amendment_page_runs_the_same_queries_for_one_change_or_four(
    amendment, published, personas
) -> None:
    amendments.draft_start_from(version=published, label="v2", actor=personas.editor)
    amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    client = personas.client_for(personas.viewer)
    url = page("amendment-detail", amendment.pk)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for key, title in (("intro", "Intro"), ("tone", "Tone of voice"), ("last", "Final")):
        amendments.amendment_change_add(
            amendment=amendment,
            kind=Kind.CHANGE_CLAUSE,
            clause_key=key,
            payload={"title": title},
            actor=personas.adjudicator,
        )
    amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    with CaptureQueriesContext(connection) as four:
        html = client.get(url).content.decode()
    assert "Tone of voice" in html
    assert len(four) == len(one)


def test_the_published_version_page_shows_its_changelog(amendment, published, personas):
    draft = amendments.draft_start_from(version=published, label="v2", actor=personas.editor)
    amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    amendments.amendment_merge(amendment=amendment, actor=personas.editor)
    amendments.draft_publish(version=draft, actor=personas.editor)
    html = personas.client_for(personas.viewer).get(page("version-detail", "v2")).content.decode()
    changelog = html[html.index('data-testid="changelog"') :]
    assert "<strong>Kinder wording</strong>" in changelog[: changelog.index("</section>")]
