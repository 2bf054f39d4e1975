"""The data folder's README says what the data holds: checked against the files themselves."""

from __future__ import annotations

import re

from specs.spec_markdown import parse_spec
from tests.spec_facts import DATA, NEWEST, NEWEST_CITES_REMOVED_FILES, spec_text


def _removed_folder_note() -> str:
    """The README's bullet about ``examples-removed-2025-09-12/`` (up to the next line that
    does not continue it)."""
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    start = readme.index("- `examples-removed-2025-09-12/`")
    end = readme.index("\nNot copied:", start)
    return readme[start:end]


def test_the_readme_names_every_dangling_footnote_of_the_newest_version() -> None:
    cited = {
        note for clause in parse_spec(spec_text(NEWEST.label)).clauses for note in clause.footnotes
    }
    in_examples = {path.stem for path in (DATA / "examples").glob("*.md")}
    dangling = cited - in_examples  # cited, but without a file in examples/
    assert dangling == NEWEST_CITES_REMOVED_FILES
    assert all((DATA / "examples-removed-2025-09-12" / f"{note}.md").exists() for note in dangling)
    named = set(re.findall(r"`\[\^([a-z0-9]+)\]`", _removed_folder_note()))
    assert named == dangling
