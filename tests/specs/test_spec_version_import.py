"""Importing and publishing spec versions through the services."""

from __future__ import annotations

import pytest
from django.db import connection

from clausebook.models import AuditEvent
from specs import services
from specs.models import Clause, EvalPrompt, Example, SpecVersion, VersionStatus
from specs.spec_markdown import SpecSyntaxError
from tests.specs.conftest import spec_text

pytestmark = pytest.mark.django_db


def test_it_imports_the_2025_12_18_version_with_all_clauses_examples_and_scenarios(
    load_version,
) -> None:
    version = load_version("2025-12-18", publish=False)
    assert version.status == VersionStatus.DRAFT
    assert version.clause_count == 80
    assert Clause.objects.filter(version=version).count() == 80
    assert version.example_count == 183
    assert Example.objects.filter(clause__version=version).count() == 183
    assert version.eval_prompt_count > 100
    assert EvalPrompt.objects.filter(clause__version=version).count() == version.eval_prompt_count
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


def test_it_attaches_eval_prompts_to_the_clause_that_cites_them(load_version) -> None:
    version = load_version("2025-12-18", publish=False)
    eval_prompt = (
        EvalPrompt.objects.filter(clause__version=version).select_related("clause").first()
    )
    assert eval_prompt is not None
    assert eval_prompt.footnote_id in eval_prompt.clause.footnotes
    assert eval_prompt.messages[0]["role"] in {"user", "system", "developer"}
    assert eval_prompt.source == EvalPrompt.Source.SPEC_EVAL


def test_it_reports_a_dangling_footnote_as_a_warning_not_an_error(spec, personas) -> None:
    markdown = "# Be helpful {#be_helpful authority=user}\n\nHelp people.[^zzzz]\n"
    version = services.spec_version_import(
        spec=spec, label="v1", markdown=markdown, actor=personas.editor, eval_examples={}
    )
    assert version.clause_count == 1
    assert any("[^zzzz]" in warning for warning in version.warnings)


def test_d0pu_dangles_only_without_the_removed_examples_folder(spec, personas) -> None:
    from tests.specs.conftest import DATA

    prompts = services.eval_examples_from_folders(DATA / "examples")
    version = services.spec_version_import(
        spec=spec,
        label="2025-12-18",
        markdown=spec_text("2025-12-18"),
        actor=personas.editor,
        eval_examples=prompts,
    )
    assert any("[^d0pu]" in warning for warning in version.warnings)


def test_it_sets_search_vectors_for_clauses_and_examples(load_version) -> None:
    version = load_version("2025-12-18", publish=False)
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
    version = load_version("2025-12-18", publish=True)
    assert version.published_at is not None
    with pytest.raises(services.VersionNotDraft):
        services.spec_version_publish(version=version, actor=personas.editor)


def test_a_label_can_only_be_imported_once(load_version, spec, personas) -> None:
    from django.core.exceptions import ValidationError

    load_version("2025-12-18", publish=False)
    with pytest.raises(ValidationError):
        services.spec_version_import(
            spec=spec, label="2025-12-18", markdown="# A\n", actor=personas.editor
        )


def test_import_runs_a_fixed_number_of_statements(spec, personas, django_assert_max_num_queries):
    markdown = spec_text("2025-12-18")
    with django_assert_max_num_queries(20):
        services.spec_version_import(
            spec=spec, label="x", markdown=markdown, actor=personas.editor, eval_examples={}
        )
    assert connection.vendor == "postgresql"
