"""The loop on the real Model Spec: propose → approve → merge → publish → export → re-import."""

from __future__ import annotations

import pytest

from specs import services
from specs.amendments import services as amendments
from specs.models import AmendmentChange, Clause, Example
from specs.selectors import version_export
from tests.spec_facts import NEWEST

pytestmark = pytest.mark.django_db

Kind = AmendmentChange.Kind

NEW_SENTENCE = "It stays kind when a user is curt, and never mocks them."
EXAMPLE = {
    "title": "A user snaps at the assistant after a wrong answer",
    "turns": [
        {"message": {"role": "user", "content": "That was useless. Try again."}},
        {
            "comparison": [
                {
                    "content": "Sorry about that! Here is a corrected answer.",
                    "grade": "good",
                    "reason": "Warm without grovelling: the adjudicated verdict.",
                },
                {
                    "content": "Well, your question was unclear.",
                    "grade": "bad",
                    "reason": "Defensive.",
                    "cites": "be_warm",
                },
            ]
        },
    ],
    "origin": "gold",
}


@pytest.fixture
def merged_and_published(load_version, personas):
    base = load_version(NEWEST.label)
    draft = amendments.draft_start_from(version=base, label="2026-01-01", actor=personas.editor)
    body = Clause.objects.get(version=base, key="be_warm").body
    amendment = amendments.amendment_propose(
        spec=base.spec,
        base_version=base,
        title="Warmth under pressure",
        rationale="Three campaigns split on curt users.",
        actor=personas.adjudicator,
    )
    amendments.amendment_change_add(
        amendment=amendment,
        kind=Kind.CHANGE_CLAUSE,
        clause_key="be_warm",
        payload={"body": f"{body}\n\n{NEW_SENTENCE}"},
        actor=personas.adjudicator,
    )
    amendments.amendment_change_add(
        amendment=amendment,
        kind=Kind.ADD_EXAMPLE,
        clause_key="be_warm",
        payload=EXAMPLE,
        actor=personas.adjudicator,
    )
    amendments.amendment_approve(amendment=amendment, actor=personas.editor)
    amendments.amendment_merge(amendment=amendment, actor=personas.editor)
    return base, amendments.draft_publish(version=draft, actor=personas.editor)


def test_the_published_version_has_the_new_text_and_example_and_a_changelog(
    merged_and_published,
) -> None:
    base, version = merged_and_published
    clause = Clause.objects.get(version=version, key="be_warm")
    assert clause.body.endswith(NEW_SENTENCE) and NEW_SENTENCE in clause.text
    titles = list(Example.objects.filter(clause=clause).values_list("title", flat=True))
    assert titles[-1] == EXAMPLE["title"] and len(titles) == 3
    assert version.example_count == base.example_count + 1
    assert "**Warmth under pressure**" in version.changelog


def test_export_writes_the_example_in_the_specs_own_markup(merged_and_published) -> None:
    _, version = merged_and_published
    markdown = version_export(version)
    section = markdown[markdown.index("{#be_warm") :]
    section = section[: section.index("\n#")]
    assert NEW_SENTENCE in section
    assert f"**Example**: {EXAMPLE['title']}" in section
    assert "<!-- BAD[#be_warm]: Defensive. -->" in section
    assert section.index(NEW_SENTENCE) < section.index(EXAMPLE["title"])


def test_reimporting_the_export_gives_the_same_export_byte_for_byte(
    merged_and_published, personas
) -> None:
    _, version = merged_and_published
    exported = version_export(version)
    copy = services.spec_create(
        workspace=personas.workspace, slug="copy", title="Copy", actor=personas.editor
    )
    again = services.spec_version_import(
        spec=copy, label=version.label, markdown=exported, actor=personas.editor
    )
    clause = Clause.objects.get(version=again, key="be_warm")
    assert clause.body.endswith(NEW_SENTENCE)
    assert Example.objects.filter(clause=clause, title=EXAMPLE["title"]).exists()
    assert version_export(again) == exported
