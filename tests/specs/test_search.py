"""Search as a reader uses it: prefix words, plain-text snippets, one hit per clause across
versions, and nothing the reader types ever becomes tsquery syntax."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from specs import presenters, selectors, services
from specs.search_syntax import MAX_TERMS, tsquery_text
from tests.spec_facts import LABELS, NEWEST, OLDEST

WS = "policy-team"
# What the clause page never shows, so a snippet must not either.
MARKUP = ("**", "!!! meta", "[^", "](#", "\\(", "\\frac", "~~~", "<comparison>")


def _text(html: str) -> str:
    return re.sub(r"</?mark>", "", html)


# --- The query syntax, without a database -------------------------------------------------


def test_bare_words_match_as_prefixes_and_are_all_required() -> None:
    assert tsquery_text("info hazard") == "'info':* & 'hazard':*"


def test_phrases_exclusions_and_or_keep_their_web_search_meaning() -> None:
    assert tsquery_text('"chain of command" -medical or privacy') == (
        "('chain' <-> 'of' <-> 'command') & !'medical' | 'privacy':*"
    )
    assert tsquery_text('-"untrusted data"') == "!('untrusted' <-> 'data')"
    assert tsquery_text("or privacy or") == "'privacy':*"


def test_a_word_with_inner_punctuation_is_a_phrase_of_its_parts() -> None:
    assert tsquery_text("e-mail") == "('e' <-> 'mail':*)"


@pytest.mark.parametrize(
    "typed",
    [
        "'; DROP TABLE specs_clause; --",
        "a & b | !c <-> d:* (e)",
        "\\' \\\\ '' \" \"\"",
        "x:A*B",
        "ünïcödé 日本語",
    ],
)
def test_nothing_typed_reaches_the_query_as_syntax(typed: str) -> None:
    text = tsquery_text(typed)
    operands = re.findall(r"'([^']*)'", text)
    assert all(re.fullmatch(r"[^\W_]+", operand) for operand in operands)
    # Once the quoted operands are gone, only operators, prefixes and brackets remain.
    assert re.fullmatch(r"[\s&|!():*<\->]*", re.sub(r"'[^']*'", "", text))


def test_a_pasted_paragraph_is_cut_at_the_term_limit() -> None:
    assert tsquery_text("word " * 500).count("'word'") == MAX_TERMS


# --- On the real spec ---------------------------------------------------------------------


@pytest.mark.django_db
def test_info_hazard_finds_dont_provide_information_hazards(load_version, spec) -> None:
    version = load_version(NEWEST.label)
    hits = selectors.search(spec, "info hazard", version=version)
    assert hits[0].kind == "clause"
    assert hits[0].clause_key == "avoid_info_hazards"
    assert str(presenters.highlighted(hits[0].title)) == (
        "Don&#x27;t provide <mark>information</mark> <mark>hazards</mark>"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["volume of a sphere", "illicit", "commentary dual-use", "chain of command", "Plano"],
)
def test_snippets_are_plain_text_without_markdown_or_latex(load_version, spec, query) -> None:
    version = load_version(NEWEST.label)
    hits = presenters.search_results(selectors.search(spec, query, version=version), WS, spec.slug)
    assert hits, query
    for hit in hits:
        for shown in (_text(str(hit.title)), _text(str(hit.headline))):
            assert not [marker for marker in MARKUP if marker in shown], shown


@pytest.mark.django_db
def test_a_math_answer_is_quoted_as_readable_math(load_version, spec) -> None:
    version = load_version(NEWEST.label)
    hits = selectors.search(spec, '"volume of a sphere"', version=version)
    snippets = [_text(str(presenters.highlighted(hit.headline))) for hit in hits]
    assert any("4/3 π" in snippet for snippet in snippets), snippets


@pytest.mark.django_db
def test_snippets_escape_the_text_and_mark_only_the_matches(load_version, spec, personas) -> None:
    hostile = "# Hostile {#hostile}\n\n<img src=x onerror=alert(1)> about **hazards** here.\n"
    services.spec_version_import(
        spec=spec, label="hostile", markdown=hostile, actor=personas.editor
    )
    version = spec.versions.get(label="hostile")
    [hit] = presenters.search_results(selectors.search(spec, "hazard", version=version), WS, "s")
    assert "about <mark>hazards</mark> here" in str(hit.headline)
    assert "**" not in str(hit.headline)
    assert not re.search(r"[<>]", _text(str(hit.headline)))  # every other bracket escaped


@pytest.mark.django_db
def test_every_version_search_groups_a_clause_and_lists_its_versions(load_version, spec) -> None:
    for label in LABELS:
        load_version(label)
    hits = selectors.search(spec, "privacy", limit=100)
    keys = [(hit.kind, hit.clause_key, hit.title) for hit in hits if hit.kind == "clause"]
    assert len(keys) == len(set(keys))
    privacy = next(hit for hit in hits if hit.clause_key == "protect_privacy")
    assert privacy.version_label == NEWEST.label  # the newest version's text is shown
    assert [label for label, _ in privacy.versions] == sorted(LABELS, reverse=True)
    examples = [(hit.clause_key, _text(hit.title)) for hit in hits if hit.kind == "example"]
    assert len(examples) == len(set(examples))


@pytest.mark.django_db
def test_a_confirmed_rename_groups_both_keys_into_one_hit(load_version, spec, personas) -> None:
    load_version(OLDEST.label)
    load_version(NEWEST.label)
    services.clause_alias_decide(
        spec=spec, old_key="be_kind", new_key="love_humanity", confirm=True, actor=personas.editor
    )
    hits = selectors.search(spec, "charter humanity", limit=100)
    grouped = [hit for hit in hits if hit.kind == "clause" and hit.clause_key == "love_humanity"]
    assert len(grouped) == 1
    assert grouped[0].versions == [(NEWEST.label, "love_humanity"), (OLDEST.label, "be_kind")]
    assert not [hit for hit in hits if hit.kind == "clause" and hit.clause_key == "be_kind"]


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["a & b | !c", "'); --", ":*", "\\", "x" * 300])
def test_the_search_page_answers_any_input_without_an_error(load_version, personas, typed):
    load_version(NEWEST.label)
    url = reverse("specs:version-search", args=[WS, "model-spec", NEWEST.label])
    response = personas.client_for(personas.viewer).get(url, {"q": typed, "all": "1"})
    assert response.status_code == 200


@pytest.mark.django_db
def test_the_api_clause_filter_uses_the_same_prefix_search(load_version, personas) -> None:
    load_version(NEWEST.label)
    response = personas.client_for(personas.viewer).get(
        f"/api/v1/workspaces/{WS}/specs/model-spec/versions/{NEWEST.label}/clauses/",
        {"q": "info hazard"},
    )
    assert response.status_code == 200
    keys = [row["key"] for row in response.json()["results"]]
    assert "avoid_info_hazards" in keys
