"""HTTP figures: what a script and a reviewer see from outside, on the server ``make demo`` starts.

Setup (every run, from nothing): the ``clausebook_bench_http`` database (the bench database's
name + ``_http``) is dropped and created, ``manage.py demo`` starts on a free port against it (it
migrates and seeds the demo data, then serves with gunicorn and runs a Celery worker, exactly as ``make demo``; ``DEBUG=true``; the API
write and anonymous throttles raised so that no request meets a 429, and a var folder of its
own). Then, in this process: workspaces of 1,000, 10,000 and 100,000 transcripts of six messages
(~1.5 KB) whose ids interleave with 1,000,000 rows of three other workspaces, by
``INSERT … SELECT generate_series`` (then ``VACUUM ANALYZE``); a bench reviewer with an API token
and a signed-in session; published specs; and campaigns: k = 2 over 1,000 transcripts (label and
next), k = 2 over all 100,000 (claim next), one 40-message transcript with 80 clauses (the
labeling page). ``BENCH_HTTP_SIZES`` builds only some sizes, for a quick look at one figure
(see ``_sizes``); unset, every size is built, as ``make bench`` does.

Every figure is one ``httpx.Client`` over one kept-alive connection, after five warm-up requests.
The in-process column shows the same figure from the in-process modules (test Client or a
service call) when they ran in the same run (``python -m bench http labeling lists``).
"""

from __future__ import annotations

import atexit
import os
import time
from typing import Any

import httpx

from bench import http_support as support
from bench.core import Benchmark, Result

RUNS = 50
ALL_SIZES = (1_000, 10_000, 100_000)


def _sizes() -> tuple[int, ...]:
    """The sizes this run builds: all (what ``make bench`` measures), or the subset named by
    ``BENCH_HTTP_SIZES=1000[,10000]`` to measure one figure quickly (``python -m bench "http
    label one"`` with ``BENCH_HTTP_SIZES=1000`` builds 11k rows instead of 1.11M; the label, claim
    and page campaigns then come from the largest size built)."""
    raw = os.environ.get("BENCH_HTTP_SIZES", "").replace("_", "")
    if not raw.strip():
        return ALL_SIZES
    chosen = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    unknown = set(chosen) - set(ALL_SIZES)
    if unknown or not chosen:
        raise SystemExit(f"BENCH_HTTP_SIZES: choose among {ALL_SIZES}, not {raw!r}")
    return chosen


SIZES = _sizes()
# (every, size): one row in `every` is the workspace's own; the rest, 1,000,000 in all, belong to
# the other workspaces (900k between the 100k's rows, 90k between the 10k's, 10k between the 1k's).
EVERY = {100_000: 10, 10_000: 10, 1_000: 11}
OTHER_WORKSPACES = 3
PAGE = 100
IMPORT_RUNS = 3
NEXT_CLAUSES = 3
_state: dict[str, Any] = {}


def _slug(size: int) -> str:
    return f"bench-http-{size // 1000}k"


def _published_spec(workspace: Any, clauses: int) -> Any:
    from django.utils import timezone

    from specs.models import Clause, Spec, SpecVersion, VersionStatus

    spec = Spec.objects.create(workspace=workspace, slug="bench-http-spec", title="Bench spec")
    version = SpecVersion.objects.create(spec=spec, label="bench-1")
    Clause.objects.bulk_create(
        Clause(
            version=version,
            key=f"clause_{i:03d}",
            title=f"Clause number {i} about careful behaviour",
            level=1,
            position=i,
            authority=["root", "system", "developer", "user", "guideline"][i % 5],
            body=(f"The assistant should **behave well** in situation {i}.\n\n" * 4)
            + "- one\n- two\n- three\n",
        )
        for i in range(clauses)
    )
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.save()
    return version


def _session_cookie(user: Any) -> str:
    """A signed-in session for ``user``, as the login page would leave it (the server shares
    this checkout's secret key)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def _prepare_data() -> dict[str, Any]:
    from django.db import connection

    from clausebook.models import Membership, Role, User, Workspace
    from clausebook.services import api_token_create
    from reviews.selectors.campaigns import ScopeChoice, TranscriptChoice
    from reviews.services.campaigns import campaign_create
    from transcripts.models import Transcript

    started = time.perf_counter()
    users = {
        name: User.objects.create_user(
            email=f"{name}@bench-http.test",
            password="bench-password-1",  # noqa: S106 - bench users
        )
        for name in ("reviewer", "second", "lead")
    }
    workspaces = {
        size: Workspace.objects.create(slug=_slug(size), name=f"Bench HTTP {size:,}")
        for size in SIZES
    }
    workspaces["review"] = Workspace.objects.create(
        slug="bench-http-review", name="Bench HTTP labeling page"
    )
    others = [
        Workspace.objects.create(slug=f"bench-http-other-{i}", name=f"Bench HTTP other {i}").pk
        for i in range(OTHER_WORKSPACES)
    ]
    for workspace in workspaces.values():
        Membership.objects.create(workspace=workspace, user=users["lead"], role=Role.ADMIN)
        for name in ("reviewer", "second"):
            # Editor: imports and reads every transcript; a reviewer's rights besides.
            Membership.objects.create(workspace=workspace, user=users[name], role=Role.EDITOR)
    _token, raw = api_token_create(user=users["reviewer"], name="bench-http")
    for size in SIZES:
        support.insert_interleaved(
            mine=workspaces[size].pk,
            others=others,
            count=size,
            every=EVERY[size],
            tag=f"bench-http-{size}",
        )
    inserted_at = time.perf_counter()
    table = Transcript._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - the model's table
        rows = cursor.fetchone()[0]
    vacuumed_at = time.perf_counter()

    big = workspaces[max(SIZES)]
    version = _published_spec(big, NEXT_CLAUSES)
    ids = list(Transcript.objects.filter(workspace=big).order_by("id").values_list("id", flat=True))
    common = {
        "workspace": big,
        "actor": users["lead"],
        "spec_version": version,
        "scope": ScopeChoice(mode="all"),
        "reviewers": [users["reviewer"], users["second"]],
        "reviewers_per_item": 2,
        "open_now": True,
    }
    label_campaign = campaign_create(
        title="bench: label and next",
        transcripts=TranscriptChoice(source="ids", ids=ids[:1000]),
        **common,
    )
    claim_campaign = campaign_create(
        title="bench: claim with 100k open", transcripts=TranscriptChoice(source="ids", ids=ids),
        **common,
    )  # fmt: skip
    review = workspaces["review"]
    long = Transcript.objects.create(
        workspace=review,
        messages=[
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": f"Turn {i}. " + "Some *markdown* text with `code` and detail. " * 12,
            }
            for i in range(40)
        ],
        message_count=40,
        content_hash="bench-http-long",
    )
    page_campaign = campaign_create(
        **{
            **common,
            "workspace": review,
            "spec_version": _published_spec(review, 80),
            "reviewers": [users["reviewer"]],
            "reviewers_per_item": 1,
        },
        title="bench: 40 msgs x 80 clauses",
        transcripts=TranscriptChoice(source="ids", ids=[long.pk]),
    )
    return {
        "token": raw,
        "session": _session_cookie(users["reviewer"]),
        "users": users,
        "workspaces": workspaces,
        "campaigns": {"label": label_campaign, "claim": claim_campaign, "page": page_campaign},
        "setup": {
            "rows": rows,
            "insert_s": inserted_at - started,
            "vacuum_s": vacuumed_at - inserted_at,
            "campaigns_s": time.perf_counter() - vacuumed_at,
        },
    }


def _stop_server() -> None:
    server = _state.get("server")
    if server is not None:
        server.stop()
    for client in ("api", "browser"):
        if client in _state:
            _state[client].close()


def _ctx() -> dict[str, Any]:
    if "error" in _state:
        raise RuntimeError(f"setup failed earlier: {_state['error']}")
    if "api" in _state:
        return _state
    try:
        support.recreate_database()
        server = support.DemoServer()
        _state["server"] = server
        atexit.register(_stop_server)
        _state["start_s"] = server.start()
        with support.use_database():
            _state.update(_prepare_data())
        _state["api"] = httpx.Client(
            base_url=server.base,
            headers={"Authorization": f"Bearer {_state['token']}"},
            timeout=120,
        )
        _state["browser"] = httpx.Client(
            base_url=server.base, cookies={"sessionid": _state["session"]}, timeout=60
        )
    except BaseException as error:
        _state["error"] = repr(error)[:200]
        _stop_server()
        raise
    return _state


def bench_setup() -> Result:
    ctx = _ctx()
    setup = ctx["setup"]
    return Result(
        [setup["insert_s"]],
        unit="s",
        note=f"{setup['rows']:,} rows inserted; VACUUM ANALYZE {setup['vacuum_s']:.0f} s, "
        f"campaigns {setup['campaigns_s']:.0f} s; demo to first 200 {ctx['start_s']:.0f} s; "
        f"{ctx['server'].banner.removeprefix('Web server: ')}",
    )


def bench_floor() -> Result:
    """The cheapest request there is, kept alive: what any figure below pays for HTTP itself."""
    client = _ctx()["api"]
    return Result(
        support.timed(lambda: support.expect(client.get("/healthz")), runs=RUNS),
        note="GET /healthz: gunicorn + middleware + one trivial view, the HTTP floor",
    )


def bench_label_and_next() -> Result:
    from reviews.services.campaigns import item_claim_next

    ctx = _ctx()
    campaign = ctx["campaigns"]["label"]
    client = ctx["api"]
    with support.use_database():
        current = [item_claim_next(campaign=campaign, reviewer=ctx["users"]["reviewer"]).item_id]
    base = f"/api/v1/workspaces/{campaign.workspace.slug}/campaigns/{campaign.pk}/items/"
    body = {
        "labels": [
            {"clause": f"clause_{i:03d}", "verdict": "complies", "rationale": "Checked."}
            for i in range(NEXT_CLAUSES)
        ],
        "submit": True,
        "next": True,
    }

    def post() -> None:
        response = support.expect(client.post(f"{base}{current[0]}/labels/", json=body))
        current[0] = response.json()["next"]["item"]["id"]

    return Result(
        support.timed(post, runs=RUNS),
        note=f"POST …/labels/ submit+next, {NEXT_CLAUSES} clauses, k = 2, consecutive items",
    )


def bench_claim_next() -> Result:
    from django.db.models import F

    from reviews.models import Assignment, Item

    ctx = _ctx()
    campaign = ctx["campaigns"]["claim"]
    client = ctx["api"]
    url = f"/api/v1/workspaces/{campaign.workspace.slug}/campaigns/{campaign.pk}/claim/"

    def claim() -> int:
        return support.expect(client.post(url)).json()["item"]

    def give_back(item: object) -> None:
        # Untimed: the slot goes back, so every request claims from the same 100k open items
        # (a claim with one in progress would only resume it).
        Assignment.objects.filter(item_id=item, reviewer=ctx["users"]["reviewer"]).delete()
        Item.objects.filter(pk=item).update(open_slots=F("open_slots") + 1)

    with support.use_database():
        samples = support.timed(claim, runs=RUNS, after=give_back)
    return Result(
        samples, note=f"POST …/claim/, {max(SIZES):,} items open, slot given back between"
    )


def _list(size: int, *, deep: bool) -> Result:
    ctx = _ctx()
    client = ctx["api"]
    url = f"/api/v1/workspaces/{_slug(size)}/transcripts/"
    params: dict[str, Any] = {"include": "messages", "page_size": PAGE}
    if deep:
        first = support.expect(client.get(url, params={"page_size": 1})).json()
        low, high = first["min_id"], first["max_id"]
        # 90 % of the way down a newest-first list, aimed from the id range: one request.
        params["after"] = high - (high - low) * 9 // 10

    def get() -> None:
        rows = support.expect(client.get(url, params=params)).json()["results"]
        if len(rows) != PAGE or "messages" not in rows[0]:
            raise RuntimeError(f"a page of {len(rows)} rows, not {PAGE} with messages")

    where = "after=<id at 90 %>" if deep else "page 1, with the total"
    return Result(
        support.timed(get, runs=RUNS),
        note=f"GET ?include=messages&page_size={PAGE}, {where}; 1M rows in other workspaces",
    )


def _list_bench(size: int, deep: bool) -> Any:
    return lambda: _list(size, deep=deep)


def bench_labeling_page() -> Result:
    from reviews.services.campaigns import item_claim_next

    ctx = _ctx()
    campaign = ctx["campaigns"]["page"]
    with support.use_database():
        item = item_claim_next(campaign=campaign, reviewer=ctx["users"]["reviewer"]).item_id
    url = f"/w/{campaign.workspace.slug}/campaigns/{campaign.pk}/items/{item}/"
    client = ctx["browser"]

    def get() -> None:
        response = support.expect(client.get(url))
        if "clause_079" not in response.text:
            raise RuntimeError("the labeling page does not show the 80th clause")

    return Result(support.timed(get, runs=RUNS), note="GET the HTML page, signed-in session cookie")


def bench_api_import() -> Result:
    """Upload the 100k file and poll the import until it is done, into a new workspace each run."""
    from bench.bench_transcripts import ROWS, _ensure_file
    from clausebook.models import Membership, Role, Workspace

    ctx = _ctx()
    path = _ensure_file()
    client = ctx["api"]
    samples, polls = [], []
    try:
        for run in range(IMPORT_RUNS):
            with support.use_database():
                workspace = Workspace.objects.create(
                    slug=f"bench-http-import-{run}", name=f"Bench HTTP import {run}"
                )
                Membership.objects.create(
                    workspace=workspace, user=ctx["users"]["reviewer"], role=Role.EDITOR
                )
            url = f"/api/v1/workspaces/{workspace.slug}/imports/"
            start = time.perf_counter()
            with open(path, "rb") as fh:
                created = support.expect(
                    client.post(url, files={"file": (path.name, fh, "application/jsonl")}), 201
                ).json()
            count = 0
            while True:
                state = support.expect(client.get(f"{url}{created['id']}/")).json()
                count += 1
                if state["status"] in {"succeeded", "failed"}:
                    break
                time.sleep(0.05)
            samples.append(time.perf_counter() - start)
            polls.append(count)
            if state["status"] != "succeeded" or state["created_count"] != ROWS:
                raise RuntimeError(
                    f"import ended {state['status']} with {state['created_count']} created: "
                    f"{state['error_message'][:200]}"
                )
    finally:
        _stop_server()  # the last figure that needs the server
    size = path.stat().st_size / 1e6
    return Result(
        samples,
        unit="s",
        note=f"multipart upload of {size:.0f} MB + polls every 50 ms until succeeded "
        f"({min(polls)}–{max(polls)} polls); a new workspace each run",
    )


def bench_cli_vs_copy() -> Result:
    """The transcripts module's alternated CLI / raw COPY pairs (shared, so run once per run)."""
    from bench.bench_transcripts import bench_ratio

    result = bench_ratio()
    result.note = "same pairs as the transcripts group (bench_transcripts.py), clausebook_bench"
    return result


_LIST_IN_PROCESS = {
    False: "list page 1: 100 transcripts with messages (10k; 100k in another workspace)",
    True: "list page 90 % deep (after=): 100 with messages (10k; 100k elsewhere)",
}
BENCHMARKS = [
    Benchmark(
        "http setup: generated transcripts (1.11M rows)",
        "(measure)",
        bench_setup,
        group="http",
    ),
    Benchmark("http floor: GET /healthz", "(measure)", bench_floor, group="http"),
    Benchmark(
        "http label one item (save + submit + next), one request",
        "≤ 15 ms p50, ≤ 30 ms p95",
        bench_label_and_next,
        group="http",
        budget=15,
        budget_p95=30,
        in_process="label one item (save + submit + next), one request",
    ),
    Benchmark(
        "http claim next (100k open)",
        "≤ 20 ms",
        bench_claim_next,
        group="http",
        budget=20,
        in_process="claim next with 100k open",
    ),
    *[
        Benchmark(
            f"http list {'90 % deep' if deep else 'page 1'}: 100 with messages ({size // 1000}k)",
            "≤ 20 ms",
            _list_bench(size, deep),
            group="http",
            budget=20,
            in_process=_LIST_IN_PROCESS[deep] if size == 10_000 else "",
        )
        for size in SIZES
        for deep in (False, True)
    ],
    Benchmark(
        "http labeling page 40 msgs × 80 clauses",
        "≤ 50 ms",
        bench_labeling_page,
        group="http",
        budget=50,
        in_process="labeling page 40 msgs × 80 clauses (server)",
    ),
    Benchmark(
        "http import 100k×6 msgs via API, until done",
        "≤ 5 s",
        bench_api_import,
        group="http",
        budget=5.0,
        in_process="import 100k×6 msgs JSONL via CLI",
    ),
    Benchmark(
        "http CLI import / raw COPY of the same rows",
        "≤ 2×",
        bench_cli_vs_copy,
        group="http",
        budget=2.0,
    ),
]
