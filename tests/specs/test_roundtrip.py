"""import(export(v)) yields the same clauses, keys, authority, tags and examples."""

from __future__ import annotations

import pytest

from specs import selectors, services
from specs.models import Example
from specs.spec_markdown import parse_spec, spec_fingerprint_for_roundtrip
from tests.spec_facts import LABELS, spec_text

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("label", LABELS)
def test_round_trip_through_the_database(load_version, spec, personas, label: str) -> None:
    version = load_version(label, publish=True)
    exported = selectors.version_export(version)
    expected = spec_fingerprint_for_roundtrip(parse_spec(spec_text(label)))
    assert spec_fingerprint_for_roundtrip(parse_spec(exported)) == expected
    again = services.spec_version_import(
        spec=spec, label=f"{label}-again", markdown=exported, actor=personas.editor
    )
    assert spec_fingerprint_for_roundtrip(selectors.version_as_parsed(again)) == expected
    assert list(
        Example.objects.filter(clause__version=again).values_list("fingerprint", flat=True)
    ) == list(Example.objects.filter(clause__version=version).values_list("fingerprint", flat=True))


def test_plain_markdown_round_trips_without_attribute_blocks(spec, personas) -> None:
    markdown = "# Overview\n\nIntro.\n\n## Be honest\n\nTell the truth.\n"
    version = services.spec_version_import(
        spec=spec, label="plain", markdown=markdown, actor=personas.editor
    )
    exported = selectors.version_export(version)
    assert "{#" not in exported
    assert spec_fingerprint_for_roundtrip(parse_spec(exported)) == spec_fingerprint_for_roundtrip(
        parse_spec(markdown)
    )


def test_an_example_promoted_from_gold_is_exported(spec, personas) -> None:
    version = services.spec_version_import(
        spec=spec,
        label="draft",
        markdown="# Be kind {#be_kind authority=user}\n\nAlways.\n",
        actor=personas.editor,
    )
    clause = version.clauses.get()
    Example.objects.create(
        clause=clause,
        position=0,
        title="Promoted from a gold case",
        turns=[
            {"message": {"role": "user", "content": "Hi", "attrs": {}}},
            {
                "comparison": [
                    {"content": "Hello!", "grade": "good", "reason": "", "cites": "", "attrs": {}},
                    {
                        "content": "Go away",
                        "grade": "bad",
                        "reason": "rude",
                        "cites": "be_kind",
                        "attrs": {},
                    },
                ]
            },
        ],
        body_offset=len(clause.body),
        fingerprint="x",
        origin="gold",
    )
    exported = selectors.version_export(version)
    assert "**Example**: Promoted from a gold case" in exported
    assert "<!-- BAD[#be_kind]: rude -->" in exported
    reparsed = parse_spec(exported)
    assert len(reparsed.clauses[0].examples) == 1
