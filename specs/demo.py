"""Demo data for specs: the five published OpenAI Model Spec versions with their eval prompts.

Idempotent and quick on re-runs: versions already present are left alone (a published
version cannot change anyway), so ``make demo`` only pays for the import once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TextIO

from specs import services
from specs.models import Spec, SpecVersion

DATA = Path(__file__).resolve().parent.parent / "data" / "openai-model-spec"
SPEC_SLUG = "openai-model-spec"
SPEC_TITLE = "OpenAI Model Spec"
SPEC_DESCRIPTION = (
    "How OpenAI wants its models to behave: the chain of command, staying in bounds, seeking "
    "the truth together. Five public releases (CC0), with their evaluation prompts."
)


def seed(platform: Any, stdout: TextIO) -> None:
    """Load every ``data/openai-model-spec/20*.md`` version, published, into the demo workspace."""
    started = time.monotonic()
    workspace = platform.workspace
    editor = platform.users.get("editor")
    spec = Spec.objects.filter(workspace=workspace, slug=SPEC_SLUG).first()
    if spec is None:
        spec = services.spec_create(
            workspace=workspace,
            slug=SPEC_SLUG,
            title=SPEC_TITLE,
            description=SPEC_DESCRIPTION,
            actor=editor,
        )
    existing = dict(SpecVersion.objects.filter(spec=spec).values_list("label", "status"))
    files = sorted(DATA.glob("20*.md"))
    prompts: dict[str, str] | None = None
    loaded = 0
    for path in files:
        label = path.stem
        if label not in existing:
            if prompts is None:
                prompts = services.eval_examples_from_folders(
                    DATA / "examples", DATA / "examples-removed-2025-09-12"
                )
            version = services.spec_version_import(
                spec=spec,
                label=label,
                markdown=path.read_text(encoding="utf-8"),
                filename=path.name,
                actor=editor,
                eval_examples=prompts,
            )
            services.spec_version_publish(version=version, actor=editor)
            loaded += 1
        elif existing[label] == "draft":
            version = SpecVersion.objects.get(spec=spec, label=label)
            services.spec_version_publish(version=version, actor=editor)
    stdout.write(
        f"specs: {SPEC_TITLE}, {len(files)} versions ({loaded} imported now) "
        f"in {time.monotonic() - started:.2f} s"
    )
