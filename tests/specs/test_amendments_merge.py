"""The three-way merge of clause fields, without a database."""

from __future__ import annotations

from specs.amendments.merge import map_offset, merge_fields, merge_lines

BASE = "one\ntwo\nthree\nfour\nfive\n"


def test_edits_to_different_lines_are_both_kept() -> None:
    merged, conflicts = merge_lines(
        BASE, "ONE\ntwo\nthree\nfour\nfive\n", "one\ntwo\nthree\nfour\nFIVE\n"
    )
    assert (merged, conflicts) == ("ONE\ntwo\nthree\nfour\nFIVE\n", [])


def test_an_insertion_and_a_distant_deletion_are_both_kept() -> None:
    merged, conflicts = merge_lines(
        BASE, "one\nhalf\ntwo\nthree\nfour\nfive\n", "one\ntwo\nthree\n"
    )
    assert (merged, conflicts) == ("one\nhalf\ntwo\nthree\n", [])


def test_edits_to_the_same_line_are_a_conflict_showing_both_sides() -> None:
    merged, conflicts = merge_lines(
        BASE, "one\nTWO\nthree\nfour\nfive\n", "one\n2\nthree\nfour\nfive\n"
    )
    assert conflicts == [("two\n", "TWO\n", "2\n")]
    assert merged == "one\n<<<<<<< draft\nTWO\n=======\n2\n>>>>>>> amendment\nthree\nfour\nfive\n"


def test_two_insertions_at_one_place_are_a_conflict_not_a_guessed_order() -> None:
    _, conflicts = merge_lines(BASE, BASE + "six\n", BASE + "seven\n")
    assert conflicts == [("", "six\n", "seven\n")]


def test_the_same_edit_on_both_sides_is_no_conflict() -> None:
    same = "one\ntwo\n3\nfour\nfive\n"
    assert merge_lines(BASE, same, same) == (same, [])


def test_fields_changed_on_one_side_take_that_side() -> None:
    base = {"title": "T", "body": BASE, "authority": "user", "tags": ["a"]}
    ours = {**base, "title": "Draft title"}
    result = merge_fields(base, ours, {"authority": "developer", "title": "T"})
    assert result.clean
    assert result.values == {"title": "Draft title", "authority": "developer"}


def test_a_field_changed_differently_on_both_sides_is_a_conflict() -> None:
    base = {"title": "T", "body": "", "authority": "user", "tags": []}
    result = merge_fields(base, {**base, "title": "Ours"}, {"title": "Theirs"})
    assert not result.clean
    conflict = result.conflicts[0]
    assert (conflict.field, conflict.base, conflict.ours, conflict.theirs) == (
        "title",
        "T",
        "Ours",
        "Theirs",
    )
    assert "title" not in result.values  # nothing chosen silently


def test_tags_merge_as_sets_keeping_both_sides_additions_and_removals() -> None:
    base = {"tags": ["a", "b"]}
    result = merge_fields(base, {"tags": ["a", "b", "draft"]}, {"tags": ["b", "mine"]})
    assert result.values == {"tags": ["b", "draft", "mine"]}


def test_an_example_offset_follows_its_paragraph_through_an_edit() -> None:
    old = "Intro.\n\nMiddle.\n"
    new = "Intro, longer now.\nAnd more.\n\nMiddle.\n"
    assert new[map_offset(old, new, old.index("Middle")) :] == "Middle.\n"
    assert map_offset(old, new, len(old)) == len(new)


def test_an_example_before_replaced_lines_stays_before_their_replacement() -> None:
    old = "a\nb\nc\n"
    new = "a\nB\nB2\nc\n"
    assert map_offset(old, new, old.index("b")) == new.index("B")
