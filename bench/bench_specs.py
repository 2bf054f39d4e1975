"""Specs figures: parse a 270 KB version, parse + store it, diff two versions, the clause page,
search.

Setup (once per bench database, idempotent): the five Model Spec versions, published, with
their eval prompts, loaded through ``specs.services`` into the ``bench-specs`` workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.core import Benchmark, Result, time_call

WS = "bench-specs"
SPEC = "model-spec"
DATA = Path(__file__).resolve().parent.parent / "data" / "openai-model-spec"
CLAUSES = [
    "overview",
    "follow_all_applicable_instructions",
    "protect_privacy",
    "avoid_info_hazards",
    "be_warm",
    "prioritize_teen_safety",
]
_state: dict[str, Any] = {}


def _setup() -> dict[str, Any]:
    if _state:
        return _state
    from bench.db import ensure_bench_database

    ensure_bench_database()
    from clausebook.models import Membership, Role, User, Workspace
    from specs import services
    from specs.models import Spec, SpecVersion

    workspace, _ = Workspace.objects.get_or_create(slug=WS, defaults={"name": "Bench specs"})
    email = "reader@bench.test"
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email=email,
        password="bench-password-1",  # noqa: S106 - bench user
    )
    Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": Role.EDITOR})
    spec = Spec.objects.filter(workspace=workspace, slug=SPEC).first() or services.spec_create(
        workspace=workspace, slug=SPEC, title="OpenAI Model Spec", actor=user
    )
    prompts = services.eval_examples_from_folders(
        DATA / "examples", DATA / "examples-removed-2025-09-12"
    )
    existing = set(SpecVersion.objects.filter(spec=spec).values_list("label", flat=True))
    for path in sorted(DATA.glob("20*.md")):
        if path.stem not in existing:
            version = services.spec_version_import(
                spec=spec,
                label=path.stem,
                markdown=path.read_text(encoding="utf-8"),
                filename=path.name,
                actor=user,
                eval_examples=prompts,
            )
            services.spec_version_publish(version=version, actor=user)
    _state.update(workspace=workspace, user=user, spec=spec, prompts=prompts)
    from bench.db import analyze

    analyze()
    return _state


def bench_parse() -> Result:
    """The framework-free parser alone (the figure tests/specs once bounded with a timer)."""
    from specs.spec_markdown import parse_spec

    markdown = (DATA / "2025-12-18.md").read_text(encoding="utf-8")
    return Result(time_call(lambda: parse_spec(markdown), repeat=9), note="no database")


def bench_parse_and_store() -> Result:
    state = _setup()
    from django.db import transaction

    from specs import services

    markdown = (DATA / "2025-12-18.md").read_text(encoding="utf-8")

    class Rollback(Exception):
        pass

    def run() -> None:
        try:
            with transaction.atomic():
                services.spec_version_import(
                    spec=state["spec"],
                    label="bench-draft",
                    markdown=markdown,
                    filename="2025-12-18.md",
                    actor=state["user"],
                    eval_examples=state["prompts"],
                )
                raise Rollback
        except Rollback:
            pass

    samples = time_call(run, repeat=7)
    return Result(
        samples,
        note="parse + store 80 clauses, 183 examples, 282 eval prompts, plain text, search vectors",
    )


def bench_diff() -> Result:
    state = _setup()
    from specs import access, selectors

    spec = state["spec"]
    old = access.version_for(state["workspace"], spec.slug, "2025-02-12")
    new = access.version_for(state["workspace"], spec.slug, "2025-12-18")
    return Result(
        time_call(lambda: selectors.version_diff(old, new), repeat=9),
        note="service incl. DB reads",
    )


def bench_clause_page() -> Result:
    state = _setup()
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(state["user"])
    samples: list[float] = []
    for key in CLAUSES:
        url = reverse("specs:clause-detail", args=[WS, SPEC, "2025-12-18", key])

        def get(url: str = url) -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        samples += time_call(get, repeat=5)
    return Result(samples, note=f"GET via django.test.Client, {len(CLAUSES)} clauses")


def bench_search() -> Result:
    state = _setup()
    from specs import selectors

    samples: list[float] = []
    for query in ["chain of command", "privacy", "medical advice", '"untrusted data"', "info haz"]:
        samples += time_call(lambda q=query: selectors.search(state["spec"], q), repeat=5)
    return Result(
        samples,
        note="clauses + examples, prefix terms, grouped across versions, plain-text snippets; "
        "5 queries",
    )


BENCHMARKS = [
    Benchmark("parse 2025-12-18", "≤ 200 ms", bench_parse, "specs", 200),
    Benchmark("parse+store 2025-12-18", "≤ 1 s", bench_parse_and_store, "specs", 1000),
    Benchmark("diff 2025-02-12→2025-12-18", "≤ 300 ms", bench_diff, "specs", 300),
    Benchmark("clause page (server time)", "≤ 30 ms", bench_clause_page, "specs", 30),
    Benchmark("search all five versions", "≤ 50 ms", bench_search, "specs", 50),
]
