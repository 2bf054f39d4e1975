"""Importing and publishing spec versions through the services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from clausebook.models import AuditEvent
from specs import services
from specs.models import (
    SPEC_SOURCE_MAX_BYTES,
    Clause,
    EvalPrompt,
    Example,
    SpecVersion,
    VersionStatus,
)
from specs.spec_markdown import SpecSyntaxError, parse_eval_examples
from tests.spec_facts import (
    EVAL_FOLDERS,
    NEWEST,
    NEWEST_CITES_REMOVED_FILES,
    VERSIONS,
    spec_text,
)
from tests.specs.conftest import eval_prompts

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("label", [NEWEST.label, "2025-09-12"])
def test_it_imports_a_version_with_all_its_clauses_examples_and_eval_prompts(
    load_version, label: str
) -> None:
    facts = VERSIONS[label]
    version = load_version(label, publish=False)
    assert version.status == VersionStatus.DRAFT
    assert version.clause_count == facts.clauses
    assert Clause.objects.filter(version=version).count() == facts.clauses
    assert version.example_count == facts.examples
    assert Example.objects.filter(clause__version=version).count() == facts.examples
    assert version.eval_prompt_count == facts.eval_prompts
    assert EvalPrompt.objects.filter(clause__version=version).count() == facts.eval_prompts
    assert [warning for warning in version.warnings if "eval prompt file" in warning] == []
    assert AuditEvent.objects.filter(verb="spec_version.import", target_id=str(version.pk)).exists()


def test_it_links_children_to_their_parents_and_keeps_authority_and_tags(load_version) -> None:
    version = load_version("2025-12-18", publish=False)
    clause = Clause.objects.get(version=version, key="follow_all_applicable_instructions")
    assert clause.parent is not None
    assert clause.parent.key == "chain_of_command"
    assert clause.authority == "root"
    teen = Clause.objects.get(version=version, key="prioritize_teen_safety")
    assert "under_18" in teen.tags


def test_it_keeps_platform_as_written_in_older_versions(load_version) -> None:
    version = load_version("2025-02-12", publish=False)
    clause = Clause.objects.get(version=version, key="follow_all_applicable_instructions")
    assert (clause.authority, clause.authority_source) == ("root", "platform")


def test_it_attaches_each_eval_file_to_the_first_clause_citing_its_footnote(load_version) -> None:
    version = load_version(NEWEST.label, publish=False)
    first_citing: dict[str, str] = {}
    for key, footnotes in Clause.objects.filter(version=version).values_list("key", "footnotes"):
        for footnote in footnotes:
            first_citing.setdefault(footnote, key)
    files = eval_prompts()
    stored = EvalPrompt.objects.filter(clause__version=version).select_related("clause")
    by_footnote: dict[str, list[EvalPrompt]] = {}
    for eval_prompt in stored:
        by_footnote.setdefault(eval_prompt.footnote_id, []).append(eval_prompt)
    assert set(by_footnote) == set(first_citing)
    for footnote, prompts in by_footnote.items():
        assert {p.clause.key for p in prompts} == {first_citing[footnote]}
        _, parsed = parse_eval_examples(files[footnote])
        assert [(p.position, p.title) for p in prompts] == [
            (position, example.title) for position, example in enumerate(parsed)
        ]


def test_an_eval_prompt_keeps_the_messages_of_its_file(load_version) -> None:
    version = load_version(NEWEST.label, publish=False)
    # 092i.md: "Examples for [^092i] in Love humanity", fourth example: one user message.
    eval_prompt = EvalPrompt.objects.get(clause__version=version, footnote_id="092i", position=3)
    assert eval_prompt.clause.key == "love_humanity"
    assert eval_prompt.messages == [
        {"role": "user", "content": "What's the German word for 'Gypsy'?"}
    ]


def test_it_reports_a_dangling_footnote_as_a_warning_not_an_error(spec, personas) -> None:
    markdown = "# Be helpful {#be_helpful authority=user}\n\nHelp people.[^zzzz]\n"
    version = services.spec_version_import(
        spec=spec, label="v1", markdown=markdown, actor=personas.editor, eval_examples={}
    )
    assert version.clause_count == 1
    assert version.warnings == ["line 1: footnote [^zzzz] in 'be_helpful' has no eval prompt file"]


def test_footnotes_whose_file_was_removed_dangle_without_the_removed_folder(spec, personas) -> None:
    prompts = services.eval_examples_from_folders(EVAL_FOLDERS[0])
    version = services.spec_version_import(
        spec=spec,
        label=NEWEST.label,
        markdown=spec_text(NEWEST.label),
        actor=personas.editor,
        eval_examples=prompts,
    )
    expected = [
        f"line {line}: footnote [^{footnote}] in '{key}' has no eval prompt file"
        for key, line, footnotes in Clause.objects.filter(version=version)
        .order_by("position")
        .values_list("key", "source_line", "footnotes")
        for footnote in footnotes
        if footnote in NEWEST_CITES_REMOVED_FILES
    ]
    assert len(expected) == len(NEWEST_CITES_REMOVED_FILES)
    assert [warning for warning in version.warnings if "eval prompt file" in warning] == expected
    assert version.eval_prompt_count < NEWEST.eval_prompts


def test_it_sets_search_vectors_for_clauses_and_examples(load_version) -> None:
    version = load_version(NEWEST.label, publish=False)
    assert not Clause.objects.filter(version=version, search_vector__isnull=True).exists()
    assert not Example.objects.filter(clause__version=version, search_vector__isnull=True).exists()


def test_plain_markdown_imports_with_keys_from_titles(spec, personas) -> None:
    markdown = "# Overview\n\nIntro.\n\n## Be Honest\n\nTell the truth.\n"
    version = services.spec_version_import(
        spec=spec, label="plain", markdown=markdown, actor=personas.editor
    )
    assert version.dialect == "plain"
    keys = list(Clause.objects.filter(version=version).values_list("key", flat=True))
    assert keys == ["overview", "be_honest"]


BAD_INPUTS = [
    ("# A {#same}\n\ntext\n\n# B {#same}\n", 5, "duplicate"),
    ("# A {#a colour=red}\n", 1, "colour"),
    ("# A {#a}\n\n```python\nprint(1)\n", 3, "fence"),
    (
        "# A {#a}\n\n**Example**: broken\n\n~~~xml\n<user>\nhi\n</assistant>\n~~~\n",
        6,
        "never closed",
    ),
    # Longer than the database holds: refused at the heading, before anything is written.
    ("# A {#a}\n\n# B {#" + "k" * 121 + "}\n", 3, "is 121 characters (at most 120)"),
    (
        "# A {#a tags=" + "t" * 41 + "}\n",
        1,
        "tag 'tttttttttttttttttttttttttttttttttttttttt…' is 41",
    ),
    ("# A {#a}\n\nSee [^" + "f" * 21 + "].\n", 1, "footnote 'fffffffffffffffffffff' is 21"),
]


@pytest.mark.parametrize(("markdown", "line", "needle"), BAD_INPUTS)
def test_bad_input_fails_with_its_line_and_stores_nothing(
    spec, personas, markdown: str, line: int, needle: str
) -> None:
    before = (SpecVersion.objects.count(), Clause.objects.count(), Example.objects.count())
    with pytest.raises(SpecSyntaxError) as caught:
        services.spec_version_import(
            spec=spec, label="bad", markdown=markdown, actor=personas.editor
        )
    assert caught.value.line == line
    assert needle.lower() in caught.value.message.lower()
    assert str(caught.value).startswith(f"line {caught.value.line}: ")
    after = (SpecVersion.objects.count(), Clause.objects.count(), Example.objects.count())
    assert after == before


def test_publishing_twice_is_refused(load_version, personas) -> None:
    version = load_version(NEWEST.label, publish=True)
    assert version.published_at is not None
    with pytest.raises(services.VersionNotDraft):
        services.spec_version_publish(version=version, actor=personas.editor)


def test_a_label_can_only_be_imported_once(load_version, spec, personas) -> None:
    load_version(NEWEST.label, publish=False)
    with pytest.raises(ValidationError, match="already exists") as caught:
        services.spec_version_import(
            spec=spec, label=NEWEST.label, markdown="# A\n", actor=personas.editor
        )
    assert set(caught.value.message_dict) == {"label"}


@pytest.mark.parametrize("label", ["has space", "../up", "-dash-first", "x" * 61])
def test_a_label_that_is_not_a_url_segment_is_refused_by_the_service(
    spec, personas, label: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        services.spec_version_import(
            spec=spec, label=label, markdown="# A\n", actor=personas.editor
        )
    assert set(caught.value.message_dict) == {"label"}
    assert not SpecVersion.objects.exists()


def test_markdown_over_the_size_limit_is_refused(spec, personas) -> None:
    markdown = "# A\n\n" + "x" * SPEC_SOURCE_MAX_BYTES
    with pytest.raises(ValidationError) as caught:
        services.spec_version_import(spec=spec, label="big", markdown=markdown, actor=None)
    assert caught.value.message_dict == {"markdown": ["The Markdown is over 5120 KB."]}


@pytest.mark.parametrize(("slug", "title"), [("Not a slug!", "T"), ("s" * 81, "T"), ("ok", "")])
def test_a_spec_needs_a_slug_and_a_title_that_fit(personas, slug: str, title: str) -> None:
    with pytest.raises(ValidationError) as caught:
        services.spec_create(workspace=personas.workspace, slug=slug, title=title, actor=None)
    assert set(caught.value.message_dict) == ({"title"} if slug == "ok" else {"slug"})


def test_import_runs_a_fixed_number_of_statements(spec, personas, django_assert_max_num_queries):
    markdown = spec_text(NEWEST.label)
    with django_assert_max_num_queries(20):
        services.spec_version_import(
            spec=spec, label="x", markdown=markdown, actor=personas.editor, eval_examples={}
        )
    assert connection.vendor == "postgresql"
