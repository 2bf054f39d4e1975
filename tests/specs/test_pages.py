"""The spec pages as a member sees them: clause permalinks, TOC, search, diff, export."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from specs.models import ClauseAlias
from tests.spec_facts import NEWEST, OLDEST, OLDEST_TO_NEWEST, spec_text

pytestmark = pytest.mark.django_db

WS = "policy-team"


def clause_url(label: str, key: str) -> str:
    return reverse("specs:clause-detail", args=[WS, "model-spec", label, key])


def test_a_clause_page_shows_text_commentary_cross_references_and_examples(
    load_version, personas
) -> None:
    load_version("2025-12-18")
    response = personas.client_for(personas.viewer).get(
        clause_url("2025-12-18", "follow_all_applicable_instructions")
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Follow all applicable instructions" in html
    # [?](#chain_of_command) becomes a link to the target's permalink with its title
    assert f'href="{clause_url("2025-12-18", "chain_of_command")}"' in html
    assert 'class="xref"' in html
    assert 'class="msg msg-user"' in html
    assert "candidate good" in html
    assert "candidate bad" in html
    assert 'class="badge badge-root" title="Authority level">Root<' in html


def test_commentary_is_set_apart(load_version, personas) -> None:
    version = load_version("2025-12-18")
    key = next(c.key for c in version.clauses.all() if '!!! meta "Commentary"' in c.body)
    html = personas.client_for(personas.viewer).get(clause_url("2025-12-18", key)).content
    assert b'<div class="commentary">' in html
    assert b"!!! meta" not in html


def test_footnotes_link_to_the_eval_prompts_of_the_clause(load_version, personas) -> None:
    version = load_version("2025-12-18")
    clause = version.clauses.filter(eval_prompts__isnull=False).distinct().first()
    html = (
        personas.client_for(personas.viewer).get(clause_url("2025-12-18", clause.key)).content
    ).decode()
    footnote = clause.eval_prompts.first().footnote_id
    assert f'href="#eval-prompts-{footnote}"' in html
    assert f'id="eval-prompts-{footnote}"' in html


@pytest.mark.parametrize("key", ["overview", "follow_all_applicable_instructions", "be_warm"])
def test_the_clause_page_runs_a_fixed_number_of_queries(
    load_version, personas, django_assert_num_queries, key: str
) -> None:
    load_version("2025-02-12")
    load_version("2025-12-18")
    client = personas.client_for(personas.viewer)
    client.get(clause_url("2025-12-18", "overview"))  # warm the session
    with django_assert_num_queries(12):
        response = client.get(clause_url("2025-12-18", key))
    assert response.status_code == 200


def test_the_version_page_lists_the_toc_with_authority_badges_and_tags(
    load_version, personas
) -> None:
    load_version("2025-12-18")
    response = personas.client_for(personas.viewer).get(
        reverse("specs:version-detail", args=[WS, "model-spec", "2025-12-18"])
    )
    html = response.content.decode()
    assert html.count('class="toc-l') == NEWEST.clauses
    assert 'badge badge-tag">under_18<' in html
    assert 'class="badge badge-guideline" title="Authority: Guideline">Guideline<' in html


def test_spec_list_and_detail_pages_run_fixed_queries(
    load_version, personas, django_assert_num_queries
) -> None:
    load_version("2025-02-12")
    load_version("2025-12-18")
    client = personas.client_for(personas.viewer)
    client.get(reverse("specs:spec-list", args=[WS]))
    with django_assert_num_queries(6):
        assert client.get(reverse("specs:spec-list", args=[WS])).status_code == 200
    with django_assert_num_queries(6):
        response = client.get(reverse("specs:spec-detail", args=[WS, "model-spec"]))
    assert b"2025-02-12" in response.content


def test_search_ranks_title_matches_first_and_highlights_terms(load_version, personas) -> None:
    load_version("2025-12-18")
    url = reverse("specs:version-search", args=[WS, "model-spec", "2025-12-18"])
    response = personas.client_for(personas.viewer).get(url, {"q": "chain of command"})
    html = response.content.decode()
    assert response.status_code == 200
    first = html.index('class="search-result"')
    first_result = html[first : html.index('class="search-result"', first + 10)]
    assert "/c/chain_of_command/" in first_result
    assert "The <mark>chain</mark> of <mark>command</mark>" in first_result


def test_search_over_all_versions_lists_a_clause_once_with_the_versions_it_is_in(
    load_version, personas
) -> None:
    load_version(OLDEST.label)
    load_version(NEWEST.label)
    url = reverse("specs:version-search", args=[WS, "model-spec", NEWEST.label])
    html = (
        personas.client_for(personas.viewer).get(url, {"q": "privacy", "all": "1"}).content
    ).decode()
    results = html.split('<div class="search-result" data-kind="')[1:]
    clause_links = [
        re.search(r'href="[^"]*/v/[^/]+/c/([a-z_0-9]+)/"', result).group(1)
        for result in results
        if result.startswith("clause")
    ]
    assert clause_links.count("protect_privacy") == 1  # once, not once per version
    assert len(clause_links) == len(set(clause_links))
    privacy = next(r for r in results if f"/v/{NEWEST.label}/c/protect_privacy/" in r)
    versions = re.findall(r'class="badge badge-published" href="([^"]+)">([^<]+)<', privacy)
    assert [label for _, label in versions] == [NEWEST.label, OLDEST.label]
    assert versions[1][0].endswith(f"/v/{OLDEST.label}/c/protect_privacy/")
    assert "In 2 versions:" in privacy


def test_search_answers_htmx_with_the_results_fragment_only(load_version, personas) -> None:
    load_version("2025-12-18")
    url = reverse("specs:version-search", args=[WS, "model-spec", "2025-12-18"])
    response = personas.client_for(personas.viewer).get(
        url, {"q": "privacy"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="results"')
    assert "<html" not in html


def test_the_diff_page_summarises_and_proposes_the_be_kind_rename(load_version, personas) -> None:
    load_version("2025-02-12")
    load_version("2025-12-18")
    url = reverse("specs:version-diff", args=[WS, "model-spec"])
    response = personas.client_for(personas.viewer).get(
        url, {"from": "2025-02-12", "to": "2025-12-18"}
    )
    html = response.content.decode()
    assert f'data-testid="count-added">{OLDEST_TO_NEWEST.added}<' in html
    assert f'data-testid="count-removed">{len(OLDEST_TO_NEWEST.removed_keys)}<' in html
    old_key, new_key = OLDEST_TO_NEWEST.probable_rename
    assert f"#{old_key}" in html
    assert f"#{new_key}" in html
    assert "<ins>" in html
    assert "<del>" in html
    assert "Confirm rename" not in html  # viewers see the proposal, not the buttons


def test_an_editor_confirms_a_rename_with_htmx_and_the_clause_keeps_its_history(
    load_version, personas
) -> None:
    load_version("2025-02-12")
    load_version("2025-12-18")
    client = personas.client_for(personas.editor)
    response = client.post(
        reverse("specs:alias-decide", args=[WS, "model-spec"]),
        {"old_key": "be_kind", "new_key": "love_humanity", "decision": "confirm"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert b"Rename confirmed" in response.content
    assert ClauseAlias.objects.filter(old_key="be_kind", status="confirmed").exists()
    diff = client.get(
        reverse("specs:version-diff", args=[WS, "model-spec"]),
        {"from": "2025-02-12", "to": "2025-12-18"},
    ).content.decode()
    assert "renamed from <code>#be_kind</code>" in diff
    history = client.get(clause_url("2025-12-18", "love_humanity")).content.decode()
    assert clause_url("2025-02-12", "be_kind") in history
    assert "as #be_kind" in history


def test_export_downloads_markdown_as_an_attachment(load_version, personas) -> None:
    load_version("2025-12-18")
    response = personas.client_for(personas.viewer).get(
        reverse("specs:version-export", args=[WS, "model-spec", "2025-12-18"])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="model-spec-2025-12-18.md"'
    assert "{#chain_of_command" in response.content.decode()


def test_an_editor_imports_a_file_and_publishes_it(spec, personas) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = personas.client_for(personas.editor)
    upload = SimpleUploadedFile("spec.md", spec_text("2025-12-18").encode(), "text/markdown")
    response = client.post(
        reverse("specs:version-import", args=[WS, "model-spec"]),
        {"label": "2025-12-18", "file": upload},
    )
    assert response.status_code == 302
    version = spec.versions.get()
    assert (version.status, version.clause_count) == ("draft", NEWEST.clauses)
    client.post(
        reverse("specs:version-publish", args=[WS, "model-spec", "2025-12-18"]), {"confirm": "on"}
    )
    version.refresh_from_db()
    assert version.status == "published"


def test_the_import_form_shows_the_line_of_a_syntax_error(spec, personas) -> None:
    client = personas.client_for(personas.editor)
    response = client.post(
        reverse("specs:version-import", args=[WS, "model-spec"]),
        {"label": "bad", "markdown": "# A {#a}\n\ntext\n\n# B {#a}\n"},
    )
    assert response.status_code == 200
    assert b"Nothing was imported. Line 5: duplicate key" in response.content
    assert not spec.versions.exists()


def test_an_editor_creates_a_spec_from_the_list_page(personas) -> None:
    client = personas.client_for(personas.editor)
    response = client.post(
        reverse("specs:spec-list", args=[WS]), {"title": "House rules", "slug": "house"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("specs:version-import", args=[WS, "house"])


def test_the_version_page_runs_a_fixed_number_of_queries(
    load_version, personas, django_assert_num_queries
) -> None:
    load_version("2025-02-12")
    load_version("2025-12-18")
    client = personas.client_for(personas.viewer)
    url = reverse("specs:version-detail", args=[WS, "model-spec", "2025-12-18"])
    client.get(url)
    with django_assert_num_queries(7):
        assert client.get(url).status_code == 200


def test_the_import_page_lists_every_authority_level(spec, personas) -> None:
    html = (
        personas.client_for(personas.editor)
        .get(reverse("specs:version-import", args=[WS, "model-spec"]))
        .content.decode()
    )
    assert "Authority is one of root (or platform), system, developer, user, guideline." in html


def test_search_results_show_the_authority_label(load_version, personas) -> None:
    load_version(NEWEST.label)
    url = reverse("specs:version-search", args=[WS, "model-spec", NEWEST.label])
    html = personas.client_for(personas.viewer).get(url, {"q": "chain of command"}).content
    assert b'<span class="badge badge-root">Root</span>' in html


def test_a_clause_page_renders_without_panels_when_no_app_serves_one(
    load_version, personas, settings
) -> None:
    settings.CLAUSE_PAGE_PANELS = ["nowhere:clause-panel"]
    load_version(NEWEST.label)
    response = personas.client_for(personas.viewer).get(clause_url(NEWEST.label, "be_warm"))
    assert response.status_code == 200
    assert b"clause-panel" not in response.content


def test_a_clause_page_loads_the_panel_another_app_serves_by_url_name(
    load_version, personas, settings
) -> None:
    settings.ROOT_URLCONF = "tests.specs.panel_urls"
    settings.CLAUSE_PAGE_PANELS = ["nowhere:clause-panel", "panel-test:clause-panel"]
    load_version(NEWEST.label)
    client = personas.client_for(personas.viewer)
    html = client.get(clause_url(NEWEST.label, "be_warm")).content.decode()
    panel = f"/w/{WS}/panel/model-spec/{NEWEST.label}/be_warm/"
    assert html.count('class="card clause-panel"') == 1
    assert f'hx-get="{panel}" hx-trigger="load"' in html
    assert client.get(panel).content.decode() == (
        '<section class="card" id="test-panel">Panel for be_warm</section>'
    )


def test_published_clause_text_is_cached_where_the_suite_empties_every_cache(
    load_version, spec, personas
) -> None:
    from clausebook import caching
    from specs import presenters, services

    load_version(NEWEST.label)
    services.spec_version_import(
        spec=spec, label="draft", markdown="# Draft {#draft}\n\nText.\n", actor=personas.editor
    )
    client = personas.client_for(personas.viewer)
    assert client.get(clause_url(NEWEST.label, "be_warm")).status_code == 200
    assert client.get(clause_url("draft", "draft")).status_code == 200
    assert len(presenters._RENDERED) == 1  # the draft may still change: never cached
    caching.clear_all()
    assert len(presenters._RENDERED) == 0
