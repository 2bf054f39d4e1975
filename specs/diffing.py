"""Compare two versions of a behaviour specification (a tree of keyed clauses).

Framework-free on purpose (stdlib only, no Django): callers turn their models into
:class:`ClauseSnapshot` values, call :func:`diff_versions`, and serialise the result with
:meth:`SpecDiff.to_dict`.

Contracts in brief:

* Clauses are matched across versions by key, or by a confirmed rename in ``aliases``
  (old key -> new key). Everything else is *added* or *removed*.
* Removed/added pairs whose text is similar are only *proposed* as renames
  (:class:`ProbableRename`); they stay removed + added until an editor confirms them (then they
  arrive as ``aliases``) or rejects them (``rejected_renames``, never proposed again).
* "changed" means title, body, authority, tags (as a set) or examples (by fingerprint) differ.
  The body's word diff is of ``text``, the body as a reader reads it (plain text, no markup)
  when the caller gives it; a body whose source changed but reads the same is ``markup_only``.
  "moved" means the parent changed, or the clause is outside the longest subsequence of its
  siblings whose relative order is unchanged. The two are independent flags; ``status`` picks one label.
* :func:`word_diff` segments always reconstruct both texts exactly.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "ClauseChange",
    "ClauseSnapshot",
    "DiffSummary",
    "ProbableRename",
    "Segment",
    "SpecDiff",
    "Status",
    "TagsChange",
    "diff_versions",
    "similarity",
    "word_diff",
]

Op = Literal["equal", "insert", "delete"]
Segment = tuple[str, str]
"""``(op, text)`` with op in ``"equal"``, ``"insert"``, ``"delete"``."""

Status = Literal["added", "removed", "changed", "moved", "renamed", "unchanged"]

EQUAL: Op = "equal"
INSERT: Op = "insert"
DELETE: Op = "delete"


# --------------------------------------------------------------------------------------------
# Input / output data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClauseSnapshot:
    """One clause of one specification version, as plain data.

    ``position`` is the clause's place in document order (any increasing integers will do);
    ``examples`` is ``(fingerprint, title)`` per example, in order. Keys must be unique within a
    version. ``text`` is the body as the reader reads it (rendered to plain text); the body's
    word diff compares it, and ``None`` compares the body itself.
    """

    key: str
    title: str
    authority: str | None
    tags: tuple[str, ...]
    body: str
    parent_key: str | None
    position: int
    examples: tuple[tuple[str, str], ...] = ()
    text: str | None = None

    @property
    def reading(self) -> str:
        """What the diff shows of the body: ``text`` if given, else the body."""
        return self.body if self.text is None else self.text


@dataclass(frozen=True)
class TagsChange:
    """Tags gained and lost; tags are compared as a set, so reordering alone is no change."""

    added: tuple[str, ...]
    removed: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {"added": list(self.added), "removed": list(self.removed)}


@dataclass
class ClauseChange:
    """How one clause differs between the two versions.

    ``key`` is the new key (the old key for removed clauses); ``old_key`` is ``None`` for added
    clauses. ``title`` is the new title (old title for removed clauses), for display.

    The payload fields (``title_diff`` ... ``parent_change``) are only filled for clauses present
    in both versions and only where something differs; unchanged clauses carry none.
    ``body_diff`` is the word diff of the body as read (``ClauseSnapshot.reading``); when the
    source changed but reads the same (a link target, emphasis, an eval footnote marker),
    ``body_diff`` stays ``None`` and ``markup_only`` is set.
    ``parent_change`` is ``(old parent key, new parent key)`` in each version's own keys.
    """

    status: Status
    key: str
    old_key: str | None
    title: str
    changed: bool = False
    moved: bool = False
    renamed_from: str | None = None
    title_diff: list[Segment] | None = None
    body_diff: list[Segment] | None = None
    markup_only: bool = False
    authority_change: tuple[str | None, str | None] | None = None
    tags_change: TagsChange | None = None
    examples_added: list[str] = field(default_factory=list)
    examples_removed: list[str] = field(default_factory=list)
    parent_change: tuple[str | None, str | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict. Identity fields are always present; payload keys only when set."""
        out: dict[str, Any] = {
            "status": self.status,
            "key": self.key,
            "old_key": self.old_key,
            "title": self.title,
            "changed": self.changed,
            "moved": self.moved,
            "renamed_from": self.renamed_from,
        }
        # Omitting empty payload keeps a 80-clause response small (most clauses are unchanged).
        if self.title_diff is not None:
            out["title_diff"] = [[op, text] for op, text in self.title_diff]
        if self.body_diff is not None:
            out["body_diff"] = [[op, text] for op, text in self.body_diff]
        if self.markup_only:
            out["markup_only"] = True
        if self.authority_change is not None:
            out["authority_change"] = list(self.authority_change)
        if self.tags_change is not None:
            out["tags_change"] = self.tags_change.to_dict()
        if self.examples_added:
            out["examples_added"] = list(self.examples_added)
        if self.examples_removed:
            out["examples_removed"] = list(self.examples_removed)
        if self.parent_change is not None:
            out["parent_change"] = list(self.parent_change)
        return out


@dataclass(frozen=True)
class ProbableRename:
    """A removed clause and an added clause whose title + body are similar (a proposal only)."""

    old_key: str
    new_key: str
    similarity: float
    old_title: str
    new_title: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_key": self.old_key,
            "new_key": self.new_key,
            "similarity": self.similarity,
            "old_title": self.old_title,
            "new_title": self.new_title,
        }


@dataclass(frozen=True)
class DiffSummary:
    """Counts of a :class:`SpecDiff`.

    ``added``/``removed``/``unchanged`` count statuses; ``changed``, ``moved`` and ``renamed``
    count flags, so one clause may be counted in several of them (a renamed clause that was
    also edited counts as renamed and changed). ``probable_renames`` counts proposals.
    """

    added: int = 0
    removed: int = 0
    changed: int = 0
    moved: int = 0
    renamed: int = 0
    probable_renames: int = 0
    unchanged: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "moved": self.moved,
            "renamed": self.renamed,
            "probable_renames": self.probable_renames,
            "unchanged": self.unchanged,
        }


@dataclass
class SpecDiff:
    """Result of :func:`diff_versions`.

    ``clauses`` is in new-version document order; each removed clause follows the nearest
    clause that preceded it in the old version (or opens the list if nothing did).
    ``probable_renames`` is best match first.
    """

    summary: DiffSummary
    clauses: list[ClauseChange]
    probable_renames: list[ProbableRename]

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts/lists/str/int/float/bool/None only (``json.dumps`` round-trips it)."""
        return {
            "summary": self.summary.to_dict(),
            "clauses": [c.to_dict() for c in self.clauses],
            "probable_renames": [r.to_dict() for r in self.probable_renames],
        }


# --------------------------------------------------------------------------------------------
# Text diffing
# --------------------------------------------------------------------------------------------

# First-level units: a sentence (up to and including the spaces after ".", "!" or "?") or the
# rest of a line (including its "\n"). The spec's paragraphs are single long lines, so lines
# alone would leave a whole paragraph to the word matcher for a one-word edit.
_UNIT_RE = re.compile(r"[^\n]*?(?:[.!?][^\S\n]+|\n)|[^\n]+")

# A token is a word or one punctuation character, with the whitespace that follows it attached
# (only unit-leading whitespace stands alone). Attaching whitespace instead of making it a token
# halves the token count and stops the matcher from "aligning" unrelated words on the spaces
# between them. Every character is \w, \s or neither, so tokens always concatenate back.
_TOKEN_RE = re.compile(r"\s+|\w+\s*|[^\w\s]\s*")

# Above this many token comparisons (len(old) * len(new)) in one changed block, let difflib
# treat very frequent tokens as junk. Exact matching is roughly quadratic on prose ("the "
# occurs everywhere); only a single huge rewritten block without sentence breaks gets here, and
# there a slightly coarser alignment beats a multi-second diff.
_AUTOJUNK_ABOVE = 4_000_000


def _units(text: str) -> list[str]:
    return _UNIT_RE.findall(text)


def _unit_tokens(units: Iterable[str]) -> list[str]:
    out: list[str] = []
    for unit in units:
        out.extend(_TOKEN_RE.findall(unit))
    return out


def _tokens(text: str) -> list[str]:
    """Word tokens of ``text``, never spanning a unit (sentence/line) boundary.

    The diff tokenises changed blocks unit by unit too, so tokens are the same whichever level
    matched them; that makes :func:`_similarity_upper_bound` a true upper bound.
    """
    return _unit_tokens(_units(text))


def _token_diff(old_tokens: Sequence[str], new_tokens: Sequence[str]) -> list[Segment]:
    """Raw diff of two token lists (no merging or cleanup)."""
    # Trim the common prefix/suffix first: cheap, and it keeps the matcher's work to the part
    # that actually changed.
    lo = 0
    limit = min(len(old_tokens), len(new_tokens))
    while lo < limit and old_tokens[lo] == new_tokens[lo]:
        lo += 1
    hi_old, hi_new = len(old_tokens), len(new_tokens)
    while hi_old > lo and hi_new > lo and old_tokens[hi_old - 1] == new_tokens[hi_new - 1]:
        hi_old -= 1
        hi_new -= 1
    segs: list[Segment] = []
    if lo:
        segs.append((EQUAL, "".join(old_tokens[:lo])))
    a = old_tokens[lo:hi_old]
    b = new_tokens[lo:hi_new]
    if a and b:
        # autojunk=False normally: the heuristic junks frequent words in anything over 200
        # tokens and visibly degrades the diff; the unit pre-pass keeps blocks short instead.
        autojunk = len(a) * len(b) > _AUTOJUNK_ABOVE
        matcher = SequenceMatcher(None, a, b, autojunk=autojunk)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                segs.append((EQUAL, "".join(a[i1:i2])))
                continue
            if i2 > i1:
                segs.append((DELETE, "".join(a[i1:i2])))
            if j2 > j1:
                segs.append((INSERT, "".join(b[j1:j2])))
    elif a:
        segs.append((DELETE, "".join(a)))
    elif b:
        segs.append((INSERT, "".join(b)))
    if hi_old < len(old_tokens):
        segs.append((EQUAL, "".join(old_tokens[hi_old:])))
    return segs


def _raw_diff(old: str, new: str) -> list[Segment]:
    """Two-level diff: sentences/lines first, then word tokens inside replaced blocks.

    Spec bodies are long (up to ~25 KB) but edits are local, and the unit pass is cheap (one
    hash per sentence), so the token matcher only ever sees the few sentences that changed.
    """
    old_units = _units(old)
    new_units = _units(new)
    segs: list[Segment] = []
    matcher = SequenceMatcher(None, old_units, new_units, autojunk=True)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segs.append((EQUAL, "".join(old_units[i1:i2])))
        elif tag == "delete":
            segs.append((DELETE, "".join(old_units[i1:i2])))
        elif tag == "insert":
            segs.append((INSERT, "".join(new_units[j1:j2])))
        else:
            segs.extend(_token_diff(_unit_tokens(old_units[i1:i2]), _unit_tokens(new_units[j1:j2])))
    return segs


def _normalise(segs: Iterable[Segment]) -> list[Segment]:
    """Drop empty segments, merge neighbours; each run of edits becomes one delete + one insert.

    Deletes keep their order and so do inserts, so both texts still reconstruct exactly.
    """
    out: list[Segment] = []
    dels: list[str] = []
    ins: list[str] = []

    def flush() -> None:
        if dels:
            out.append((DELETE, "".join(dels)))
            dels.clear()
        if ins:
            out.append((INSERT, "".join(ins)))
            ins.clear()

    for op, text in segs:
        if not text:
            continue
        if op == DELETE:
            dels.append(text)
        elif op == INSERT:
            ins.append(text)
        else:
            flush()
            if out and out[-1][0] == EQUAL:
                out[-1] = (EQUAL, out[-1][1] + text)
            else:
                out.append((EQUAL, text))
    flush()
    return out


def _cleanup(segs: list[Segment]) -> list[Segment]:
    """Fold coincidental equalities into the edits around them (diff-match-patch's rule).

    An equality no longer than the larger side of the edit on *both* of its sides ("the ", a
    comma) is noise in a rewritten sentence; showing it splits one readable replacement into
    confetti. Folding only reassigns text to both delete and insert, so reconstruction holds.
    """
    while True:
        folded = False
        out: list[Segment] = []
        i = 0
        n = len(segs)
        while i < n:
            op, text = segs[i]
            if op == EQUAL and 0 < i < n - 1:
                before = _edit_size(segs, i - 1, -1)
                after = _edit_size(segs, i + 1, 1)
                if before and after and len(text) <= before and len(text) <= after:
                    out.append((DELETE, text))
                    out.append((INSERT, text))
                    folded = True
                    i += 1
                    continue
            out.append((op, text))
            i += 1
        segs = _normalise(out)
        if not folded:
            return segs


def _edit_size(segs: Sequence[Segment], start: int, step: int) -> int:
    """max(deleted chars, inserted chars) of the run of edits starting at ``start``."""
    dels = ins = 0
    i = start
    while 0 <= i < len(segs) and segs[i][0] != EQUAL:
        if segs[i][0] == DELETE:
            dels += len(segs[i][1])
        else:
            ins += len(segs[i][1])
        i += step
    return max(dels, ins)


def word_diff(old: str, new: str) -> list[Segment]:
    """Word-level diff of ``old`` -> ``new`` as ``(op, text)`` segments.

    Contract: joining the ``equal`` and ``delete`` texts in order gives ``old`` exactly, and
    joining ``equal`` and ``insert`` gives ``new`` exactly (all whitespace and Unicode preserved).
    Segments are non-empty, no two neighbours share an op, and within a run of edits the delete
    comes before the insert. Identical inputs give a single ``equal`` segment (none if empty).
    """
    if old == new:
        return [(EQUAL, old)] if old else []
    return _cleanup(_normalise(_raw_diff(old, new)))


def _equal_chars(segs: Iterable[Segment]) -> int:
    return sum(len(text) for op, text in segs if op == EQUAL)


def similarity(a: str, b: str) -> float:
    """Similarity of two texts in [0, 1]: ``2 * kept / (len(a) + len(b))``.

    ``kept`` is the number of characters the word diff leaves equal (before cosmetic cleanup),
    i.e. difflib's ``ratio()`` over word tokens, weighted by token length: 1.0 for identical
    texts, 0.0 for texts sharing no word, 2/3 when one text is the other plus as much again.

    Why not shingled Jaccard: it punishes scattered copy edits hard (one changed word breaks
    every shingle around it), which is exactly the rename-plus-light-rewrite we want to catch;
    and this measure agrees with what an editor sees in :func:`word_diff`. It stays fast thanks
    to the sentence pre-pass; :func:`diff_versions` also skips pairs whose cheap upper bound
    (:func:`_similarity_upper_bound`) is already below the threshold.
    """
    total = len(a) + len(b)
    if total == 0:
        return 1.0
    if a == b:
        return 1.0
    return 2.0 * _equal_chars(_normalise(_raw_diff(a, b))) / total


def _similarity_upper_bound(a: Counter[str], b: Counter[str], total: int) -> float:
    """Upper bound of :func:`similarity` from token multisets (the idea of difflib quick_ratio).

    Every equal character of the diff belongs to a token matched in both texts, and tokens
    never span units, so the characters of the common token multiset bound ``kept``.
    """
    if total == 0:
        return 1.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    common = 0
    for token, count in small.items():
        other = large.get(token)
        if other:
            common += len(token) * min(count, other)
    return 2.0 * common / total


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


def _longest_increasing(values: Sequence[int]) -> set[int]:
    """Indices of one longest strictly increasing subsequence of ``values`` (O(n log n))."""
    tails: list[int] = []  # tails[k] = smallest tail value of an increasing run of length k+1
    tail_idx: list[int] = []
    prev: list[int] = [-1] * len(values)
    for i, value in enumerate(values):
        k = bisect_left(tails, value)
        if k == len(tails):
            tails.append(value)
            tail_idx.append(i)
        else:
            tails[k] = value
            tail_idx[k] = i
        prev[i] = tail_idx[k - 1] if k else -1
    keep: set[int] = set()
    i = tail_idx[-1] if tail_idx else -1
    while i != -1:
        keep.add(i)
        i = prev[i]
    return keep


def _ordered(clauses: Sequence[ClauseSnapshot], label: str) -> list[ClauseSnapshot]:
    seen: set[str] = set()
    for clause in clauses:
        if clause.key in seen:
            raise ValueError(f"duplicate clause key {clause.key!r} in {label} version")
        seen.add(clause.key)
    # sorted() is stable, so equal positions keep their input order.
    return sorted(clauses, key=lambda c: c.position)


def _match(
    old: Sequence[ClauseSnapshot],
    new_by_key: Mapping[str, ClauseSnapshot],
    aliases: Mapping[str, str],
) -> dict[str, str]:
    """old key -> new key for clauses present in both versions.

    Confirmed aliases win over same-key matches (the editor said old ``a`` *is* new ``b``, even
    if ``b`` also existed before); each new key is claimed at most once. Aliases are not
    chained: callers pass them composed for the two versions being compared.
    """
    matched: dict[str, str] = {}
    claimed: set[str] = set()
    for clause in old:  # old document order makes conflicting aliases resolve deterministically
        target = aliases.get(clause.key)
        if target is not None and target in new_by_key and target not in claimed:
            matched[clause.key] = target
            claimed.add(target)
    for clause in old:
        if clause.key in matched:
            continue
        if clause.key in new_by_key and clause.key not in claimed:
            matched[clause.key] = clause.key
            claimed.add(clause.key)
    return matched


def _examples_delta(
    old: Sequence[tuple[str, str]], new: Sequence[tuple[str, str]]
) -> tuple[list[str], list[str]]:
    """(titles added, titles removed), matching examples by fingerprint as a multiset."""
    old_count = Counter(fp for fp, _ in old)
    new_count = Counter(fp for fp, _ in new)
    added: list[str] = []
    remaining = old_count.copy()
    for fp, title in new:
        if remaining[fp] > 0:
            remaining[fp] -= 1
        else:
            added.append(title)
    removed: list[str] = []
    remaining = new_count.copy()
    for fp, title in old:
        if remaining[fp] > 0:
            remaining[fp] -= 1
        else:
            removed.append(title)
    return added, removed


def _compare(old: ClauseSnapshot, new: ClauseSnapshot) -> ClauseChange:
    """Content comparison of a matched pair (status and ``moved`` are settled by the caller)."""
    change = ClauseChange(status="unchanged", key=new.key, old_key=old.key, title=new.title)
    if old.key != new.key:
        change.renamed_from = old.key
    if old.title != new.title:
        change.title_diff = word_diff(old.title, new.title)
    if old.body != new.body or old.reading != new.reading:
        if old.reading == new.reading:
            change.markup_only = True
        else:
            change.body_diff = word_diff(old.reading, new.reading)
    if old.authority != new.authority:
        change.authority_change = (old.authority, new.authority)
    old_tags, new_tags = set(old.tags), set(new.tags)
    if old_tags != new_tags:
        change.tags_change = TagsChange(
            added=tuple(t for t in dict.fromkeys(new.tags) if t not in old_tags),
            removed=tuple(t for t in dict.fromkeys(old.tags) if t not in new_tags),
        )
    if old.examples != new.examples:
        change.examples_added, change.examples_removed = _examples_delta(old.examples, new.examples)
    change.changed = (
        change.title_diff is not None
        or change.body_diff is not None
        or change.markup_only
        or change.authority_change is not None
        or change.tags_change is not None
        or bool(change.examples_added)
        or bool(change.examples_removed)
    )
    return change


def _rename_text(clause: ClauseSnapshot) -> str:
    return f"{clause.title}\n{clause.body}"


def _probable_renames(
    removed: Sequence[ClauseSnapshot],
    added: Sequence[ClauseSnapshot],
    rejected: Collection[tuple[str, str]],
    threshold: float,
) -> list[ProbableRename]:
    """Greedy best-first one-to-one pairing of removed and added clauses above ``threshold``."""
    if not removed or not added:
        return []
    # tuple(): pairs may arrive as JSON lists.
    rejected_set = {(old_key, new_key) for old_key, new_key in rejected}
    old_texts = [_rename_text(c) for c in removed]
    new_texts = [_rename_text(c) for c in added]
    old_bags = [Counter(_tokens(t)) for t in old_texts]
    new_bags = [Counter(_tokens(t)) for t in new_texts]
    candidates: list[tuple[float, int, int]] = []
    for i, old_clause in enumerate(removed):
        for j, new_clause in enumerate(added):
            if (old_clause.key, new_clause.key) in rejected_set:
                continue
            total = len(old_texts[i]) + len(new_texts[j])
            # Length alone bounds the ratio; then the token multiset bound. Both are exact
            # upper bounds, so skipping never loses a pair, and they reject almost every
            # unrelated pair before the (much dearer) diff.
            if total and 2.0 * min(len(old_texts[i]), len(new_texts[j])) / total < threshold:
                continue
            if _similarity_upper_bound(old_bags[i], new_bags[j], total) < threshold:
                continue
            score = similarity(old_texts[i], new_texts[j])
            if score >= threshold:
                candidates.append((score, i, j))
    # Best first; ties broken by document order so the result is deterministic.
    candidates.sort(key=lambda c: (-c[0], removed[c[1]].position, added[c[2]].position))
    used_old: set[int] = set()
    used_new: set[int] = set()
    proposals: list[ProbableRename] = []
    for score, i, j in candidates:
        if i in used_old or j in used_new:
            continue
        used_old.add(i)
        used_new.add(j)
        proposals.append(
            ProbableRename(
                old_key=removed[i].key,
                new_key=added[j].key,
                similarity=round(score, 4),
                old_title=removed[i].title,
                new_title=added[j].title,
            )
        )
    return proposals


_NO_ALIASES: Mapping[str, str] = MappingProxyType({})


def diff_versions(
    old: Sequence[ClauseSnapshot],
    new: Sequence[ClauseSnapshot],
    *,
    aliases: Mapping[str, str] = _NO_ALIASES,
    rejected_renames: Collection[tuple[str, str]] = (),
    rename_threshold: float = 0.6,
) -> SpecDiff:
    """Diff two versions of a specification.

    ``aliases`` maps old key -> new key for confirmed renames (the pair becomes one clause with
    status ``"renamed"``); an alias is ignored unless both keys exist in their versions.
    ``rejected_renames`` holds ``(old_key, new_key)`` pairs never to propose again.
    Probable renames are pairs of an unmatched old and an unmatched new clause with
    :func:`similarity` of title + body ``>= rename_threshold``, best first, each key used once;
    they are proposals only and do not alter ``clauses``.

    Status precedence for clauses in both versions: renamed > changed > moved > unchanged; the
    ``changed``/``moved``/``renamed_from`` fields carry the full picture.

    Raises ``ValueError`` on a duplicate key within one version.
    """
    old_sorted = _ordered(old, "old")
    new_sorted = _ordered(new, "new")
    new_by_key = {c.key: c for c in new_sorted}
    old_by_key = {c.key: c for c in old_sorted}
    matched = _match(old_sorted, new_by_key, aliases)  # old key -> new key

    changes: dict[str, ClauseChange] = {}  # by new key
    for old_key, new_key in matched.items():
        changes[new_key] = _compare(old_by_key[old_key], new_by_key[new_key])
    _flag_moves(old_by_key, new_sorted, matched, changes)
    for change in changes.values():
        if change.renamed_from is not None:
            change.status = "renamed"
        elif change.changed:
            change.status = "changed"
        elif change.moved:
            change.status = "moved"

    clauses = _document_order(old_sorted, new_sorted, matched, changes)
    matched_new = set(matched.values())
    proposals = _probable_renames(
        [c for c in old_sorted if c.key not in matched],
        [c for c in new_sorted if c.key not in matched_new],
        rejected_renames,
        rename_threshold,
    )

    counts = Counter(c.status for c in clauses)
    summary = DiffSummary(
        added=counts["added"],
        removed=counts["removed"],
        changed=sum(1 for c in changes.values() if c.changed),
        moved=sum(1 for c in changes.values() if c.moved),
        renamed=sum(1 for c in changes.values() if c.renamed_from is not None),
        probable_renames=len(proposals),
        unchanged=counts["unchanged"],
    )
    return SpecDiff(summary=summary, clauses=clauses, probable_renames=proposals)


def _flag_moves(
    old_by_key: Mapping[str, ClauseSnapshot],
    new_sorted: Sequence[ClauseSnapshot],
    matched: Mapping[str, str],
    changes: Mapping[str, ClauseChange],
) -> None:
    """Set ``moved`` (and ``parent_change``) on the matched clauses in ``changes``."""
    matched_new = {new_key: old_key for old_key, new_key in matched.items()}
    # Part 1: the parent changed. Old parents are translated into new keys through the
    # matching, so a confirmed rename of the parent does not count as a move of its children.
    siblings: dict[str | None, list[ClauseSnapshot]] = {}
    for clause in new_sorted:
        old_key = matched_new.get(clause.key)
        if old_key is None:
            continue
        old_parent = old_by_key[old_key].parent_key
        if old_parent is None:
            same_parent = clause.parent_key is None
        else:
            # A removed old parent maps to None, which never equals a real new parent. A parent
            # outside the compared clauses (an amendment's preview compares only what it
            # touches) keeps its key.
            parent_now = matched.get(old_parent) if old_parent in old_by_key else old_parent
            same_parent = clause.parent_key is not None and parent_now == clause.parent_key
        if same_parent:
            siblings.setdefault(clause.parent_key, []).append(clause)
        else:
            changes[clause.key].moved = True
            changes[clause.key].parent_change = (old_parent, clause.parent_key)

    # Part 2: order among siblings that kept their parent. The longest increasing run of old
    # positions (taken in new order) stayed put; only the rest moved, so one inserted or moved
    # clause does not flag everything after it. Comparing within a parent rather than across
    # the whole document means moving a section flags that section, not each of its children.
    for group in siblings.values():
        old_positions = [old_by_key[matched_new[c.key]].position for c in group]
        keep = _longest_increasing(old_positions)
        for idx, clause in enumerate(group):
            if idx not in keep:
                changes[clause.key].moved = True


def _document_order(
    old_sorted: Sequence[ClauseSnapshot],
    new_sorted: Sequence[ClauseSnapshot],
    matched: Mapping[str, str],
    changes: Mapping[str, ClauseChange],
) -> list[ClauseChange]:
    """All clauses in new order, plus added/removed entries.

    A removed clause goes right after its nearest old predecessor that survived (so a run of
    removed clauses stays together, in old order); with no surviving predecessor, at the top.
    """
    trailing: dict[str | None, list[ClauseChange]] = {}
    anchor: str | None = None
    for clause in old_sorted:
        if clause.key in matched:
            anchor = matched[clause.key]
        else:
            trailing.setdefault(anchor, []).append(
                ClauseChange(
                    status="removed", key=clause.key, old_key=clause.key, title=clause.title
                )
            )
    out: list[ClauseChange] = list(trailing.get(None, []))
    for clause in new_sorted:
        change = changes.get(clause.key)
        if change is None:
            change = ClauseChange(status="added", key=clause.key, old_key=None, title=clause.title)
        out.append(change)
        out.extend(trailing.get(clause.key, []))
    return out
