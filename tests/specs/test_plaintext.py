"""Spec Markdown as a reader reads it (specs.plaintext): what the diff and search show."""

from __future__ import annotations

import pytest

from specs.plaintext import clause_text, latex_text, markdown_text
from specs.spec_markdown import parse_spec
from tests.spec_facts import LABELS, spec_text

# What a reader never sees on the clause page, so neither the diff nor a snippet may show it.
MARKUP = ("**", "!!! meta", "[^", "](#", "\\(", "\\[", "\\frac", "~~~")


def test_emphasis_code_and_links_read_as_their_text() -> None:
    text = markdown_text(
        "The **assistant** must *not* use `eval` or [the docs](https://example.com) ~~ever~~."
    )
    assert text == "The assistant must not use eval or the docs ever."


def test_a_cross_reference_reads_as_the_title_of_the_clause_it_names() -> None:
    titles = {"chain_of_command": "The chain of command"}
    text = markdown_text(
        "See [?](#chain_of_command), [this rule](#chain_of_command) and [?](#gone_clause).",
        titles=titles,
    )
    assert text == "See The chain of command, this rule and gone clause."


def test_eval_footnote_markers_are_dropped() -> None:
    assert markdown_text("activities that are illicit[^91og], could harm") == (
        "activities that are illicit, could harm"
    )


def test_commentary_reads_as_a_paragraph_introduced_by_commentary() -> None:
    body = 'Rule text.\n\n!!! meta "Commentary"\n    Why the rule\n    is so.\n\nMore rule.'
    assert clause_text(body) == "Rule text.\n\nCommentary: Why the rule is so.\n\nMore rule."


def test_lists_and_tables_keep_one_item_or_row_per_line() -> None:
    markdown = "Intro:\n\n- one\n- **two**\n  1. nested\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert markdown_text(markdown) == "Intro:\n• one\n• two\n  1. nested\n\na | b\n1 | 2"


def test_simple_latex_is_spelled_out() -> None:
    assert latex_text(r"\frac{4}{3}\pi r^3") == "4/3 π r^3"
    assert latex_text(r"\mathcal{B}") == "B"
    assert latex_text(r"\frac{d}{dx} x^2 = 2x") == "d/dx x^2 = 2x"
    assert latex_text(r"\sqrt{x + 1} \leq 3") == "√(x + 1) ≤ 3"
    text = markdown_text(
        r"A sphere of radius `r` holds \\( \frac{4}{3}\pi r^3 \\), with \\( r \\)."
    )
    assert text == "A sphere of radius r holds 4/3 π r^3, with r."


def test_prose_about_math_delimiters_is_left_as_written() -> None:
    text = markdown_text(r"For math, use \\( \... \\) inline (where \\\[ and \\\] stand alone).")
    assert text == r"For math, use \( ... \) inline (where \[ and \] stand alone)."


def _contents(example) -> list[str]:  # type: ignore[no-untyped-def]
    contents = []
    for turn in example.turns:
        if turn.message is not None:
            contents.append(turn.message.content)
        else:
            contents += [candidate.content for candidate in turn.comparison or ()]
    return contents


@pytest.mark.parametrize("label", LABELS)
def test_no_clause_or_example_of_a_real_version_reads_with_markup(label: str) -> None:
    parsed = parse_spec(spec_text(label))
    titles = {clause.key: clause.title for clause in parsed.clauses}
    for clause in parsed.clauses:
        text = clause_text(clause.body, titles=titles)
        # The "formatting" guideline writes about \( and \[ as text: the page shows them so.
        found = [marker for marker in MARKUP if marker in text and marker not in {"\\(", "\\["}]
        assert not found, clause.key
        if clause.body.strip():
            assert text.strip(), clause.key
        for example in clause.examples:
            title = markdown_text(example.title, titles=titles)
            assert not [marker for marker in MARKUP if marker in title], example.title
            for content in _contents(example):
                text = markdown_text(content, titles=titles)
                assert not [m for m in ("\\frac", "\\(", "\\[", "**", "[^") if m in text], text
