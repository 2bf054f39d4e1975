"""Labeling figures: the labeling page, saving a label, claiming with 100k open items, the queue.

Setup (once per bench database, idempotent): a workspace with a published spec version of 80
clauses, one 40-message transcript in a campaign with all 80 clauses in scope, and a campaign of
100,000 synthetic transcripts (inserted with ``INSERT … SELECT generate_series``) with k = 2.
"""

from __future__ import annotations

import time
from typing import Any

from bench.core import Benchmark, Result

N_ITEMS = 100_000
RUNS = 20
WS = "bench-labeling"
BIG_TITLE = "bench: 100k open items"
PAGE_TITLE = "bench: 40 msgs x 80 clauses"


def _setup() -> dict[str, Any]:
    from bench.db import ensure_bench_database

    ensure_bench_database()
    from django.db import connection, transaction
    from django.utils import timezone

    from clausebook.models import Membership, Role, User, Workspace
    from reviews.models import Campaign
    from reviews.selectors.campaigns import ScopeChoice, TranscriptChoice
    from reviews.services.campaigns import campaign_create
    from specs.models import Clause, Example, Spec, SpecVersion, VersionStatus
    from transcripts.models import Transcript

    workspace, _ = Workspace.objects.get_or_create(slug=WS, defaults={"name": "Bench labeling"})
    users = {}
    for name, role in [("adjudicator", Role.ADJUDICATOR), ("page", Role.REVIEWER),
                       ("claimer", Role.REVIEWER), ("writer", Role.REVIEWER)]:  # fmt: skip
        email = f"{name}@bench.test"
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email=email,
            password="bench-password-1",  # noqa: S106 - bench users
        )
        Membership.objects.get_or_create(workspace=workspace, user=user, defaults={"role": role})
        users[name] = user
    big = Campaign.objects.filter(workspace=workspace, title=BIG_TITLE).first()
    page = Campaign.objects.filter(workspace=workspace, title=PAGE_TITLE).first()
    if big is None or page is None:
        with transaction.atomic():
            spec, _ = Spec.objects.get_or_create(
                workspace=workspace, slug="bench-spec", defaults={"title": "Bench spec"}
            )
            version = SpecVersion.objects.create(spec=spec, label=f"bench-{time.time_ns()}")
            clauses = [
                Clause.objects.create(
                    version=version,
                    key=f"clause_{i:03d}",
                    title=f"Clause number {i} about careful behaviour",
                    level=1,
                    position=i,
                    authority=["root", "system", "developer", "user", "guideline"][i % 5],
                    body=(f"The assistant should **behave well** in situation {i}.\n\n" * 4)
                    + "- one\n- two\n- three\n",
                )
                for i in range(80)
            ]
            Example.objects.bulk_create(
                Example(
                    clause=clause,
                    position=0,
                    title=f"Example for {clause.key}",
                    turns=[
                        {"message": {"role": "user", "content": "Help me with this, please."}},
                        {
                            "comparison": [
                                {
                                    "content": "Of course: here is how.",
                                    "grade": "good",
                                    "reason": "Helpful.",
                                },
                                {
                                    "content": "I can't help with that.",
                                    "grade": "bad",
                                    "reason": "Needless refusal.",
                                },
                            ]
                        },
                    ],  # fmt: skip
                    fingerprint=f"bench-{clause.pk}",
                )
                for clause in clauses
            )
            version.status = VersionStatus.PUBLISHED
            version.published_at = timezone.now()
            version.save()
            long = Transcript.objects.create(
                workspace=workspace,
                messages=[
                    {
                        "role": "user" if i % 2 == 0 else "assistant",
                        "content": f"Turn {i}. "
                        + "Some *markdown* text with `code` and detail. " * 12,
                    }
                    for i in range(40)
                ],
                message_count=40,
                content_hash=f"bench-long-{time.time_ns()}",
                external_id=f"bench-long-{time.time_ns()}",
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    INSERT INTO transcripts_transcript (workspace_id, messages, message_count,
                        content_hash, external_id, source, model, metadata, tags, pair_key,
                        variant, origin, created_at)
                    SELECT %s, jsonb_build_array(
                            jsonb_build_object('role', 'user', 'content', 'Question ' || g),
                            jsonb_build_object('role', 'assistant', 'content', 'Answer ' || g)),
                        2, md5('bench-' || g || '-' || %s), 'bench-' || g || '-' || %s, 'bench',
                        '', '{}'::jsonb, ARRAY['bench']::varchar[], '', '', 'import', now()
                    FROM generate_series(1, %s) AS g
                    RETURNING id
                    """,
                    [workspace.pk, version.pk, version.pk, N_ITEMS],
                )
                ids = sorted(row[0] for row in cursor.fetchall())
            reviewers = [users["page"], users["claimer"], users["writer"]]
            common = {
                "workspace": workspace,
                "actor": users["adjudicator"],
                "spec_version": version,
                "scope": ScopeChoice(mode="all"),
                "reviewers": reviewers,
                "reviewers_per_item": 2,
                "open_now": True,
            }
            big = campaign_create(
                title=BIG_TITLE, transcripts=TranscriptChoice(source="ids", ids=ids), **common
            )
            page = campaign_create(
                title=PAGE_TITLE,
                transcripts=TranscriptChoice(source="ids", ids=[long.pk]),
                **common,
            )
    return {"workspace": workspace, "users": users, "big": big, "page": page}


_state: dict[str, Any] = {}


def _ctx() -> dict[str, Any]:
    if not _state:
        from bench.db import analyze

        _state.update(_setup())
        analyze()
    return _state


def _client(user: Any) -> Any:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _timed(fn: Any, before: Any = None, after: Any = None) -> list[float]:
    samples = []
    for run in range(RUNS + 2):
        if before:
            before()
        start = time.perf_counter()
        value = fn()
        elapsed = (time.perf_counter() - start) * 1000
        if after:
            after(value)
        if run >= 2:  # two warm-up runs
            samples.append(elapsed)
    return samples


def bench_labeling_page() -> Result:
    from reviews.services.campaigns import item_claim_next

    ctx = _ctx()
    user = ctx["users"]["page"]
    assignment = item_claim_next(campaign=ctx["page"], reviewer=user)
    client = _client(user)
    url = f"/w/{WS}/campaigns/{ctx['page'].pk}/items/{assignment.item_id}/"

    def get() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    return Result(_timed(get), note="GET via django.test.Client, rendering cached per process")


def bench_submit_label() -> Result:
    from reviews.models import Label
    from reviews.services.campaigns import item_claim_next

    ctx = _ctx()
    user = ctx["users"]["writer"]
    assignment = item_claim_next(campaign=ctx["page"], reviewer=user)
    clause_id = ctx["page"].campaign_clauses.order_by("position").first().clause_id
    client = _client(user)
    # The one label contract, as the labeling page posts it.
    url = f"/api/v1/workspaces/{WS}/campaigns/{ctx['page'].pk}/items/{assignment.item_id}/labels/"
    label = Label.objects.filter(
        item_id=assignment.item_id, reviewer=user, clause_id=clause_id
    ).first()
    revision = [label.revision if label else None]
    verdicts = ["complies", "violates"]

    def post() -> None:
        body = {
            "labels": [
                {
                    "clause": clause_id,
                    "verdict": verdicts[(revision[0] or 0) % 2],
                    "rationale": "Checked against the clause.",
                    "revision": revision[0],
                }
            ],
            "submit": False,
        }
        response = client.post(url, body, content_type="application/json")
        assert response.status_code == 200, response.content
        revision[0] = response.json()["labels"][0]["revision"]

    return Result(_timed(post), note="API POST …/items/<id>/labels/ with revision (test Client)")


ONE_REQUEST_TITLE = "bench: one request per item"
ONE_REQUEST_CLAUSES = 3


def _one_request_campaign(ctx: dict[str, Any], needed: int) -> Any:
    """A campaign of 1,000 short transcripts, 3 clauses, k = 1, with at least ``needed`` items
    left for the writer (a new one when a past run used them up)."""
    from reviews.models import Campaign, Item
    from reviews.selectors.campaigns import ScopeChoice, TranscriptChoice
    from reviews.services.campaigns import campaign_create

    campaign = (
        Campaign.objects.filter(workspace=ctx["workspace"], title=ONE_REQUEST_TITLE)
        .order_by("-pk")
        .first()
    )
    if campaign is None or Item.objects.filter(campaign=campaign, open_slots__gt=0).count() < (
        needed
    ):
        ids = list(
            Item.objects.filter(campaign=ctx["big"])
            .order_by("position")
            .values_list("transcript_id", flat=True)[:1000]
        )
        keys = list(
            ctx["big"]
            .campaign_clauses.order_by("position")
            .values_list("clause__key", flat=True)[:ONE_REQUEST_CLAUSES]
        )
        campaign = campaign_create(
            workspace=ctx["workspace"],
            actor=ctx["users"]["adjudicator"],
            title=ONE_REQUEST_TITLE,
            spec_version=ctx["big"].spec_version,
            scope=ScopeChoice(mode="list", keys=keys),
            transcripts=TranscriptChoice(source="ids", ids=ids),
            reviewers=[ctx["users"]["writer"]],
            reviewers_per_item=1,
            open_now=True,
        )
    campaign.workspace = ctx["workspace"]
    return campaign


def bench_label_and_next() -> Result:
    from reviews.services.campaigns import item_claim_next

    ctx = _ctx()
    user = ctx["users"]["writer"]
    campaign = _one_request_campaign(ctx, RUNS + 2)
    keys = list(
        campaign.campaign_clauses.order_by("position").values_list("clause__key", flat=True)
    )
    client = _client(user)
    current = [item_claim_next(campaign=campaign, reviewer=user).item_id]
    base = f"/api/v1/workspaces/{WS}/campaigns/{campaign.pk}/items/"

    def post() -> None:
        # Every clause's verdict, submit, and the next item back: what a reviewer's one request
        # per item carries.
        body = {
            "labels": [{"clause": key, "verdict": "complies"} for key in keys],
            "submit": True,
            "next": True,
        }
        response = client.post(f"{base}{current[0]}/labels/", body, content_type="application/json")
        assert response.status_code == 200, response.content
        current[0] = response.json()["next"]["item"]["id"]

    return Result(
        _timed(post),
        note=f"API POST …/labels/ with submit + next, {len(keys)} clauses (test Client)",
    )


def bench_claim_next() -> Result:
    from django.db.models import F

    from reviews.models import Assignment, Item
    from reviews.services.campaigns import item_claim_next

    ctx = _ctx()
    user = ctx["users"]["claimer"]
    campaign = ctx["big"]
    campaign.workspace = ctx["workspace"]

    def reset(assignment: Any) -> None:
        # Untimed: give the slot back so every run claims from the same 100k open items.
        Assignment.objects.filter(pk=assignment.pk).delete()
        Item.objects.filter(pk=assignment.item_id).update(open_slots=F("open_slots") + 1)

    def claim() -> Any:
        return item_claim_next(campaign=campaign, reviewer=user)

    reset_active = Assignment.objects.filter(reviewer=user, item__campaign=campaign)
    for assignment in reset_active:
        reset(assignment)
    open_items = Item.objects.filter(campaign=campaign, open_slots__gt=0).count()
    return Result(_timed(claim, after=reset), note=f"service call, {open_items:,} items open")


def bench_queue() -> Result:
    ctx = _ctx()
    client = _client(ctx["users"]["claimer"])
    url = f"/w/{WS}/queue/"

    def get() -> None:
        assert client.get(url).status_code == 200

    return Result(_timed(get), note="GET via django.test.Client")


BENCHMARKS = [
    Benchmark("labeling page 40 msgs × 80 clauses (server)", "≤ 50 ms", bench_labeling_page, "labeling", 50),
    Benchmark("submit a label", "≤ 15 ms", bench_submit_label, "labeling", 15),
    Benchmark("label one item (save + submit + next), one request", "≤ 15 ms", bench_label_and_next, "labeling", 15),
    Benchmark("claim next with 100k open", "≤ 20 ms", bench_claim_next, "labeling", 20),
    Benchmark("reviewer queue list", "≤ 20 ms", bench_queue, "labeling", 20),
]  # fmt: skip
