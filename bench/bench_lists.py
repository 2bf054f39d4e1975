"""List figures: a page of 100 transcripts with their messages, at page 1, 90 % deep and last.

Setup (once per bench database, idempotent): a workspace with 10,000 transcripts of six messages
(~1.5 KB each) whose ids interleave with 100,000 of another workspace's (one row in eleven is
ours, as when two workspaces import side by side), inserted with ``INSERT … SELECT
generate_series`` and then vacuumed and analysed. Each figure is ``GET …/transcripts/
?include=messages&page_size=100`` through ``django.test.Client`` (in-process: no HTTP server, no
network), as a reviewer: page 1 (which also counts the total), the page 90 % of the way down
(``after=`` an id aimed from the first page's ``min_id``/``max_id``: one request), and the last
page.
"""

from __future__ import annotations

import time
from typing import Any

from bench.core import Benchmark, Result

MINE = 10_000
EVERY = 11  # one row in EVERY is ours: 100,000 of the other workspace's among them
RUNS = 20
PAGE = 100
WS = "bench-lists"
OTHER = "bench-lists-other"
_state: dict[str, Any] = {}


def _setup() -> dict[str, Any]:
    from bench.db import ensure_bench_database

    ensure_bench_database()
    from django.db import connection

    from clausebook.models import Membership, Role, User, Workspace
    from transcripts.models import Transcript

    workspace, _ = Workspace.objects.get_or_create(slug=WS, defaults={"name": "Bench lists"})
    other, _ = Workspace.objects.get_or_create(slug=OTHER, defaults={"name": "Bench lists other"})
    email = "lists@bench.test"
    user = User.objects.filter(email=email).first() or User.objects.create_user(
        email=email,
        password="bench-password-1",  # noqa: S106 - bench user
    )
    Membership.objects.get_or_create(
        workspace=workspace, user=user, defaults={"role": Role.REVIEWER}
    )
    if Transcript.objects.filter(workspace=workspace).count() != MINE:
        table = Transcript._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE workspace_id IN (%s, %s)", [workspace.pk, other.pk]
            )  # noqa: S608
            # Six messages of ~250 characters: ~1.5 KB a transcript, as the figures.
            cursor.execute(
                f"""
                INSERT INTO {table} (workspace_id, messages, message_count, content_hash,
                    external_id, source, model, metadata, tags, pair_key, variant, origin,
                    created_at)
                SELECT CASE WHEN g %% %(every)s = 0 THEN %(mine)s ELSE %(other)s END,
                    (SELECT jsonb_agg(jsonb_build_object(
                        'role', CASE WHEN m %% 2 = 1 THEN 'user' ELSE 'assistant' END,
                        'content', 'Message ' || m || ' of conversation ' || g || ': '
                            || repeat('words about careful behaviour ', 7)))
                     FROM generate_series(1, 6) AS m),
                    6, md5('bench-lists-' || g), '', 'bench', '', '{{}}'::jsonb, '{{}}', '', '',
                    'import', now()
                FROM generate_series(1, %(rows)s) AS g
                ORDER BY g
                """,  # noqa: S608 - the table name is the model's
                {"every": EVERY, "mine": workspace.pk, "other": other.pk, "rows": MINE * EVERY},
            )
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {"client": client, "url": f"/api/v1/workspaces/{WS}/transcripts/"}


def _ctx() -> dict[str, Any]:
    if not _state:
        _state.update(_setup())
    return _state


def _timed(fn: Any) -> list[float]:
    samples = []
    for run in range(RUNS + 2):
        start = time.perf_counter()
        fn()
        if run >= 2:  # two warm-up runs
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def _page(params: dict[str, Any]) -> Result:
    ctx = _ctx()
    client, url = ctx["client"], ctx["url"]
    query = {"include": "messages", "page_size": PAGE, **params}

    def get() -> None:
        response = client.get(url, query)
        assert response.status_code == 200, response.content[:300]
        assert len(response.json()["results"]) == PAGE

    jump = "&after=<id>" if "after" in params else " (counts the total)"
    return Result(_timed(get), note=f"GET ?include=messages&page_size={PAGE}{jump}, test Client")


def _range() -> tuple[int, int]:
    ctx = _ctx()
    first = ctx["client"].get(ctx["url"], {"page_size": 1}).json()
    return first["min_id"], first["max_id"]


def bench_page_one() -> Result:
    return _page({})


def bench_deep_page() -> Result:
    low, high = _range()
    # 90 % of the way down a newest-first list: aimed from the id range, one request.
    return _page({"after": high - (high - low) * 9 // 10})


def bench_last_page() -> Result:
    from transcripts.models import Transcript

    ids = list(
        Transcript.objects.filter(workspace__slug=WS)
        .order_by("id")
        .values_list("id", flat=True)[: PAGE + 1]
    )
    return _page({"after": ids[PAGE]})


_TARGET = "≤ 20 ms over HTTP (this: in-process)"
BENCHMARKS = [
    Benchmark(
        "list page 1: 100 transcripts with messages (10k; 100k in another workspace)",
        _TARGET,
        bench_page_one,
        group="lists",
        budget=20,
    ),
    Benchmark(
        "list page 90 % deep (after=): 100 with messages (10k; 100k elsewhere)",
        _TARGET,
        bench_deep_page,
        group="lists",
        budget=20,
    ),
    Benchmark(
        "list last page: 100 with messages (10k; 100k elsewhere)",
        _TARGET,
        bench_last_page,
        group="lists",
        budget=20,
    ),
]
