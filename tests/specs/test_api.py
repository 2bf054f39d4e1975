"""The specs REST API: listing, importing, publishing, clauses, diffs, exports, aliases."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from specs.models import SpecVersion
from tests.spec_facts import NEWEST, OLDEST_TO_NEWEST, VERSIONS, spec_text

pytestmark = pytest.mark.django_db

BASE = "/api/v1/workspaces/policy-team/specs/"


def test_it_lists_specs_and_versions_paginated(load_version, personas) -> None:
    load_version("2025-12-18")
    client = personas.client_for(personas.viewer)
    specs = client.get(BASE).json()
    assert specs["count"] == 1
    assert specs["results"][0]["slug"] == "model-spec"
    versions = client.get(f"{BASE}model-spec/versions/").json()
    assert versions["results"][0]["label"] == "2025-12-18"
    assert versions["results"][0]["clause_count"] == NEWEST.clauses
    assert versions["results"][0]["eval_prompt_count"] == NEWEST.eval_prompts


def test_an_editor_creates_a_spec_and_imports_json_markdown(personas) -> None:
    client = personas.client_for(personas.editor)
    created = client.post(BASE, {"slug": "house", "title": "House rules"}, "application/json")
    assert created.status_code == 201
    response = client.post(
        f"{BASE}house/versions/",
        {"label": "v1", "markdown": "# Be kind {#be_kind authority=user}\n\nAlways.\n"},
        "application/json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "draft"
    assert response.json()["clause_count"] == 1


def test_an_editor_imports_a_multipart_file(spec, personas) -> None:
    client = personas.client_for(personas.editor)
    upload = SimpleUploadedFile("ms.md", spec_text("2025-12-18").encode(), "text/markdown")
    response = client.post(f"{BASE}model-spec/versions/", {"label": "2025-12-18", "file": upload})
    assert response.status_code == 201
    assert response.json()["example_count"] == NEWEST.examples
    assert response.json()["source_filename"] == "ms.md"


def test_a_syntax_error_is_a_400_with_its_line_and_stores_nothing(spec, personas) -> None:
    response = personas.client_for(personas.editor).post(
        f"{BASE}model-spec/versions/",
        {"label": "bad", "markdown": "# A {#a}\n\n```\nnever closed\n"},
        "application/json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "markdown": ["line 3: code fence is never closed"],
        "line": 3,
    }
    assert not SpecVersion.objects.filter(spec=spec).exists()


def test_t30_publishing_a_published_version_again_is_a_409(load_version, personas) -> None:
    load_version("2025-12-18", publish=True)
    response = personas.client_for(personas.editor).post(
        f"{BASE}model-spec/versions/2025-12-18/publish/"
    )
    assert response.status_code == 409
    assert response.json()["current"]["status"] == "published"


def test_t30_a_version_or_clause_cannot_be_edited_through_the_api(load_version, personas) -> None:
    load_version("2025-12-18", publish=True)
    client = personas.client_for(personas.owner)
    version_url = f"{BASE}model-spec/versions/2025-12-18/"
    clause_url = f"{version_url}clauses/chain_of_command/"
    for url in (version_url, clause_url):
        for method in (client.patch, client.put, client.delete):
            assert method(url, {"title": "x"}, "application/json").status_code == 405


def test_publish_through_the_api(load_version, personas) -> None:
    load_version("2025-12-18", publish=False)
    response = personas.client_for(personas.editor).post(
        f"{BASE}model-spec/versions/2025-12-18/publish/"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "published"
    assert response.json()["published_at"]


def test_clauses_filter_by_authority_tag_and_search(load_version, personas) -> None:
    load_version("2025-12-18")
    client = personas.client_for(personas.viewer)
    url = f"{BASE}model-spec/versions/2025-12-18/clauses/"
    everything = client.get(url, {"page_size": 500}).json()
    assert everything["count"] == NEWEST.clauses
    roots = client.get(url, {"authority": "root", "page_size": 500}).json()
    assert roots["count"] == NEWEST.root_clauses
    assert {c["authority"] for c in roots["results"]} == {"root"}
    teen = client.get(url, {"tag": "under_18"}).json()
    assert [(c["key"], c["tags"]) for c in teen["results"]] == [
        ("prioritize_teen_safety", ["under_18"])
    ]
    found = client.get(url, {"q": "chain of command"}).json()
    assert "chain_of_command" in {c["key"] for c in found["results"]}


def test_an_unknown_authority_filter_is_a_400_naming_it(load_version, personas) -> None:
    load_version(NEWEST.label)
    url = f"{BASE}model-spec/versions/{NEWEST.label}/clauses/"
    response = personas.client_for(personas.viewer).get(url, {"authority": "platform"})
    assert response.status_code == 400
    assert response.json() == {
        "authority": ["Unknown authority; one of root, system, developer, user, guideline."]
    }


def test_a_spec_slug_that_is_taken_is_a_400_naming_the_slug(spec, personas) -> None:
    response = personas.client_for(personas.editor).post(
        BASE, {"slug": spec.slug, "title": "Again"}, "application/json"
    )
    assert response.status_code == 400
    assert response.json() == {"slug": ["A spec with the slug “model-spec” already exists."]}


def test_clause_detail_has_examples_and_eval_prompts(load_version, personas) -> None:
    version = load_version(NEWEST.label)
    clause = version.clauses.get(key="follow_all_applicable_instructions")
    body = (
        personas.client_for(personas.viewer)
        .get(f"{BASE}model-spec/versions/{NEWEST.label}/clauses/{clause.key}/")
        .json()
    )
    assert body["parent_key"] == "chain_of_command"
    assert [e["position"] for e in body["examples"]] == list(range(clause.examples.count()))
    assert body["examples"][0]["turns"] == clause.examples.first().turns
    assert [(p["footnote_id"], p["position"]) for p in body["eval_prompts"]] == list(
        clause.eval_prompts.values_list("footnote_id", "position")
    )
    assert {p["footnote_id"] for p in body["eval_prompts"]} <= set(clause.footnotes)
    first = clause.eval_prompts.first()
    assert body["eval_prompts"][0]["messages"] == first.messages


def test_the_clause_detail_runs_a_fixed_number_of_queries(
    load_version, personas, django_assert_num_queries
) -> None:
    load_version(NEWEST.label)
    client = personas.client_for(personas.viewer)
    url = f"{BASE}model-spec/versions/{NEWEST.label}/clauses/"
    client.get(f"{url}overview/")
    for key in ("overview", "follow_all_applicable_instructions"):
        with django_assert_num_queries(7):
            assert client.get(f"{url}{key}/").status_code == 200


def test_diff_and_alias_confirmation(load_version, personas) -> None:
    load_version("2025-02-12")
    load_version("2025-12-18")
    client = personas.client_for(personas.editor)
    url = f"{BASE}model-spec/diff/"
    facts = OLDEST_TO_NEWEST
    diff = client.get(url, {"from": "2025-02-12", "to": "2025-12-18"}).json()
    assert diff["summary"]["added"] == facts.added
    assert diff["summary"]["removed"] == len(facts.removed_keys)
    old_key, new_key = facts.probable_rename
    assert diff["probable_renames"][0]["old_key"] == old_key
    decided = client.post(
        f"{BASE}model-spec/aliases/",
        {"old_key": old_key, "new_key": new_key, "decision": "confirm"},
        "application/json",
    )
    assert decided.status_code == 200
    diff = client.get(url, {"from": "2025-02-12", "to": "2025-12-18"}).json()
    assert diff["summary"]["renamed"] == 1
    assert diff["summary"]["removed"] == len(facts.removed_keys) - 1
    assert diff["probable_renames"] == []
    assert client.get(f"{BASE}model-spec/aliases/").json()["count"] == 1


def test_diff_with_an_unknown_label_is_a_400(load_version, personas) -> None:
    load_version("2025-12-18")
    response = personas.client_for(personas.viewer).get(
        f"{BASE}model-spec/diff/", {"from": "nope", "to": "2025-12-18"}
    )
    assert response.status_code == 400
    assert response.json() == {"from": ["Unknown version label."]}


def test_export_is_markdown_as_an_attachment(load_version, personas) -> None:
    load_version("2025-12-18")
    response = personas.client_for(personas.viewer).get(
        f"{BASE}model-spec/versions/2025-12-18/export/"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="model-spec-2025-12-18.md"'


def test_the_openapi_schema_documents_every_specs_endpoint(personas) -> None:
    schema = personas.client_for(personas.viewer).get("/api/schema/?format=json").json()
    paths = set(schema["paths"])
    prefix = "/api/v1/workspaces/{workspace}/specs/"
    for suffix in [
        "",
        "{spec}/",
        "{spec}/versions/",
        "{spec}/diff/",
        "{spec}/aliases/",
        "{spec}/versions/{label}/",
        "{spec}/versions/{label}/publish/",
        "{spec}/versions/{label}/export/",
        "{spec}/versions/{label}/clauses/",
        "{spec}/versions/{label}/clauses/{key}/",
    ]:
        assert prefix + suffix in paths


@pytest.mark.parametrize("label", ["2025-02-12", "2025-12-18"])
def test_the_clause_list_runs_a_fixed_number_of_queries(
    load_version, personas, django_assert_num_queries, label: str
) -> None:
    load_version(label)
    client = personas.client_for(personas.viewer)
    url = f"{BASE}model-spec/versions/{label}/clauses/"
    client.get(url)
    with django_assert_num_queries(6):
        assert len(client.get(url, {"page_size": 500}).json()["results"]) == VERSIONS[label].clauses
