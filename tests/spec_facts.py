"""Facts about the real OpenAI Model Spec versions in ``data/openai-model-spec``: the one table.

Every number here was counted in the files themselves with the shell command in its comment, not
by the code under test (the few that are the diff's own verdicts say so). Tests take numbers
from here; anything else they check about the data (which line a clause starts on, where an
example was cut out) is asserted structurally against the source text instead of repeated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "openai-model-spec"
# Eval prompt files <footnote id>.md; the first folder wins when both hold an id.
EVAL_FOLDERS = (DATA / "examples", DATA / "examples-removed-2025-09-12")


@dataclass(frozen=True)
class VersionFacts:
    label: str
    clauses: int  # grep -cE '^#{1,4} .*\{#' FILE
    examples: int  # grep -c '^\*\*Example\*\*' FILE
    with_comparison: int  # examples with at least one <comparison> (awk over the ~~~xml fences)
    multi_comparison: int  # examples with more than one <comparison>
    footnotes: int  # grep -oE '\[\^[a-z0-9]+\]' FILE | sort -u | wc -l (none is cited twice)
    eval_prompts: int  # sum of grep -c '^\*\*Example' over the eval files of those footnotes
    root_clauses: int  # grep -cE '^#{1,4} .*\{#.*authority=(root|platform)' FILE
    platform_clauses: int  # grep -cE '^#{1,4} .*\{#.*authority=platform' FILE
    system_clauses: int  # grep -cE '^#{1,4} .*\{#.*authority=system' FILE
    level_4_clauses: int  # grep -cE '^#### .*\{#' FILE

    @property
    def path(self) -> Path:
        return DATA / f"{self.label}.md"


VERSIONS = {
    facts.label: facts
    for facts in [
        VersionFacts("2025-02-12", 71, 154, 153, 9, 120, 288, 20, 20, 0, 9),
        VersionFacts("2025-04-11", 71, 154, 153, 9, 120, 288, 20, 20, 0, 9),
        VersionFacts("2025-09-12", 77, 173, 172, 9, 114, 272, 20, 0, 3, 9),
        VersionFacts("2025-10-27", 78, 181, 180, 9, 118, 284, 21, 0, 3, 9),
        VersionFacts("2025-12-18", 80, 183, 181, 8, 116, 282, 22, 0, 3, 9),
    ]
}
LABELS = tuple(VERSIONS)  # oldest first
OLDEST = VERSIONS["2025-02-12"]
NEWEST = VERSIONS["2025-12-18"]

EVAL_FILES = 120  # ls examples*/*.md | wc -l
EVAL_FILE_EXAMPLES = 288  # grep -c '^\*\*Example' examples*/*.md | awk -F: '{s+=$2} END {print s}'

# Footnotes 2025-12-18 still cites whose eval file exists only in examples-removed-2025-09-12:
# for id in $(ls examples-removed-2025-09-12 | sed 's/.md//'); do grep -c "\[^$id\]" 2025-12-18.md
NEWEST_CITES_REMOVED_FILES = frozenset({"d0pu", "h82a", "rse0", "t5q0"})

# In 2025-12-18, the graded candidates: grep -o '<!--[^>]*-->' | grep -c GOOD / BAD / OK
NEWEST_CANDIDATES = 397
NEWEST_GOOD_CANDIDATES = 193
NEWEST_OK_CANDIDATES = 8
NEWEST_CITING_CANDIDATES = 14  # grep -c '<!-- BAD\[#'


@dataclass(frozen=True)
class DiffFacts:
    """OLDEST -> NEWEST, keys compared with grep -oE '\\{#[a-z_0-9]+' on both files."""

    added: int
    removed_keys: frozenset[str]
    kept: int  # keys in both
    platform_to_root: int  # kept clauses written authority=platform, now authority=root
    platform_to_system: int  # ... now authority=system
    probable_rename: tuple[str, str]  # the rename an editor is asked about first
    # The diff's own verdict on the stored versions (parser bodies, examples cut out), reviewed
    # on the diff page; not a grep count.
    changed: int


OLDEST_TO_NEWEST = DiffFacts(
    added=14,
    removed_keys=frozenset(
        {
            "protect_privileged_messages",
            "approachable",
            "be_empathetic",
            "be_kind",
            "be_engaging",
        }
    ),
    kept=66,
    platform_to_root=16,
    platform_to_system=3,
    probable_rename=("be_kind", "love_humanity"),
    changed=51,
)


def spec_text(label: str) -> str:
    return VERSIONS[label].path.read_text(encoding="utf-8")
