"""Tests for specs.diffing (pure Python: no database, no Django)."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from specs.diffing import (
    ClauseChange,
    ClauseSnapshot,
    SpecDiff,
    _similarity_upper_bound,
    _tokens,
    diff_versions,
    similarity,
    word_diff,
)
from tests.spec_facts import NEWEST, OLDEST, OLDEST_TO_NEWEST

LOREM = (
    "The assistant should follow the chain of command and respect the letter and spirit of "
    "instructions, asking clarifying questions when the request is ambiguous."
)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def clause(
    key: str,
    *,
    title: str | None = None,
    body: str = "",
    authority: str | None = "user",
    tags: tuple[str, ...] = (),
    parent: str | None = None,
    examples: tuple[tuple[str, str], ...] = (),
) -> ClauseSnapshot:
    return ClauseSnapshot(
        key=key,
        title=title if title is not None else key.replace("_", " ").title(),
        authority=authority,
        tags=tags,
        body=body or f"Body of {key}. {LOREM}",
        parent_key=parent,
        position=0,  # set by version()
        examples=examples,
    )


def version(*clauses: ClauseSnapshot) -> list[ClauseSnapshot]:
    """Number clauses in the given (document) order; positions step by 10 like a real store."""
    return [replace(c, position=i * 10) for i, c in enumerate(clauses)]


def by_key(diff: SpecDiff) -> dict[str, ClauseChange]:
    return {c.key: c for c in diff.clauses}


def old_text(segments: list[tuple[str, str]]) -> str:
    return "".join(text for op, text in segments if op != "insert")


def new_text(segments: list[tuple[str, str]]) -> str:
    return "".join(text for op, text in segments if op != "delete")


def assert_well_formed(segments: list[tuple[str, str]], old: str, new: str) -> None:
    assert old_text(segments) == old
    assert new_text(segments) == new
    for i, (op, text) in enumerate(segments):
        assert op in ("equal", "insert", "delete")
        assert text, "no empty segments"
        if i:
            prev = segments[i - 1][0]
            assert prev != op, "neighbours never share an op"
            assert not (prev == "insert" and op == "delete"), "delete comes before insert"


BASE = version(
    clause("intro", authority=None),
    clause("alpha", parent="intro"),
    clause("beta", parent="intro"),
    clause("gamma", parent="intro"),
    clause("rules", authority=None),
    clause("delta", parent="rules"),
    clause("epsilon", parent="rules"),
)


def edited(clauses: list[ClauseSnapshot], key: str, **changes: Any) -> list[ClauseSnapshot]:
    return [replace(c, **changes) if c.key == key else c for c in clauses]


# --------------------------------------------------------------------------------------------
# word_diff / similarity
# --------------------------------------------------------------------------------------------


def test_word_diff_identical_and_empty() -> None:
    assert word_diff("same", "same") == [("equal", "same")]
    assert word_diff("", "") == []
    assert word_diff("", "new text") == [("insert", "new text")]
    assert word_diff("old text", "") == [("delete", "old text")]


def test_word_diff_is_word_level() -> None:
    assert word_diff("The quick brown fox", "The quick red fox") == [
        ("equal", "The quick "),
        ("delete", "brown "),
        ("insert", "red "),
        ("equal", "fox"),
    ]
    # Only the edited sentence of a long paragraph is touched.
    old = "First sentence stays. Second one is edited here. Third stays too."
    new = "First sentence stays. Second one is edited there. Third stays too."
    assert word_diff(old, new) == [
        ("equal", "First sentence stays. Second one is edited "),
        ("delete", "here"),
        ("insert", "there"),
        ("equal", ". Third stays too."),
    ]


def test_word_diff_folds_coincidental_equalities() -> None:
    # A lone "the " between two longer rewrites is noise; a longer shared run is kept.
    old, new = "big cats sit the small mats", "tiny dogs lie the large rugs"
    assert word_diff(old, new) == [("delete", old), ("insert", new)]
    segments = word_diff("The cat sat on the mat.", "A dog lay on the rug.")
    assert ("equal", "on the ") in segments


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("a  b", "a b"),
        ("a\tb", "a b"),
        ("line one\r\nline two\r\n", "line one\nline two\n"),
        ("  leading", "leading"),
        ("trailing   ", "trailing"),
        ("\n\n\n", "\n"),
        ("para one\n\npara two\n", "para one\n\n\npara two"),
        ("word", "word\n"),
        ("non\u00a0breaking space", "non breaking space"),
        ("caf\u00e9 na\u00efve", "cafe\u0301 na\u00efve"),  # precomposed vs combining accent
        ("emoji \U0001f600 here", "emoji \U0001f44d\U0001f3fd here"),
        ("中文没有空格。第二句。", "中文没有空格。第三句。"),
        ("שלום עולם", "שלום לכולם"),
        ("it's \u201cquoted\u201d", 'it\u2019s "quoted"'),
        ("sep\u2028line\u2029para", "sep\u2028lines\u2029para"),
        ("a.b.c. d", "a. b.c.d"),
        ("...!!!???", "..!!??"),
        ("x", "y"),
        ("", " "),
        (" ", ""),
    ],
)
def test_word_diff_reconstructs_tricky_text(old: str, new: str) -> None:
    assert_well_formed(word_diff(old, new), old, new)


def test_word_diff_reconstruction_fuzz() -> None:
    rng = random.Random(20250212)
    vocab = [
        "the", "assistant", "should", "not", "café", "naïve", "中文", "😀", "e.g.", "[?](#x)",
        "**bold**", "<user>", "</user>", "~~~", "—", "don't", "_", "a", "1.", "?", "!",
    ]  # fmt: skip
    spaces = [" ", " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u2028", ". ", ""]

    def text(n: int) -> list[str]:
        return [rng.choice(vocab) + rng.choice(spaces) for _ in range(n)]

    for _ in range(300):
        old = text(rng.randint(0, 60))
        new = list(old)
        for _ in range(rng.randint(0, 8)):
            i = rng.randint(0, len(new))
            roll = rng.random()
            if roll < 0.4:
                new[i:i] = text(rng.randint(1, 4))
            elif roll < 0.8:
                del new[i : i + rng.randint(1, 4)]
            else:
                new[i : i + 1] = [rng.choice(spaces) + rng.choice(vocab)]
        a, b = "".join(old), "".join(new)
        segments = word_diff(a, b)
        assert_well_formed(segments, a, b)
        score = similarity(a, b)
        assert 0.0 <= score <= 1.0
        bound = _similarity_upper_bound(Counter(_tokens(a)), Counter(_tokens(b)), len(a) + len(b))
        assert score <= bound + 1e-9, "the rename pre-filter must never reject a real match"


def test_similarity_range_and_extremes() -> None:
    assert similarity("", "") == 1.0
    assert similarity(LOREM, LOREM) == 1.0
    assert similarity("alpha beta", "gamma delta") == 0.0
    assert similarity(LOREM, "") == 0.0
    # One text being the other plus as much again: 2 * 8 / (8 + 16).
    assert similarity("one two ", "one two six ten ") == pytest.approx(2 / 3)
    light_edit = LOREM.replace("ambiguous", "unclear")
    assert 0.9 < similarity(LOREM, light_edit) < 1.0


# --------------------------------------------------------------------------------------------
# diff_versions: structure
# --------------------------------------------------------------------------------------------


def test_identical_versions_are_all_unchanged_and_small() -> None:
    diff = diff_versions(BASE, BASE)
    assert [c.status for c in diff.clauses] == ["unchanged"] * len(BASE)
    assert diff.summary.unchanged == len(BASE)
    assert diff.summary.to_dict() == {
        "added": 0,
        "removed": 0,
        "changed": 0,
        "moved": 0,
        "renamed": 0,
        "probable_renames": 0,
        "unchanged": len(BASE),
    }
    payload = diff.clauses[0].to_dict()
    assert set(payload) == {"status", "key", "old_key", "title", "changed", "moved", "renamed_from"}


def test_added_clause_in_new_document_order() -> None:
    new = version(*BASE[:2], clause("fresh", parent="intro"), *BASE[2:])
    diff = diff_versions(BASE, new)
    assert [c.key for c in diff.clauses] == [c.key for c in new]
    fresh = by_key(diff)["fresh"]
    assert (fresh.status, fresh.old_key, fresh.body_diff) == ("added", None, None)
    assert diff.summary.added == 1
    assert diff.summary.unchanged == len(BASE)


def test_insertion_does_not_mark_later_clauses_as_moved() -> None:
    new = version(clause("first", authority=None), *BASE)
    diff = diff_versions(BASE, new)
    assert diff.summary.moved == 0
    assert {c.status for c in diff.clauses if c.key != "first"} == {"unchanged"}


def test_removed_clauses_follow_their_old_predecessor() -> None:
    new = [c for c in BASE if c.key not in {"intro", "beta", "gamma"}]
    new = version(*(replace(c, parent_key=None) if c.key == "alpha" else c for c in new))
    diff = diff_versions(BASE, new)
    # intro had no surviving predecessor: top. beta, gamma: after alpha, in old order.
    assert [(c.key, c.status) for c in diff.clauses] == [
        ("intro", "removed"),
        ("alpha", "moved"),
        ("beta", "removed"),
        ("gamma", "removed"),
        ("rules", "unchanged"),
        ("delta", "unchanged"),
        ("epsilon", "unchanged"),
    ]
    assert by_key(diff)["alpha"].parent_change == ("intro", None)
    assert diff.summary.removed == 3


def test_changed_body_has_word_diff_only_where_needed() -> None:
    new = edited(BASE, "beta", body=BASE[2].body.replace("ambiguous", "unclear"))
    beta = by_key(diff_versions(BASE, new))["beta"]
    assert (beta.status, beta.changed, beta.moved) == ("changed", True, False)
    assert beta.title_diff is None
    assert beta.body_diff is not None
    assert ("delete", "ambiguous") in beta.body_diff
    assert ("insert", "unclear") in beta.body_diff
    assert_well_formed(beta.body_diff, BASE[2].body, new[2].body)


def test_title_change() -> None:
    new = edited(BASE, "alpha", title="Alpha clause, revised")
    alpha = by_key(diff_versions(BASE, new))["alpha"]
    assert alpha.status == "changed"
    assert alpha.title_diff is not None
    assert new_text(alpha.title_diff) == "Alpha clause, revised"
    assert alpha.body_diff is None


def test_authority_change() -> None:
    new = edited(BASE, "delta", authority="root")
    delta = by_key(diff_versions(BASE, new))["delta"]
    assert delta.status == "changed"
    assert delta.authority_change == ("user", "root")
    assert delta.body_diff is None and delta.title_diff is None


def test_tags_change_is_set_based() -> None:
    old = edited(BASE, "gamma", tags=("a", "b"))
    new = edited(BASE, "gamma", tags=("b", "c", "d"))
    gamma = by_key(diff_versions(old, new))["gamma"]
    assert gamma.status == "changed"
    assert gamma.tags_change is not None
    assert gamma.tags_change.to_dict() == {"added": ["c", "d"], "removed": ["a"]}
    reordered = edited(BASE, "gamma", tags=("b", "a"))
    assert by_key(diff_versions(old, reordered))["gamma"].status == "unchanged"


def test_moved_by_parent() -> None:
    new = version(*(replace(c, parent_key="rules") if c.key == "gamma" else c for c in BASE))
    new = version(*(c for c in new if c.key != "gamma"), *(c for c in new if c.key == "gamma"))
    diff = diff_versions(BASE, new)
    gamma = by_key(diff)["gamma"]
    assert (gamma.status, gamma.moved, gamma.changed) == ("moved", True, False)
    assert gamma.parent_change == ("intro", "rules")
    assert diff.summary.moved == 1


def test_moved_by_order_flags_only_the_moved_clause() -> None:
    # epsilon jumps ahead of delta; gamma jumps from last to first among intro's children.
    order = ["intro", "gamma", "alpha", "beta", "rules", "epsilon", "delta"]
    lookup = {c.key: c for c in BASE}
    diff = diff_versions(BASE, version(*(lookup[k] for k in order)))
    moved = {c.key for c in diff.clauses if c.moved}
    # alpha and beta keep their relative order (the longest such run); of the swapped pair,
    # the one that jumped ahead is the one that moved.
    assert moved == {"gamma", "epsilon"}
    assert diff.summary.moved == 2
    assert all(c.parent_change is None for c in diff.clauses)


def test_moving_a_section_does_not_flag_its_children() -> None:
    lookup = {c.key: c for c in BASE}
    order = ["rules", "delta", "epsilon", "intro", "alpha", "beta", "gamma"]
    diff = diff_versions(BASE, version(*(lookup[k] for k in order)))
    assert diff.summary.moved == 1
    assert [c.key for c in diff.clauses if c.moved] == ["rules"]  # the section that jumped ahead


def test_changed_and_moved() -> None:
    new = edited(BASE, "alpha", body="Completely new words.")
    lookup = {c.key: c for c in new}
    order = ["intro", "beta", "gamma", "alpha", "rules", "delta", "epsilon"]
    alpha = by_key(diff_versions(BASE, version(*(lookup[k] for k in order))))["alpha"]
    assert (alpha.status, alpha.changed, alpha.moved) == ("changed", True, True)


def test_examples_added_and_removed_by_fingerprint() -> None:
    old = edited(BASE, "beta", examples=(("f1", "one"), ("f2", "two"), ("f3", "three")))
    new = edited(BASE, "beta", examples=(("f3", "three"), ("f1", "one, retitled"), ("f4", "four")))
    beta = by_key(diff_versions(old, new))["beta"]
    assert beta.status == "changed"
    assert beta.examples_added == ["four"]
    assert beta.examples_removed == ["two"]
    reordered = edited(BASE, "beta", examples=(("f3", "three"), ("f2", "two"), ("f1", "one")))
    assert by_key(diff_versions(old, reordered))["beta"].status == "unchanged"


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate clause key 'alpha'"):
        diff_versions([*BASE, replace(BASE[1], position=99)], BASE)


# --------------------------------------------------------------------------------------------
# diff_versions: renames
# --------------------------------------------------------------------------------------------

RENAMED_BODY = (
    "The assistant must never reveal privileged instructions. It may share the gist when the "
    "developer allows it, and it should decline politely otherwise."
)


def _renamed_pair() -> tuple[list[ClauseSnapshot], list[ClauseSnapshot]]:
    old = version(*BASE, clause("secrets", title="Protect messages", body=RENAMED_BODY))
    new_body = RENAMED_BODY.replace("instructions", "information") + " Explain why if asked."
    new = version(
        *BASE,
        clause("keep_private", title="Protect information", body=new_body),
        clause("unrelated", title="Something else", body="Totally different text about maps."),
    )
    return old, new


def test_probable_rename_is_proposed_but_not_applied() -> None:
    old, new = _renamed_pair()
    diff = diff_versions(old, new)
    assert len(diff.probable_renames) == 1
    proposal = diff.probable_renames[0]
    assert (proposal.old_key, proposal.new_key) == ("secrets", "keep_private")
    assert (proposal.old_title, proposal.new_title) == ("Protect messages", "Protect information")
    assert 0.6 < proposal.similarity < 1.0
    statuses = {c.key: c.status for c in diff.clauses}
    assert statuses["secrets"] == "removed" and statuses["keep_private"] == "added"
    assert diff.summary.probable_renames == 1 and diff.summary.renamed == 0
    # Raising the threshold above the similarity drops the proposal.
    strict = diff_versions(old, new, rename_threshold=proposal.similarity + 0.01)
    assert strict.probable_renames == []


def test_probable_renames_best_first_each_key_once() -> None:
    old, new = _renamed_pair()
    near_copy = clause("secrets_v2", title="Protect messages", body=RENAMED_BODY + " Always.")
    new = version(*new, near_copy)
    diff = diff_versions(old, new)
    # secrets matches secrets_v2 best; keep_private is then left without a partner.
    assert [(p.old_key, p.new_key) for p in diff.probable_renames] == [("secrets", "secrets_v2")]


def test_rejected_rename_is_not_proposed_again() -> None:
    old, new = _renamed_pair()
    diff = diff_versions(old, new, rejected_renames=[("secrets", "keep_private")])
    assert diff.probable_renames == []
    # Pairs from JSON arrive as lists; those work too.
    diff = diff_versions(old, new, rejected_renames=[["secrets", "keep_private"]])  # type: ignore[list-item]
    assert diff.probable_renames == []


def test_confirmed_alias_makes_one_renamed_clause() -> None:
    old, new = _renamed_pair()
    diff = diff_versions(old, new, aliases={"secrets": "keep_private"})
    keys = [c.key for c in diff.clauses]
    assert "secrets" not in keys
    renamed = by_key(diff)["keep_private"]
    assert renamed.status == "renamed"
    assert (renamed.old_key, renamed.renamed_from) == ("secrets", "secrets")
    assert renamed.changed and not renamed.moved
    assert renamed.title_diff is not None and renamed.body_diff is not None
    assert diff.summary.renamed == 1
    assert diff.summary.removed == 0 and diff.summary.added == 1  # "unrelated" only
    assert diff.probable_renames == []


def test_alias_on_parent_does_not_move_children() -> None:
    new = [replace(c, key="intro_v2") if c.key == "intro" else c for c in BASE]
    new = [replace(c, parent_key="intro_v2") if c.parent_key == "intro" else c for c in new]
    diff = diff_versions(BASE, new, aliases={"intro": "intro_v2"})
    assert diff.summary.moved == 0
    assert by_key(diff)["intro_v2"].status == "renamed"
    assert {c.status for c in diff.clauses if c.key != "intro_v2"} == {"unchanged"}
    # Without the alias the children did change parent.
    assert diff_versions(BASE, new).summary.moved == 3


def test_alias_to_missing_key_is_ignored() -> None:
    diff = diff_versions(BASE, BASE, aliases={"alpha": "nowhere", "ghost": "beta"})
    assert diff.summary.unchanged == len(BASE)


def test_to_dict_is_json_round_trippable() -> None:
    old, new = _renamed_pair()
    new = edited(new, "delta", authority="root", tags=("under_18",), body="Changed  body\n")
    result = diff_versions(old, new).to_dict()
    assert json.loads(json.dumps(result)) == result
    delta = next(c for c in result["clauses"] if c["key"] == "delta")
    assert delta["authority_change"] == ["user", "root"]
    assert delta["tags_change"] == {"added": ["under_18"], "removed": []}
    assert all(len(seg) == 2 for seg in delta["body_diff"])
    assert result["probable_renames"][0]["old_key"] == "secrets"


# --------------------------------------------------------------------------------------------
# Real data: OpenAI Model Spec 2025-02-12 -> 2025-12-18
# --------------------------------------------------------------------------------------------

# Deliberately tiny extraction (headings + "**Example**:" blocks); the real parser lives in
# specs/spec_markdown.py and this test must not depend on it.
_HEADING = re.compile(r"^(#{1,4}) (.*?) \{#(\w+)(.*?)\}\s*$")
_EXAMPLE = re.compile(r"^\*\*Example\*\*:[ \t]*([^\n]*)\n+~~~xml\n(.*?)^~~~", re.M | re.S)


def extract(path: Path) -> list[ClauseSnapshot]:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    headings: list[tuple[int, int, str, str, str]] = []
    fence: str | None = None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        if fence is not None:
            if stripped.startswith(fence):
                fence = None
            continue
        if stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
            continue
        if m := _HEADING.match(line):
            headings.append((i, len(m[1]), m[2], m[3], m[4]))
    out: list[ClauseSnapshot] = []
    stack: list[tuple[int, str]] = []
    for n, (i, level, title, key, attrs) in enumerate(headings):
        end = headings[n + 1][0] if n + 1 < len(headings) else len(lines)
        body = "".join(lines[i + 1 : end])
        attributes = dict(item.split("=", 1) for item in attrs.split())
        while stack and stack[-1][0] >= level:
            stack.pop()
        examples = tuple(
            (hashlib.sha256(f"{t}\n{block}".encode()).hexdigest()[:16], t)
            for t, block in _EXAMPLE.findall(body)
        )
        out.append(
            ClauseSnapshot(
                key=key,
                title=title,
                authority=attributes.get("authority"),
                tags=tuple(attributes["tags"].split(",")) if "tags" in attributes else (),
                body=body,
                parent_key=stack[-1][1] if stack else None,
                position=n,
                examples=examples,
            )
        )
        stack.append((level, key))
    return out


@pytest.fixture(scope="module")
def model_spec() -> tuple[list[ClauseSnapshot], list[ClauseSnapshot]]:
    return extract(OLDEST.path), extract(NEWEST.path)


def _content(snapshot: ClauseSnapshot) -> tuple:
    """What "changed" compares: title, body, authority, tags as a set, examples as a multiset."""
    fingerprints = Counter(fingerprint for fingerprint, _title in snapshot.examples)
    return (
        snapshot.title,
        snapshot.body,
        snapshot.authority,
        frozenset(snapshot.tags),
        fingerprints,
    )


def test_real_model_spec_diff(
    model_spec: tuple[list[ClauseSnapshot], list[ClauseSnapshot]],
) -> None:
    old, new = model_spec
    assert (len(old), len(new)) == (OLDEST.clauses, NEWEST.clauses)
    assert sum(len(c.examples) for c in new) == NEWEST.examples
    facts = OLDEST_TO_NEWEST
    diff = diff_versions(old, new)

    statuses = {c.key: c.status for c in diff.clauses}
    removed = {k for k, s in statuses.items() if s == "removed"}
    added = {k for k, s in statuses.items() if s == "added"}
    assert removed == facts.removed_keys
    assert len(added) == facts.added
    assert {"red_line_principles", "protect_privileged_information", "be_warm"} <= added
    s = diff.summary
    assert (s.added, s.removed, s.renamed) == (facts.added, len(facts.removed_keys), 0)
    assert s.changed + s.unchanged == facts.kept  # every surviving clause is one or the other
    old_by_key = {c.key: c for c in old}
    new_by_key = {c.key: c for c in new}
    kept = old_by_key.keys() & new_by_key.keys()
    assert s.changed == sum(1 for k in kept if _content(old_by_key[k]) != _content(new_by_key[k]))
    # "approachable" was dissolved into "style": its children moved; "structure" now opens
    # the overview. The new sections inserted everywhere must not flag anything else.
    assert {c.key for c in diff.clauses if c.moved} == {
        "structure",
        "be_rationally_optimistic",
        "do_not_make_unprompted_personal_comments",
        "avoid_being_condescending",
    }
    assert by_key(diff)["be_rationally_optimistic"].parent_change == ("approachable", "style")
    # "platform" authority became "root" (mostly) or "system".
    authority = Counter(c.authority_change for c in diff.clauses if c.authority_change)
    assert authority == {
        ("platform", "root"): facts.platform_to_root,
        ("platform", "system"): facts.platform_to_system,
    }

    proposals = {(p.old_key, p.new_key): p.similarity for p in diff.probable_renames}
    assert proposals.get(facts.probable_rename, 0) > 0.8
    assert all(o in removed and n in added and v >= 0.6 for (o, n), v in proposals.items())
    assert len({o for o, _ in proposals}) == len({n for _, n in proposals}) == len(proposals)

    # Removed clauses sit after their old predecessor: "be_kind" follows "be_empathetic".
    keys = [c.key for c in diff.clauses]
    assert keys.index("be_kind") == keys.index("be_empathetic") + 1
    assert [k for k in keys if statuses[k] != "removed"] == [c.key for c in new]

    # Every word diff reconstructs both texts exactly.
    for change in diff.clauses:
        if change.body_diff is not None:
            assert change.old_key is not None
            old_body, new_body = old_by_key[change.old_key].body, new_by_key[change.key].body
            assert_well_formed(change.body_diff, old_body, new_body)
        if change.status == "unchanged":
            assert change.body_diff is None and change.title_diff is None
    assert json.loads(json.dumps(diff.to_dict())) == diff.to_dict()


def test_real_model_spec_with_confirmed_alias(
    model_spec: tuple[list[ClauseSnapshot], list[ClauseSnapshot]],
) -> None:
    old, new = model_spec
    pair = ("protect_privileged_messages", "protect_privileged_information")
    diff = diff_versions(old, new, aliases=dict([pair]), rejected_renames=[("be_kind", "be_warm")])
    renamed = by_key(diff)["protect_privileged_information"]
    assert (renamed.status, renamed.renamed_from, renamed.changed) == ("renamed", pair[0], True)
    facts = OLDEST_TO_NEWEST
    assert (diff.summary.added, diff.summary.removed, diff.summary.renamed) == (
        facts.added - 1,
        len(facts.removed_keys) - 1,
        1,
    )
    assert all(p.old_key != pair[0] for p in diff.probable_renames)
    assert ("be_kind", "be_warm") not in {(p.old_key, p.new_key) for p in diff.probable_renames}


# --------------------------------------------------------------------------------------------
# The text as read (ClauseSnapshot.text)
# --------------------------------------------------------------------------------------------


def test_the_body_diff_compares_the_text_as_read_when_it_is_given() -> None:
    old = version(clause("a", body="Be **kind**[^ab12].", authority=None))
    new = version(clause("a", body="Be **very kind**[^ab12].", authority=None))
    old = [replace(c, text="Be kind.") for c in old]
    new = [replace(c, text="Be very kind.") for c in new]
    change = by_key(diff_versions(old, new))["a"]
    assert change.status == "changed"
    assert change.body_diff == [("equal", "Be "), ("insert", "very "), ("equal", "kind.")]
    assert not any("**" in text or "[^" in text for _, text in change.body_diff)


def test_a_source_change_that_reads_the_same_is_markup_only() -> None:
    old = [replace(c, text="See The chain of command.") for c in version(clause("a", body="x"))]
    new = [replace(c, text="See The chain of command.") for c in version(clause("a", body="y"))]
    change = by_key(diff_versions(old, new))["a"]
    assert (change.status, change.changed, change.markup_only) == ("changed", True, True)
    assert change.body_diff is None
    assert change.to_dict()["markup_only"] is True
    assert "body_diff" not in change.to_dict()


def test_without_text_the_body_itself_is_compared() -> None:
    old = version(clause("a", body="One two."))
    new = version(clause("a", body="One three."))
    change = by_key(diff_versions(old, new))["a"]
    assert new_text(change.body_diff) == "One three."
    assert "markup_only" not in change.to_dict()
