"""Three-way merge of clause fields: what an amendment changed (base → theirs) applied to what the
draft holds now (base → ours). Framework-free (stdlib only).

Contracts:

* A field changed on one side only takes that side's value; changed identically on both sides
  it takes that value; changed differently on both sides it is a :class:`FieldConflict`.
* ``body`` merges by lines: hunks of lines changed on one side are applied; hunks that overlap
  (or touch the same place) and differ are a conflict, shown with both sides and the base.
* ``tags`` merge as sets (added and removed on either side), keeping the draft's order.
* Nothing is silently lost: :func:`merge_fields` either returns every edit of both sides or
  reports the conflicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

__all__ = [
    "MERGED_FIELDS",
    "FieldConflict",
    "MergeResult",
    "conflict_text",
    "map_offset",
    "merge_fields",
    "merge_lines",
]

#: The clause fields an amendment can change and a merge compares.
MERGED_FIELDS = ("title", "body", "authority", "tags")


@dataclass(frozen=True)
class FieldConflict:
    """Both sides changed ``field`` differently. For ``body``, ``hunks`` holds each overlapping
    region as ``(base lines, ours lines, theirs lines)``; ``merged`` is the body with every
    clean hunk applied and each conflict marked (see :func:`conflict_text`)."""

    field: str
    base: Any
    ours: Any
    theirs: Any
    hunks: tuple[tuple[str, str, str], ...] = ()
    merged: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "base": self.base,
            "ours": self.ours,
            "theirs": self.theirs,
            "hunks": [list(h) for h in self.hunks],
            "merged": self.merged,
        }


@dataclass
class MergeResult:
    values: dict[str, Any] = field(default_factory=dict)
    conflicts: list[FieldConflict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.conflicts


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _changes(base: Sequence[str], other: Sequence[str]) -> list[tuple[int, int, list[str]]]:
    """``(base start, base end, replacement lines)`` for every region ``other`` changed."""
    matcher = SequenceMatcher(a=base, b=other, autojunk=False)
    return [
        (i1, i2, list(other[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def conflict_text(ours: str, theirs: str) -> str:
    """How a conflicting region reads in a merged body: the draft's lines, then the amendment's."""

    def block(text: str) -> str:
        return text if not text or text.endswith("\n") else text + "\n"

    return f"<<<<<<< draft\n{block(ours)}=======\n{block(theirs)}>>>>>>> amendment\n"


def merge_lines(base: str, ours: str, theirs: str) -> tuple[str, list[tuple[str, str, str]]]:
    """Merge two edits of ``base`` by lines. Returns the merged text and the conflicting hunks
    (``(base, ours, theirs)`` text each); with conflicts, the text marks each of them."""
    if ours == theirs or theirs == base:
        return ours, []
    if ours == base:
        return theirs, []
    base_lines = _lines(base)
    ours_changes = _changes(base_lines, _lines(ours))
    theirs_changes = _changes(base_lines, _lines(theirs))
    # Walk both change lists in base order, grouping changes whose base ranges overlap or touch
    # (two insertions at one place are an overlap too: their order would be a guess).
    tagged = sorted(
        [(start, end, lines, "ours") for start, end, lines in ours_changes]
        + [(start, end, lines, "theirs") for start, end, lines in theirs_changes],
        key=lambda change: (change[0], change[1]),
    )
    out: list[str] = []
    conflicts: list[tuple[str, str, str]] = []
    cursor = 0
    index = 0
    while index < len(tagged):
        group = [tagged[index]]
        group_end = tagged[index][1]
        index += 1
        while index < len(tagged) and _overlaps(tagged[index], group, group_end):
            group.append(tagged[index])
            group_end = max(group_end, tagged[index][1])
            index += 1
        start = group[0][0]
        out.extend(base_lines[cursor:start])
        sides = {side for *_, side in group}
        if len(sides) == 1:
            position = start
            for change_start, change_end, lines, _ in group:
                out.extend(base_lines[position:change_start])
                out.extend(lines)
                position = change_end
            out.extend(base_lines[position:group_end])
        else:
            ours_text = "".join(_apply(base_lines, start, group_end, group, "ours"))
            theirs_text = "".join(_apply(base_lines, start, group_end, group, "theirs"))
            if ours_text == theirs_text:
                out.append(ours_text)
            else:
                base_text = "".join(base_lines[start:group_end])
                conflicts.append((base_text, ours_text, theirs_text))
                out.append(conflict_text(ours_text, theirs_text))
        cursor = group_end
    out.extend(base_lines[cursor:])
    return "".join(out), conflicts


def _overlaps(change: tuple, group: Sequence[tuple], group_end: int) -> bool:
    """Whether ``change`` (next in base order) overlaps the group: it starts inside it, or it
    is an insertion where the group ends, or the group ends with one there (two insertions at one
    place, or an insertion against an edit next to it: their order would be a guess)."""
    start, end = change[0], change[1]
    if start < group_end:
        return True
    return start == group_end and (
        start == end or any(other[0] == other[1] == group_end for other in group)
    )


def _apply(
    base_lines: Sequence[str], start: int, end: int, group: Sequence[tuple], side: str
) -> list[str]:
    """The region ``base[start:end]`` as ``side`` left it."""
    out: list[str] = []
    position = start
    for change_start, change_end, lines, change_side in group:
        if change_side != side:
            continue
        out.extend(base_lines[position:change_start])
        out.extend(lines)
        position = change_end
    out.extend(base_lines[position:end])
    return out


def _merge_tags(base: Sequence[str], ours: Sequence[str], theirs: Sequence[str]) -> list[str]:
    added = [tag for tag in theirs if tag not in base]
    removed = {tag for tag in base if tag not in theirs}
    merged = [tag for tag in ours if tag not in removed]
    merged += [tag for tag in added if tag not in merged]
    return merged


def merge_fields(
    base: Mapping[str, Any], ours: Mapping[str, Any], theirs: Mapping[str, Any]
) -> MergeResult:
    """Merge the fields ``theirs`` sets (a subset of :data:`MERGED_FIELDS`) into ``ours``.

    ``base`` and ``ours`` hold the clause as the amendment found it and as the draft has it.
    ``values`` of the result are the merged values of the fields ``theirs`` sets."""
    result = MergeResult()
    for name in MERGED_FIELDS:
        if name not in theirs:
            continue
        old, mine, new = base.get(name), ours.get(name), theirs[name]
        if name == "tags":
            result.values[name] = _merge_tags(old or [], mine or [], new or [])
        elif mine in (old, new):
            result.values[name] = new
        elif new == old:
            result.values[name] = mine
        elif name == "body":
            merged, hunks = merge_lines(old or "", mine or "", new or "")
            if hunks:
                result.conflicts.append(
                    FieldConflict(name, old, mine, new, hunks=tuple(hunks), merged=merged)
                )
            else:
                result.values[name] = merged
        else:
            result.conflicts.append(FieldConflict(name, old, mine, new))
    return result


def map_offset(old: str, new: str, offset: int) -> int:
    """Where a character offset of ``old`` (an example's place in a clause body) falls in
    ``new``: the same line if it survived, else just before the lines that replaced it; the end
    stays the end. Offsets always land at a line start or the end, so an example never splits a
    paragraph."""
    if offset >= len(old):
        return len(new)
    old_lines, new_lines = _lines(old), _lines(new)
    line, seen = 0, 0
    while line < len(old_lines) and seen + len(old_lines[line]) <= offset:
        seen += len(old_lines[line])
        line += 1
    target = len(new_lines)
    for tag, i1, i2, j1, j2 in SequenceMatcher(
        a=old_lines, b=new_lines, autojunk=False
    ).get_opcodes():
        if i1 <= line < i2 or (i1 == i2 == line and tag == "insert"):
            # Before the lines that replaced its own; after them if it stood inside the old ones.
            target = j1 + (line - i1) if tag == "equal" else (j1 if line == i1 else j2)
            break
    return sum(len(text) for text in new_lines[:target])
