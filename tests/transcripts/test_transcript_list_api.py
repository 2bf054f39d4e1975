"""The transcript list as a client walks it: keyset pages by id, with the messages on request.

Pages are keyset pages (``after``/``before`` an id), so a client jumps to any depth in one request
and pages already being walked never shift when transcripts arrive. ``include=messages`` carries
each transcript's messages with the same scoping as the list. The EXPLAIN tests pin the plan a
page gets when another workspace holds many more rows: one index range on (workspace, id), a
LIMIT, no sort, no rows read beyond the page.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clausebook.models import Workspace
from transcripts.models import Transcript

pytestmark = pytest.mark.django_db

TABLE = Transcript._meta.db_table


def insert_transcripts(
    workspace: Workspace, count: int, *, every: int = 1, other: Workspace | None = None
) -> list[int]:
    """``count`` two-message transcripts in ``workspace`` in one statement; with ``other`` and
    ``every``, only every ``every``-th row is the workspace's and the rest go to ``other``
    (their ids interleaved, as when two workspaces import at the same time). Returns the ids
    of ``workspace``'s rows, ascending."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {TABLE} (workspace_id, messages, message_count, content_hash, external_id,
                source, model, metadata, tags, pair_key, variant, origin, created_at)
            SELECT CASE WHEN g %% %(every)s = 0 THEN %(mine)s ELSE %(other)s END,
                jsonb_build_array(
                    jsonb_build_object('role', 'user', 'content', 'Question ' || g || '?'),
                    jsonb_build_object('role', 'assistant', 'content', 'Answer ' || g || '.')),
                2, md5(%(salt)s || g), '', 'test', '', '{{}}'::jsonb, '{{}}', '', '', 'import',
                now()
            FROM generate_series(1, %(rows)s) AS g
            ORDER BY g
            RETURNING id, workspace_id
            """,  # noqa: S608 - the table name is the model's
            {
                "every": every,
                "mine": workspace.pk,
                "other": (other or workspace).pk,
                "salt": f"{workspace.pk}-{Transcript.objects.count()}-",
                "rows": count * every,
            },
        )
        return sorted(pk for pk, ws in cursor.fetchall() if ws == workspace.pk)


def list_url(personas: Any, workspace: Workspace | None = None) -> str:
    return f"/api/v1/workspaces/{(workspace or personas.workspace).slug}/transcripts/"


def ids(page: dict[str, Any]) -> list[int]:
    return [row["id"] for row in page["results"]]


# --------------------------------------------------------------------------------------------------
# Keyset pages
# --------------------------------------------------------------------------------------------------


def test_pages_already_being_walked_do_not_shift_when_transcripts_arrive(personas):
    original = insert_transcripts(personas.workspace, 10)
    client = personas.client_for(personas.reviewer)
    page = client.get(list_url(personas), {"page_size": 3}).json()
    seen = ids(page)
    while page["next"]:
        # New transcripts land between every two requests; the walk neither repeats a row nor
        # skips one, and the new ones do not push older rows onto later pages.
        insert_transcripts(personas.workspace, 2)
        page = client.get(page["next"]).json()
        seen += ids(page)
    assert seen == sorted(original, reverse=True)


def test_previous_returns_the_page_before_even_after_inserts(personas):
    original = sorted(insert_transcripts(personas.workspace, 9), reverse=True)
    client = personas.client_for(personas.viewer)
    first = client.get(list_url(personas), {"page_size": 3}).json()
    second = client.get(first["next"]).json()
    assert first["previous"] is None and ids(second) == original[3:6]
    insert_transcripts(personas.workspace, 5)
    back = client.get(second["previous"]).json()
    assert ids(back) == original[:3]
    # Newer rows now precede that page: its own previous link leads to them.
    assert back["previous"] and len(ids(client.get(back["previous"]).json())) == 3


def test_a_client_jumps_to_any_depth_in_one_request(personas):
    mine = insert_transcripts(personas.workspace, 100)
    client = personas.client_for(personas.reviewer)
    first = client.get(list_url(personas), {"page_size": 5}).json()
    assert (first["total"], first["min_id"], first["max_id"]) == (100, mine[0], mine[-1])
    # 90 % of the way down a newest-first list: the rows just below the id aimed at.
    aim = first["max_id"] - (first["max_id"] - first["min_id"]) * 9 // 10
    deep = client.get(list_url(personas), {"page_size": 5, "after": aim}).json()
    expected = sorted((pk for pk in mine if pk < aim), reverse=True)[:5]
    assert ids(deep) == expected and deep["next"] and deep["previous"]
    # The total is not recounted while walking, but any page may ask for it.
    assert deep["total"] is None
    counted = client.get(list_url(personas), {"after": aim, "count": "true"}).json()
    assert counted["total"] == 100
    assert "count" not in (counted["next"] or "")


def test_the_total_is_kept_exact_through_imports_creates_deletes_and_rollbacks(personas, tmp_path):
    """The first page's total is a count kept per workspace (not recounted): it follows an import
    (whose COPY runs with the foreign-key triggers off), a single create, deletes, a rolled-back
    import, and never counts another workspace's rows."""
    from django.core.management import call_command
    from django.db import transaction

    from transcripts import selectors

    client = personas.client_for(personas.reviewer)

    def total(workspace: Workspace | None = None) -> int:
        return client.get(list_url(personas, workspace), {"page_size": 1}).json()["total"]

    insert_transcripts(personas.workspace, 4, every=2, other=personas.other_workspace)
    assert total() == 4
    path = tmp_path / "chats.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"Imported {n}?"},
                        {"role": "assistant", "content": "Yes."},
                    ]
                }
            )
            for n in range(7)
        )
        + "\n"
    )
    call_command("import_transcripts", str(path), "--workspace", personas.workspace.slug)
    assert total() == 11
    # Re-importing the same file creates nothing: duplicates are not counted twice.
    call_command("import_transcripts", str(path), "--workspace", personas.workspace.slug)
    assert total() == 11
    Transcript.objects.create(
        workspace=personas.workspace, messages=[], message_count=0, content_hash="one"
    )
    assert total() == 12
    with pytest.raises(RuntimeError), transaction.atomic():
        insert_transcripts(personas.workspace, 50)
        assert total() == 62  # the writer's own transaction sees its rows counted
        raise RuntimeError("roll back")
    assert total() == 12
    Transcript.objects.filter(workspace=personas.workspace, source="test").delete()
    assert total() == 8
    assert total() == Transcript.objects.filter(workspace=personas.workspace).count()
    other_client = personas.client_for(personas.outsider)
    other_url = list_url(personas, personas.other_workspace)
    assert other_client.get(other_url, {"page_size": 1}).json()["total"] == 4
    # Many small writes leave many parts of the count; a reader folds them into one.
    for _ in range(selectors.FOLD_COUNT_PARTS + 5):
        insert_transcripts(personas.workspace, 1)
    assert total() == 8 + selectors.FOLD_COUNT_PARTS + 5
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM transcripts_workspace_count WHERE workspace_id = %s",
            [personas.workspace.pk],
        )
        assert cursor.fetchone()[0] == 1
    assert total() == Transcript.objects.filter(workspace=personas.workspace).count()
    # A filtered list is counted as it is filtered.
    filtered = client.get(list_url(personas), {"q": "Imported", "page_size": 1}).json()
    assert filtered["total"] == 7


def test_the_last_page_has_no_next_and_an_id_past_the_end_gives_an_empty_page(personas):
    mine = insert_transcripts(personas.workspace, 5)
    client = personas.client_for(personas.reviewer)
    last = client.get(list_url(personas), {"after": mine[2]}).json()
    assert ids(last) == [mine[1], mine[0]] and last["next"] is None
    beyond = client.get(list_url(personas), {"after": mine[0]}).json()
    assert beyond["results"] == [] and beyond["next"] is None
    # Its previous page ends with the id it was asked after.
    assert ids(client.get(beyond["previous"]).json()) == sorted(mine, reverse=True)
    above = client.get(list_url(personas), {"before": mine[-1]}).json()
    assert above["results"] == [] and above["previous"] is None
    assert ids(client.get(above["next"]).json()) == sorted(mine, reverse=True)


def test_filters_are_kept_in_the_page_links(personas):
    insert_transcripts(personas.workspace, 6)
    client = personas.client_for(personas.reviewer)
    page = client.get(list_url(personas), {"q": "answer 1", "page_size": 1}).json()
    assert page["total"] == 1 and page["next"] is None
    page = client.get(list_url(personas), {"source": "test", "page_size": 4}).json()
    assert "source=test" in page["next"] and len(ids(client.get(page["next"]).json())) == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "abc"}, "after"),
        ({"before": "-3"}, "before"),
        ({"after": "²"}, "after"),
        ({"after": str(2**63)}, "after"),
        ({"after": "5", "before": "9"}, "before"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "٣"}, "page_size"),
        ({"count": "maybe"}, "count"),
        ({"include": "secrets"}, "include"),
    ],
)
def test_bad_page_parameters_are_a_400_naming_the_parameter(personas, params, field):
    response = personas.client_for(personas.reviewer).get(list_url(personas), params)
    assert response.status_code == 400
    assert field in json.dumps(response.json())


# --------------------------------------------------------------------------------------------------
# include=messages: scoping and rights
# --------------------------------------------------------------------------------------------------


def test_include_messages_carries_each_transcripts_messages_as_the_detail_does(personas):
    mine = insert_transcripts(personas.workspace, 4)
    client = personas.client_for(personas.viewer)  # the lowest role reads transcripts
    response = client.get(list_url(personas), {"include": "messages"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == sorted(mine, reverse=True)
    for row in rows:
        detail = client.get(f"{list_url(personas)}{row['id']}/").json()
        assert row["messages"] == detail["messages"] and len(row["messages"]) == 2
    plain = client.get(list_url(personas)).json()["results"]
    assert "messages" not in plain[0] and plain[0]["preview"].startswith("Question")


def test_list_rows_are_what_the_documented_serializers_say_field_for_field(personas):
    """The rows PostgreSQL builds are the schema's (TranscriptSummary, with messages on request),
    value for value: tags, an import, a tool call, text that is not ASCII, timestamps with and
    without a fraction of a second."""
    from datetime import UTC, datetime

    from rest_framework.renderers import JSONRenderer

    from transcripts import selectors
    from transcripts.api import TranscriptSummaryOutput, TranscriptWithMessagesOutput
    from transcripts.models import TranscriptImport

    run = TranscriptImport.objects.create(workspace=personas.workspace, filename="a.jsonl")
    common = {"workspace": personas.workspace, "message_count": 2}
    Transcript.objects.create(
        **common,
        messages=[
            {"role": "system", "content": 'Be "careful" <b>é</b> \u2028 ✓'},
            {"role": "user", "content": "Préview " + "x" * 300},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
        ],
        content_hash="h1",
        external_id="ext-1",
        source="src",
        model="m-1",
        tags=["a", "b c"],
        import_run=run,
        pair_key="p",
        variant="chosen",
        created_at=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),
    )
    Transcript.objects.create(
        **common,
        messages=[{"role": "assistant", "content": "no user message"}],
        content_hash="h2",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    client = personas.client_for(personas.reviewer)
    for include, serializer in ((True, TranscriptWithMessagesOutput), (False, None)):
        serializer = serializer or TranscriptSummaryOutput
        qs = selectors.transcript_list(personas.workspace, with_messages=include)
        expected = json.loads(JSONRenderer().render(serializer(qs, many=True).data))
        params = {"include": "messages"} if include else {}
        assert client.get(list_url(personas), params).json()["results"] == expected


def test_include_messages_never_shows_another_workspaces_transcripts(personas):
    # The two workspaces' ids interleave, and the other one's are also the newest.
    mine = insert_transcripts(personas.workspace, 30, every=3, other=personas.other_workspace)
    theirs = set(
        Transcript.objects.filter(workspace=personas.other_workspace).values_list("id", flat=True)
    )
    theirs |= set(insert_transcripts(personas.other_workspace, 20))
    client = personas.client_for(personas.reviewer)
    page = client.get(list_url(personas), {"include": "messages", "page_size": 7}).json()
    seen = ids(page)
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += ids(page)
    assert seen == sorted(mine, reverse=True)
    # Aiming at the other workspace's ids finds only this workspace's rows around them.
    for aim in sorted(theirs)[::10]:
        for key in ("after", "before"):
            jumped = client.get(list_url(personas), {"include": "messages", key: aim}).json()
            assert set(ids(jumped)) <= set(mine)
            assert all(row["messages"] for row in jumped["results"])


def test_include_messages_follows_the_lists_access_rules(personas):
    mine = insert_transcripts(personas.workspace, 3)
    params = {"include": "messages", "after": mine[-1] + 1}
    outsider = personas.client_for(personas.outsider)
    # Another workspace's member: 404 on this workspace's list, and their own list is theirs.
    assert outsider.get(list_url(personas), params).status_code == 404
    own = outsider.get(list_url(personas, personas.other_workspace), params).json()
    assert own["results"] == [] and own["total"] is None
    assert personas.client_for(personas.viewer).get(list_url(personas), params).status_code == 200
    anonymous = personas.client_for(personas.viewer)
    anonymous.logout()
    response = anonymous.get(list_url(personas), params)
    assert response.status_code in (401, 403) and "messages" not in response.content.decode()


# --------------------------------------------------------------------------------------------------
# The plan: the same cost at any depth, whatever the other workspaces hold
# --------------------------------------------------------------------------------------------------


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


def _page_plan(client: Any, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the page query the request ran (the one with the page's LIMIT)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    limit = f"LIMIT {params['page_size'] + 1}"
    (sql,) = [q["sql"] for q in queries.captured_queries if limit in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        raw = cursor.fetchone()[0]
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


@pytest.fixture
def crowded_table(personas) -> list[int]:
    """2,000 transcripts of the workspace among 32,000 of another's: interleaved with 20,000 of
    theirs, under 10,000 newer ones of theirs (a backward scan of the primary key would read
    those first)."""
    mine = insert_transcripts(personas.workspace, 2_000, every=11, other=personas.other_workspace)
    insert_transcripts(personas.other_workspace, 10_000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TABLE}")
    return mine


@pytest.mark.parametrize("depth", ["first page", "90 % deep", "last full page"])
def test_a_page_reads_only_its_rows_on_the_workspace_index(personas, crowded_table, depth):
    mine = crowded_table
    params: dict[str, Any] = {"include": "messages", "page_size": 100}
    if depth == "90 % deep":
        params["after"] = mine[len(mine) // 10]
    elif depth == "last full page":
        params["after"] = mine[100]
    plan = _page_plan(personas.client_for(personas.reviewer), list_url(personas), params)
    nodes = _nodes(plan)
    assert plan["Node Type"] == "Limit"
    assert not [n["Node Type"] for n in nodes if "Sort" in n["Node Type"]]
    scans = [n for n in nodes if n.get("Relation Name") == TABLE]
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [
        ("Index Scan", "transcript_workspace_id")
    ]
    (scan,) = scans
    # The index range starts at the page: no row before it, none of the other workspace's.
    assert scan["Actual Rows"] <= params["page_size"] + 1 and scan["Actual Loops"] == 1
    assert scan.get("Rows Removed by Filter", 0) == 0
    # Bounded by the whole index key: the range starts at the page (the first page: at the top).
    assert "ROW(workspace_id, id) <" in scan["Index Cond"]
    assert plan["Actual Rows"] == params["page_size"] + (0 if depth == "last full page" else 1)
