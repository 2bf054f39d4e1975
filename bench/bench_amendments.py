"""Amendment figures: start a draft from a published version; merge an amendment touching 10
clauses into a draft of 2025-12-18 and publish it. Each is shown beside the time to import the
same version from Markdown (parse + store), the natural floor.

Setup (once per bench database): 2025-12-18, published, with its eval prompts, in the
``bench-amendments`` workspace, with an author and an approver. Every timed run happens in a
transaction that is rolled back, so each starts from the same published version.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.core import Benchmark, Result, time_call

WS = "bench-amendments"
LABEL = "2025-12-18"
DATA = Path(__file__).resolve().parent.parent / "data" / "openai-model-spec"
# Ten clauses spread over the document, leaves and parents, with and without examples.
CLAUSES = [
    "overview",
    "follow_all_applicable_instructions",
    "protect_privacy",
    "avoid_info_hazards",
    "be_warm",
    "prioritize_teen_safety",
    "be_clear",
    "respect_creators",
    "assume_best_intentions",
    "express_uncertainty",
]
EXAMPLE = {
    "title": "A gold case promoted from review",
    "turns": [
        {"message": {"role": "user", "content": "Can you help me with this?"}},
        {
            "comparison": [
                {"content": "Of course. Here is how.", "grade": "good", "reason": "Gold."}
            ]
        },
    ],
    "origin": "gold",
}
_state: dict[str, Any] = {}


class _Rollback(Exception):
    pass


def _setup() -> dict[str, Any]:
    if _state:
        return _state
    from bench.db import ensure_bench_database

    ensure_bench_database()
    from clausebook.models import Membership, Role, User, Workspace
    from specs import services
    from specs.models import Clause, Spec

    workspace, _ = Workspace.objects.get_or_create(slug=WS, defaults={"name": "Bench amendments"})
    users = {}
    for name, role in (("author", Role.ADJUDICATOR), ("approver", Role.EDITOR)):
        email = f"{name}@bench.test"
        users[name] = User.objects.filter(email=email).first() or User.objects.create_user(
            email=email,
            password="bench-password-1",  # noqa: S106 - bench user
        )
        Membership.objects.get_or_create(
            workspace=workspace, user=users[name], defaults={"role": role}
        )
    spec = Spec.objects.filter(
        workspace=workspace, slug="model-spec"
    ).first() or services.spec_create(
        workspace=workspace, slug="model-spec", title="OpenAI Model Spec", actor=users["approver"]
    )
    prompts = services.eval_examples_from_folders(
        DATA / "examples", DATA / "examples-removed-2025-09-12"
    )
    markdown = (DATA / f"{LABEL}.md").read_text(encoding="utf-8")
    version = spec.versions.filter(label=LABEL).first()
    if version is None:
        version = services.spec_version_import(
            spec=spec,
            label=LABEL,
            markdown=markdown,
            actor=users["approver"],
            eval_examples=prompts,
        )
        version = services.spec_version_publish(version=version, actor=users["approver"])
    keys = set(Clause.objects.filter(version=version).values_list("key", flat=True))
    missing = [key for key in CLAUSES if key not in keys]
    assert not missing, f"not in {LABEL}: {missing}"  # noqa: S101 - a bench precondition
    _state.update(spec=spec, version=version, markdown=markdown, prompts=prompts, **users)
    from bench.db import analyze

    analyze()
    return _state


def _rolled_back(fn: Any) -> Any:
    from django.db import transaction

    def run() -> None:
        try:
            with transaction.atomic():
                fn()
                raise _Rollback
        except _Rollback:
            pass

    return run


def _import_floor() -> list[float]:
    state = _setup()
    from specs import services

    def run() -> None:
        services.spec_version_import(
            spec=state["spec"],
            label="bench-import",
            markdown=state["markdown"],
            actor=state["approver"],
            eval_examples=state["prompts"],
        )

    if "floor" not in _state:
        _state["floor"] = time_call(_rolled_back(run), repeat=7)
    return _state["floor"]


def _median(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2]


def bench_import_floor() -> Result:
    return Result(_import_floor(), note="import 2025-12-18 from Markdown: the floor")


def bench_draft_start() -> Result:
    state = _setup()
    from specs.amendments import services as amendments

    def run() -> None:
        amendments.draft_start_from(
            version=state["version"], label="bench-draft", actor=state["approver"]
        )

    samples = time_call(_rolled_back(run), repeat=7)
    floor = _median(_import_floor())
    return Result(
        samples,
        note=f"copy 80 clauses, examples, eval prompts; import from Markdown {floor:.0f} ms",
    )


def bench_merge_and_publish() -> Result:
    """Merge an approved amendment changing 10 clause bodies (and adding an example to one),
    then publish the draft with its changelog. Only the merge and the publish are timed."""
    state = _setup()
    from django.db import transaction

    from specs.amendments import services as amendments
    from specs.models import AmendmentChange, Clause

    version = state["version"]
    bodies = dict(
        Clause.objects.filter(version=version, key__in=CLAUSES).values_list("key", "body")
    )
    samples: list[float] = []
    for _ in range(1 + 5):  # one warm-up
        try:
            with transaction.atomic():
                draft = amendments.draft_start_from(
                    version=version, label="bench-draft", actor=state["approver"]
                )
                amendment = amendments.amendment_propose(
                    spec=state["spec"],
                    base_version=version,
                    title="Ten clauses",
                    rationale="Bench",
                    actor=state["author"],
                )
                for key in CLAUSES:
                    amendments.amendment_change_add(
                        amendment=amendment,
                        kind=AmendmentChange.Kind.CHANGE_CLAUSE,
                        clause_key=key,
                        payload={"body": bodies[key] + "\n\nOne more sentence from review."},
                        actor=state["author"],
                    )
                amendments.amendment_change_add(
                    amendment=amendment,
                    kind=AmendmentChange.Kind.ADD_EXAMPLE,
                    clause_key=CLAUSES[4],
                    payload=EXAMPLE,
                    actor=state["author"],
                )
                amendments.amendment_approve(amendment=amendment, actor=state["approver"])
                start = time.perf_counter()
                amendments.amendment_merge(amendment=amendment, actor=state["approver"])
                amendments.draft_publish(version=draft, actor=state["approver"])
                samples.append((time.perf_counter() - start) * 1000)
                raise _Rollback
        except _Rollback:
            pass
    floor = _median(_import_floor())
    return Result(
        samples[1:],
        note=f"10 clauses + 1 example, then publish; import from Markdown {floor:.0f} ms",
    )


BENCHMARKS = [
    Benchmark("import 2025-12-18 (floor)", "≈ 150 ms", bench_import_floor, "amendments"),
    Benchmark("start a draft from 2025-12-18", "≤ 1 s", bench_draft_start, "amendments", 1000),
    Benchmark(
        "merge 10-clause amendment + publish", "≤ 1 s", bench_merge_and_publish, "amendments", 1000
    ),
]
