"""Reads: version diffs with aliases, clause history, search ranking and highlighting."""

from __future__ import annotations

import pytest

from specs import access, presenters, selectors, services
from tests.spec_facts import OLDEST_TO_NEWEST

pytestmark = pytest.mark.django_db


def test_the_diff_service_counts_changes_between_2025_02_12_and_2025_12_18(load_version) -> None:
    old = load_version("2025-02-12")
    new = load_version("2025-12-18")
    diff = selectors.version_diff(old, new)
    facts = OLDEST_TO_NEWEST
    assert (diff.summary.added, diff.summary.removed) == (facts.added, len(facts.removed_keys))
    assert {c.key for c in diff.clauses if c.status == "removed"} == facts.removed_keys
    assert diff.summary.changed == facts.changed
    assert [(r.old_key, r.new_key) for r in diff.probable_renames] == [facts.probable_rename]


def test_a_rejected_rename_is_not_proposed_again(load_version, spec, personas) -> None:
    old = load_version("2025-02-12")
    new = load_version("2025-12-18")
    services.clause_alias_decide(
        spec=spec, old_key="be_kind", new_key="love_humanity", confirm=False, actor=personas.editor
    )
    assert selectors.version_diff(old, new).probable_renames == []


def test_a_confirmed_rename_makes_one_renamed_clause_and_joins_the_history(
    load_version, spec, personas
) -> None:
    old = load_version("2025-02-12")
    load_version("2025-09-12")
    new = load_version("2025-12-18")
    services.clause_alias_decide(
        spec=spec, old_key="be_kind", new_key="love_humanity", confirm=True, actor=personas.editor
    )
    diff = selectors.version_diff(old, new)
    renamed = [c for c in diff.clauses if c.status == "renamed"]
    assert [(c.renamed_from, c.key) for c in renamed] == [("be_kind", "love_humanity")]
    assert diff.summary.removed == len(OLDEST_TO_NEWEST.removed_keys) - 1
    page = selectors.clause_page(access.clause_for(new, "love_humanity"))
    keys = [(h.version.label, h.key) for h in page.history if h.present]
    assert ("2025-02-12", "be_kind") in keys
    assert ("2025-12-18", "love_humanity") in keys


def test_aliases_compose_along_a_chain_of_renames() -> None:
    aliases = [("a", "b"), ("b", "c")]
    assert selectors.compose_aliases(aliases, {"a", "x"}, {"c", "x"}) == {"a": "c"}
    assert selectors.alias_closure("c", aliases) == {"a", "b", "c"}


def test_history_marks_the_versions_where_a_clause_changed(load_version) -> None:
    load_version("2025-02-12")
    load_version("2025-04-11")
    new = load_version("2025-12-18")
    history = selectors.clause_page(access.clause_for(new, "chain_of_command")).history
    assert [(h.version.label, h.status, h.current) for h in history] == [
        ("2025-02-12", "added", False),
        ("2025-04-11", "unchanged", False),
        ("2025-12-18", "changed", True),
    ]


def test_search_ranks_a_title_match_first_and_marks_terms(load_version, spec) -> None:
    version = load_version("2025-12-18")
    hits = selectors.search(spec, "chain of command", version=version)
    assert hits[0].kind == "clause"
    assert hits[0].clause_key == "chain_of_command"
    assert str(presenters.highlighted(hits[0].title)) == (
        "The <mark>chain</mark> of <mark>command</mark>"
    )
    assert {h.version_label for h in hits} == {"2025-12-18"}


def test_search_finds_examples_by_conversation_text(load_version, spec) -> None:
    version = load_version("2025-12-18")
    hits = selectors.search(spec, "Plano real estate", version=version)
    examples = [h for h in hits if h.kind == "example"]
    assert examples
    assert examples[0].clause_key == "protect_privacy"
    assert "<mark>Plano</mark>" in presenters.highlighted(examples[0].headline)


def test_search_across_versions_and_an_empty_query(load_version, spec) -> None:
    load_version("2025-02-12")
    load_version("2025-12-18")
    labels = {label for h in selectors.search(spec, "privacy") for label, _ in h.versions}
    assert labels == {"2025-02-12", "2025-12-18"}
    assert selectors.search(spec, "   ") == []
    assert selectors.search(spec, "\" ' & | ! ( ) :* <->") == []  # punctuation only: no query
