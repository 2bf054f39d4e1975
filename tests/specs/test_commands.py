"""The import_spec / export_spec commands and the demo seeder."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from clausebook.models import AuditEvent
from specs.models import Clause, Spec, SpecVersion
from tests.spec_facts import EVAL_FOLDERS, LABELS, NEWEST, OLDEST, VERSIONS

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_spec_prints_a_summary_and_json(personas, tmp_path) -> None:
    text = run(
        "import_spec",
        str(NEWEST.path),
        "--workspace=policy-team",
        "--spec=model-spec",
        "--title=Model Spec",
        f"--examples={EVAL_FOLDERS[0]}",
        f"--examples={EVAL_FOLDERS[1]}",
        "--publish",
        "--as=editor@policy.test",
    )
    assert (
        f"{NEWEST.clauses} clauses, {NEWEST.examples} examples, {NEWEST.eval_prompts} eval prompts"
        in text
    )
    version = SpecVersion.objects.get(label=NEWEST.label)
    assert version.status == "published"
    assert version.created_by == personas.editor
    assert AuditEvent.objects.get(verb="spec_version.publish").actor == personas.editor
    output = run(
        "import_spec",
        str(OLDEST.path),
        "--workspace=policy-team",
        "--spec=model-spec",
        "--json",
    )
    summary = json.loads(output)
    assert summary["versions"][0]["clauses"] == OLDEST.clauses
    assert summary["versions"][0]["examples"] == OLDEST.examples
    assert summary["versions"][0]["eval_prompts"] == 0  # no --examples folder given
    assert summary["versions"][0]["status"] == "draft"
    assert (
        summary["versions"][0]["warnings"] == SpecVersion.objects.get(label=OLDEST.label).warnings
    )


def test_import_spec_fails_with_file_and_line_and_stores_nothing(personas, tmp_path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("# A {#a}\n\ntext\n\n# B {#a}\n")
    with pytest.raises(CommandError) as caught:
        run("import_spec", str(bad), "--workspace=policy-team", "--spec=s")
    assert str(caught.value).startswith(f"{bad}:5: duplicate key")
    assert not SpecVersion.objects.exists()
    assert caught.value.returncode == 1


def test_import_spec_rejects_an_unknown_workspace(tmp_path, db) -> None:
    with pytest.raises(CommandError, match=r"^--workspace: no workspace with slug 'nope'$"):
        run("import_spec", str(NEWEST.path), "--workspace=nope", "--spec=s")


def test_import_spec_acts_only_as_an_editor_of_the_workspace(personas) -> None:
    with pytest.raises(CommandError, match=r"^--as: reviewer@policy.test is Reviewer"):
        run(
            "import_spec",
            str(NEWEST.path),
            "--workspace=policy-team",
            "--spec=s",
            "--as=reviewer@policy.test",
        )
    assert not Spec.objects.exists()


def test_import_spec_names_a_bad_spec_slug_and_a_bad_label(personas) -> None:
    with pytest.raises(CommandError, match=r"^--spec: Enter a valid “slug”"):
        run("import_spec", str(NEWEST.path), "--workspace=policy-team", "--spec=Not a slug")
    with pytest.raises(CommandError, match=r"2025-12-18.md: Use letters, digits"):
        run(
            "import_spec",
            str(NEWEST.path),
            "--workspace=policy-team",
            "--spec=s",
            "--label=has space",
        )
    assert not SpecVersion.objects.exists()


def test_export_spec_writes_markdown_that_imports_back_the_same(load_version, tmp_path) -> None:
    load_version("2025-12-18")
    target = tmp_path / "out.md"
    summary = json.loads(
        run(
            "export_spec",
            "--workspace=policy-team",
            "--spec=model-spec",
            "--label=2025-12-18",
            f"--output={target}",
            "--json",
        )
    )
    assert summary["clauses"] == NEWEST.clauses
    assert summary["bytes"] == target.stat().st_size
    run(
        "import_spec",
        str(target),
        "--workspace=policy-team",
        "--spec=model-spec",
        "--label=again",
    )
    original = list(
        Clause.objects.filter(version__label="2025-12-18").values_list("key", "authority", "tags")
    )
    again = list(
        Clause.objects.filter(version__label="again").values_list("key", "authority", "tags")
    )
    assert original == again


def test_export_spec_to_stdout(load_version) -> None:
    load_version("2025-12-18")
    text = run("export_spec", "--workspace=policy-team", "--spec=model-spec", "--label=2025-12-18")
    assert text.startswith("# Overview {#overview}\n")
    assert text.count("\n**Example**: ") == NEWEST.examples


def test_export_spec_names_the_option_that_is_wrong(load_version, personas) -> None:
    load_version(NEWEST.label)
    base = ["export_spec", "--workspace=policy-team", "--spec=model-spec"]
    with pytest.raises(CommandError, match=r"^--label: no version 'nope' of spec 'model-spec'$"):
        run(*base, "--label=nope")
    with pytest.raises(CommandError, match=r"^--spec: no spec 'nope' in workspace 'policy-team'$"):
        run("export_spec", "--workspace=policy-team", "--spec=nope", f"--label={NEWEST.label}")
    with pytest.raises(CommandError, match=r"^--as: outsider@other.test is not a member"):
        run(*base, f"--label={NEWEST.label}", "--as=outsider@other.test")
    with pytest.raises(CommandError, match=r"^--json: also give --output"):
        run(*base, f"--label={NEWEST.label}", "--json")
    # Any member may export.
    text = run(*base, f"--label={NEWEST.label}", "--as=viewer@policy.test")
    assert text.startswith("# Overview {#overview}\n")


def test_the_demo_loads_all_five_versions_published_and_is_idempotent(personas) -> None:
    from types import SimpleNamespace

    from specs import demo

    platform = SimpleNamespace(workspace=personas.workspace, users={"editor": personas.editor})
    demo.seed(platform, io.StringIO())
    demo.seed(platform, io.StringIO())
    spec = Spec.objects.get(slug=demo.SPEC_SLUG)
    versions = SpecVersion.objects.filter(spec=spec).order_by("label")
    assert [
        (v.label, v.status, v.clause_count, v.example_count, v.eval_prompt_count) for v in versions
    ] == [
        (facts.label, "published", facts.clauses, facts.examples, facts.eval_prompts)
        for facts in (VERSIONS[label] for label in LABELS)
    ]
