"""The import_spec / export_spec commands and the demo seeder."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from specs.models import Clause, Spec, SpecVersion
from tests.specs.conftest import DATA

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_spec_prints_a_summary_and_json(personas, tmp_path) -> None:
    text = run(
        "import_spec",
        str(DATA / "2025-12-18.md"),
        "--workspace=policy-team",
        "--spec=model-spec",
        "--title=Model Spec",
        f"--examples={DATA / 'examples'}",
        f"--examples={DATA / 'examples-removed-2025-09-12'}",
        "--publish",
    )
    assert "80 clauses, 183 examples" in text
    assert SpecVersion.objects.get(label="2025-12-18").status == "published"
    output = run(
        "import_spec",
        str(DATA / "2025-02-12.md"),
        "--workspace=policy-team",
        "--spec=model-spec",
        "--json",
    )
    summary = json.loads(output)
    assert summary["versions"][0]["clauses"] == 71
    assert summary["versions"][0]["examples"] == 154
    assert summary["versions"][0]["status"] == "draft"
    assert isinstance(summary["versions"][0]["warnings"], list)


def test_import_spec_fails_with_file_and_line_and_stores_nothing(personas, tmp_path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("# A {#a}\n\ntext\n\n# B {#a}\n")
    with pytest.raises(CommandError) as caught:
        run("import_spec", str(bad), "--workspace=policy-team", "--spec=s")
    assert str(caught.value).startswith(f"{bad}:5: duplicate key")
    assert not SpecVersion.objects.exists()
    assert caught.value.returncode == 1


def test_import_spec_rejects_an_unknown_workspace(tmp_path, db) -> None:
    with pytest.raises(CommandError, match="--workspace"):
        run("import_spec", str(DATA / "2025-12-18.md"), "--workspace=nope", "--spec=s")


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
    assert summary["clauses"] == 80 and summary["bytes"] > 200_000
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
    assert text.startswith("# ") or "{#overview" in text


def test_the_demo_loads_all_five_versions_published_and_is_idempotent(personas) -> None:
    from types import SimpleNamespace

    from specs import demo

    platform = SimpleNamespace(workspace=personas.workspace, users={"editor": personas.editor})
    demo.seed(platform, io.StringIO())
    demo.seed(platform, io.StringIO())
    spec = Spec.objects.get(slug=demo.SPEC_SLUG)
    versions = SpecVersion.objects.filter(spec=spec)
    assert versions.count() == 5
    assert set(versions.values_list("status", flat=True)) == {"published"}
    assert all(v.eval_prompt_count > 0 for v in versions)
