"""Fixtures for the specs tests: the real Model Spec versions imported through the service."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from specs import services
from specs.models import Spec, SpecVersion
from tests.personas import Personas
from tests.spec_facts import EVAL_FOLDERS, spec_text


def eval_prompts() -> dict[str, str]:
    return services.eval_examples_from_folders(*EVAL_FOLDERS)


@pytest.fixture
def spec(personas: Personas) -> Spec:
    return services.spec_create(
        workspace=personas.workspace,
        slug="model-spec",
        title="OpenAI Model Spec",
        actor=personas.editor,
    )


@pytest.fixture
def load_version(personas: Personas, spec: Spec) -> Callable[..., SpecVersion]:
    """``load_version("2025-12-18", publish=True)`` imports a real version (with eval prompts)."""
    prompts = eval_prompts()

    def load(label: str, *, publish: bool = True, evals: bool = True) -> SpecVersion:
        version = services.spec_version_import(
            spec=spec,
            label=label,
            markdown=spec_text(label),
            filename=f"{label}.md",
            actor=personas.editor,
            eval_examples=prompts if evals else None,
        )
        if publish:
            version = services.spec_version_publish(version=version, actor=personas.editor)
        return version

    return load
