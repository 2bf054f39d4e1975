"""Gold rows for export, read in chunks of decisions with three batched look-ups per chunk.

An export walks the chosen gold by id in keyset chunks (``id > last ORDER BY id LIMIT n`` on
the ``decision_gold_by_id`` index: one range per chunk, no sort of the whole selection, no
OFFSET), and per chunk reads, in one query each, every submitted label of the chunk's (item,
clause) pairs, the agreeing reviewers of its agreed decisions, and its transcripts' messages
(as JSON text, decoded by orjson, several times faster than the driver's ``json.loads``, or
for JSONL not decoded at all). Rows are then assembled from dicts: four queries per chunk
whatever the chunk holds, memory a few chunks. In an export's own repeatable-read transaction
the reads run one chunk ahead on two more connections sharing its snapshot
(``pg_export_snapshot``), so the database works while Python shapes and writes the previous
chunk. Preference pairs need their rows grouped by prompt instead of by id: the same chunks
come from one server-side cursor in that order.

Labels carry their source: a reviewer's (``source: "human"``, the reviewer's pseudonym) or a
model judge's (``source: "judge"``, its ``judge_run`` id and no reviewer: a judge is never named
like a person). The row's ``agreement`` counts human labels only, as the agreement report does.

People are named by a stable pseudonym: an HMAC of the workspace and user ids under the site's
``SECRET_KEY`` (so it cannot be reversed or guessed without the key, and the same person is the
same pseudonym in every export of the workspace), or by email when an admin asked for emails.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import threading
import tomllib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import islice
from typing import Any

import orjson
import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Func, QuerySet, TextField
from django.db.models.functions import MD5, Cast
from psycopg import sql as pg_sql

from clausebook.models import User
from reviews.models import DecisionKind, GoldDecision, Label, LabelSource
from transcripts.models import Transcript

CHUNK_SIZE = 2000

logger = logging.getLogger(__name__)


@cache
def clausebook_version() -> str:
    """The version in ``pyproject.toml`` (the package is not installed as a distribution)."""
    try:
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


class Pseudonyms:
    """``reviewer-<12 hex>`` per user, stable within a workspace, or the email when asked."""

    def __init__(self, workspace_id: int, *, emails: bool = False) -> None:
        self.workspace_id = workspace_id
        self.emails = emails
        self._key = hashlib.sha256(
            b"clausebook.gold-export.pseudonym:" + settings.SECRET_KEY.encode()
        ).digest()
        self._known: dict[int, str] = {}

    def __call__(self, user_id: int | None, email: str | None = None) -> str:
        if user_id is None:
            return ""
        if self.emails and email:
            return email
        name = self._known.get(user_id)
        if name is None:
            digest = hmac.new(
                self._key, f"{self.workspace_id}:{user_id}".encode(), hashlib.sha256
            ).hexdigest()
            name = self._known[user_id] = f"reviewer-{digest[:12]}"
        return name


class UtcIso(Func):
    """A timestamp as ISO 8601 text in UTC with microseconds, made by the server: parsing 300k
    timestamps into datetimes only to print them again is a measurable share of an export."""

    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
    )
    output_field = TextField()


_UTC_ISO_SQL = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"


class _JsonbWithoutLast(Func):
    """``messages - -1``: the conversation without its last message (the prompt)."""

    template = "(%(expressions)s - -1)"
    output_field = TextField()


_DECISION_FIELDS = (
    "id",
    "kind",
    "verdict",
    "severity",
    "rationale",
    "rule",
    "decided_at_text",
    "decided_by_id",
    "campaign_id",
    "campaign__title",
    "item_id",
    "clause_id",
    "transcript_id",
    "clause__key",
    "spec_version__label",
    "spec_version__spec__slug",
)


def _decision_values(decisions: QuerySet[GoldDecision], emails: bool) -> QuerySet[Any]:
    fields = (*_DECISION_FIELDS, "decided_by__email") if emails else _DECISION_FIELDS
    return decisions.order_by().annotate(decided_at_text=UtcIso("decided_at")).values(*fields)


Fetch = Callable[[str, list[Any]], list[tuple[Any, ...]]]
#: Stands for the keyset's last id while the chunk query is compiled (ids are positive).
_LAST_ID = -7_230_519_864


def _keyset_query(values: QuerySet[Any], chunk_size: int) -> tuple[str, list[Any], int, list[str]]:
    """The chunk query as SQL once, with the index of its last-id parameter and its column
    names: each chunk then only swaps that parameter, and rows skip the ORM's per-row work
    (a measurable share of an export), on whichever connection runs it."""
    query = values.filter(id__gt=_LAST_ID).order_by("id")[:chunk_size].query
    sql, params = query.sql_with_params()
    params = list(params)
    at = [n for n, param in enumerate(params) if param == _LAST_ID]
    if len(at) != 1:  # pragma: no cover - a guard against a filter ever taking that value
        raise RuntimeError("the gold chunk query could not be prepared")
    # The SELECT lists the values in the order they were named (annotations included).
    names = list(query.selected or ())
    return sql, params, at[0], names


def _keyset_chunks(
    values: QuerySet[Any], chunk_size: int, fetch: Fetch
) -> Iterator[list[dict[str, Any]]]:
    # Keyset, not a cursor over one sorted query: each chunk is one short range of the
    # (workspace, id) index, so nothing sorts 100k rows and no fetch waits on a spill.
    sql, params, at, names = _keyset_query(values, chunk_size)
    last = 0
    while True:
        params[at] = last
        chunk = [dict(zip(names, row, strict=True)) for row in fetch(sql, params)]
        if not chunk:
            return
        yield chunk
        if len(chunk) < chunk_size:
            return
        last = chunk[-1]["id"]


def decision_chunks(
    decisions: QuerySet[GoldDecision],
    *,
    emails: bool = False,
    for_pairs: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """``decisions`` (gold of one workspace, filtered) as lists of at most ``chunk_size`` value
    dicts: by id, or for preference pairs by (clause, spec version, prompt, id)."""
    values = _decision_values(decisions, emails)
    if for_pairs:
        ordered = values.annotate(
            prompt_key=MD5(Cast(_JsonbWithoutLast("transcript__messages"), TextField()))
        ).order_by("clause__key", "spec_version_id", "prompt_key", "id")
        stream = ordered.iterator(chunk_size=chunk_size)
        while chunk := list(islice(stream, chunk_size)):
            yield chunk
        return
    yield from _keyset_chunks(values, chunk_size, _fetch)


# The three per-chunk reads are plain SQL with the chunk's ids as one text parameter each, split
# into an array by the server (``string_to_array``): an ORM ``IN`` list of 2,000 placeholders, or
# a list the driver quotes element by element, costs more to build than the query takes to run.
# Table names come from the models; every value is a parameter (ids are ints we read ourselves).
_LABELS_SQL = """
    SELECT l.item_id, l.clause_id, l.source, l.reviewer_id, l.judge_run_id, l.verdict,
           l.severity, l.rationale, {submitted_at}{email}
    FROM unnest(string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::bigint[])
        AS pair(item_id, clause_id)
    JOIN {label} l ON l.item_id = pair.item_id AND l.clause_id = pair.clause_id
    {join}
    WHERE l.status = 'submitted'
    ORDER BY l.item_id, l.clause_id, l.source, l.reviewer_id, l.judge_run_id
"""
_AGREEING_SQL = """
    SELECT a.golddecision_id, a.user_id{email}
    FROM {through} a {join}
    WHERE a.golddecision_id = ANY(string_to_array(%s, ',')::bigint[])
    ORDER BY a.golddecision_id, a.user_id
"""
_TRANSCRIPTS_SQL = (
    "SELECT id, messages::text, external_id FROM {transcript} "
    "WHERE id = ANY(string_to_array(%s, ',')::bigint[])"
)


def _ids(values: Iterable[int]) -> str:
    return ",".join(map(str, values))


def _user_join(column: str) -> str:
    return f"LEFT JOIN {User._meta.db_table} u ON u.id = {column}"


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _labels_sql(emails: bool) -> str:
    return _LABELS_SQL.format(
        label=Label._meta.db_table,
        submitted_at=_UTC_ISO_SQL.format("l.submitted_at"),
        email=", u.email" if emails else "",
        join=_user_join("l.reviewer_id") if emails else "",
    )


def _agreeing_sql(emails: bool) -> str:
    return _AGREEING_SQL.format(
        through=GoldDecision.agreeing_reviewers.through._meta.db_table,
        email=", u.email" if emails else ", NULL",
        join=_user_join("a.user_id") if emails else "",
    )


def _by_pair(rows: list[tuple[Any, ...]]) -> dict[tuple[int, int], list[tuple[Any, ...]]]:
    by_pair: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
    for label in rows:
        by_pair.setdefault((label[0], label[1]), []).append(label)
    return by_pair


def _by_decision(rows: list[tuple[Any, ...]]) -> dict[int, list[tuple[int, str | None]]]:
    by_decision: dict[int, list[tuple[int, str | None]]] = {}
    for decision_id, user_id, email in rows:
        by_decision.setdefault(decision_id, []).append((user_id, email))
    return by_decision


def _labels_by_pair(
    chunk: list[dict[str, Any]], emails: bool, fetch: Fetch = _fetch
) -> dict[tuple[int, int], list[tuple[Any, ...]]]:
    """Every submitted label (human and judge) on the chunk's (item, clause) pairs, one query:
    humans first ("human" < "judge"), each by reviewer, judges by run, so the same labels always
    give the same line."""
    items, clauses = _ids(row["item_id"] for row in chunk), _ids(row["clause_id"] for row in chunk)
    return _by_pair(fetch(_labels_sql(emails), [items, clauses]))


def _agreeing_by_decision(
    chunk: list[dict[str, Any]], emails: bool, fetch: Fetch = _fetch
) -> dict[int, list[tuple[int, str | None]]]:
    ids = [row["id"] for row in chunk if row["kind"] == DecisionKind.AGREED]
    return _by_decision(fetch(_agreeing_sql(emails), [_ids(ids)])) if ids else {}


def _transcripts(chunk: list[dict[str, Any]], fetch: Fetch = _fetch) -> dict[int, tuple[str, str]]:
    """Messages as JSON text (decoded by orjson, not the driver) and the external id, per
    transcript of the chunk."""
    sql = _TRANSCRIPTS_SQL.format(transcript=Transcript._meta.db_table)
    ids = _ids({row["transcript_id"] for row in chunk})
    return {pk: (messages, external_id) for pk, messages, external_id in fetch(sql, [ids])}


@lru_cache(maxsize=4096)
def _agreement_of(verdicts: tuple[str, ...], gold: str) -> tuple[int, str, Any, Any]:
    # Cached: an export repeats a handful of verdict combinations 100,000 times.
    n = len(verdicts)
    if not n:
        return 0, "", None, None
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict] = counts.get(verdict, 0) + 1
    # Ties go to the alphabetically first verdict, so the same labels always give the same row.
    top = min(counts, key=lambda verdict: (-counts[verdict], verdict))
    return n, top, round(counts[top] / n, 6), round(counts.get(gold, 0) / n, 6)


def _agreement(verdicts: list[str], gold: str) -> dict[str, Any]:
    n, top, top_share, gold_share = _agreement_of(tuple(verdicts), gold)
    return {"labels": n, "top_verdict": top, "top_share": top_share, "gold_share": gold_share}


_HUMAN = str(LabelSource.HUMAN)


def _label(label: tuple[Any, ...], name: Pseudonyms) -> dict[str, Any]:
    _item, _clause, source, reviewer_id, judge_run_id, verdict, severity, rationale, at = label[:9]
    human = source == _HUMAN
    return {
        "source": source,
        "reviewer": name(reviewer_id, label[9] if name.emails else None) if human else "",
        "judge_run": None if human else judge_run_id,
        "verdict": verdict,
        "severity": severity,
        "rationale": rationale,
        "submitted_at": at or "",
    }


@dataclass(frozen=True, slots=True)
class _Loaded:
    """One chunk of decision values and what its rows need from the database."""

    chunk: list[dict[str, Any]]
    labels: dict[tuple[int, int], list[tuple[Any, ...]]]
    agreeing: dict[int, list[tuple[int, str | None]]]
    transcripts: dict[int, tuple[str, str]]


def _load(chunk: list[dict[str, Any]], emails: bool, fetch: Fetch = _fetch) -> _Loaded:
    return _Loaded(
        chunk,
        _labels_by_pair(chunk, emails, fetch),
        _agreeing_by_decision(chunk, emails, fetch),
        _transcripts(chunk, fetch),
    )


def shape_chunk(
    chunk: list[dict[str, Any]], *, name: Pseudonyms, exported_at: str, version: str
) -> Iterator[dict[str, Any]]:
    """The gold rows (see ``reviews.export``) of one chunk of :func:`decision_chunks`, in the
    chunk's order: three queries (labels, agreeing reviewers, transcripts) for the chunk."""
    return _shape(_load(chunk, name.emails), name=name, exported_at=exported_at, version=version)


def _shape(
    loaded: _Loaded, *, name: Pseudonyms, exported_at: str, version: str, raw_messages: bool = False
) -> Iterator[dict[str, Any]]:
    labels, agreeing, transcripts = loaded.labels, loaded.agreeing, loaded.transcripts
    # For JSONL the stored JSON text goes into the line as it is (orjson embeds a Fragment
    # unparsed): decoding 100k conversations only to encode them again is a tenth of an export.
    loads = orjson.Fragment if raw_messages else orjson.loads
    for values in loaded.chunk:
        pair_labels = labels.get((values["item_id"], values["clause_id"]), [])
        messages, external_id = transcripts[values["transcript_id"]]
        yield {
            "messages": loads(messages),
            "clause": values["clause__key"],
            "spec": values["spec_version__spec__slug"],
            "spec_version": values["spec_version__label"],
            "verdict": values["verdict"],
            "severity": values["severity"],
            "rationale": values["rationale"],
            "decided_how": values["kind"],
            "decided_by": name(values["decided_by_id"], values.get("decided_by__email")),
            "agreeing_reviewers": [name(*person) for person in agreeing.get(values["id"], ())],
            "rule": values["rule"],
            "labels": [_label(label, name) for label in pair_labels],
            "agreement": _agreement(
                [label[5] for label in pair_labels if label[2] == _HUMAN],
                values["verdict"],
            ),
            "provenance": {
                "campaign_id": values["campaign_id"],
                "campaign_title": values["campaign__title"],
                "item_id": values["item_id"],
                "transcript_id": values["transcript_id"],
                "transcript_external_id": external_id,
                "decision_id": values["id"],
                "decided_at": values["decided_at_text"] or "",
                "exported_at": exported_at,
                "clausebook_version": version,
            },
        }


def _snapshot() -> str | None:
    """An exported snapshot of this connection's transaction, if a second connection importing it
    sees exactly what this one does: a repeatable-read transaction that has written nothing (a
    caller's transaction with writes of its own, as in tests, keeps the export on its
    connection)."""
    if not connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('transaction_isolation'), "
            "pg_current_xact_id_if_assigned() IS NULL"
        )
        isolation, unwritten = cursor.fetchone()
        if isolation not in ("repeatable read", "serializable") or not unwritten:
            return None
        cursor.execute("SELECT pg_export_snapshot()")
        return str(cursor.fetchone()[0])


_DONE = object()


def _join_snapshot(db: Any, snapshot: str) -> Fetch:
    """Put the connection ``db`` in a read-only transaction on ``snapshot``; its fetch."""
    db.autocommit = True
    db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    db.execute(pg_sql.SQL("SET TRANSACTION SNAPSHOT {}").format(pg_sql.Literal(snapshot)))
    db.execute(pg_sql.SQL("SET TIME ZONE {}").format(pg_sql.Literal(connection.timezone_name)))

    def fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    return fetch


def _reading_connections(snapshot: str) -> list[tuple[Any, Fetch]] | None:
    """Two connections in ``snapshot`` with their fetches, or None if the server refuses them
    (no connection slot left, a pooler that cannot import snapshots): the export then reads on
    its own connection, slower but the same."""
    dbs: list[Any] = []
    try:
        for _ in range(2):
            # Django's own parameters (adapters, cursor class), not ``get_new_connection``:
            # that would reset the wrapper's isolation level, or lend a pooled connection.
            dbs.append(psycopg.connect(**connection.get_connection_params()))
        return [(db, _join_snapshot(db, snapshot)) for db in dbs]
    except psycopg.Error:
        logger.warning("gold export: no read-ahead connection, reading on one", exc_info=True)
        for db in dbs:
            db.close()
        return None


def _loaded_here(
    decisions: QuerySet[GoldDecision], emails: bool, for_pairs: bool, chunk_size: int
) -> Iterator[_Loaded]:
    for chunk in decision_chunks(
        decisions, emails=emails, for_pairs=for_pairs, chunk_size=chunk_size
    ):
        yield _load(chunk, emails)


def _prefetched(
    snapshot: str, decisions: QuerySet[GoldDecision], emails: bool, chunk_size: int
) -> Iterator[_Loaded]:
    """The loaded chunks, read one ahead by a thread on two more connections in the same
    snapshot: the database reads chunk N+1 while this thread shapes and writes chunk N, so an
    export takes about the longer of the two rather than their sum; and a chunk's messages (the
    largest read) come on the second of them while the first reads its labels. At most two
    chunks wait (one queued, one being read): memory stays flat."""
    # Compiled here: building SQL needs this thread's Django connection.
    sql, args, at, names = _keyset_query(_decision_values(decisions, emails), chunk_size)
    opened = _reading_connections(snapshot)
    if opened is None:
        yield from _loaded_here(decisions, emails, False, chunk_size)
        return
    (_, fetch), (_, fetch_messages) = opened
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    id_at, kind_at, item_at, clause_at, transcript_at = (
        names.index(name) for name in ("id", "kind", "item_id", "clause_id", "transcript_id")
    )
    labels_sql, agreeing_sql = _labels_sql(emails), _agreeing_sql(emails)
    transcripts_sql = _TRANSCRIPTS_SQL.format(transcript=Transcript._meta.db_table)

    def read() -> None:
        # Only the reads here: their rows become dicts in the exporting thread, which would
        # otherwise wait, not in this one, which the export waits for.
        try:
            last = 0
            with ThreadPoolExecutor(1, thread_name_prefix="gold-export-prefetch") as reader:
                while not stop.is_set():
                    args[at] = last
                    rows = fetch(sql, args)
                    if not rows:
                        break
                    transcripts = reader.submit(
                        fetch_messages,
                        transcripts_sql,
                        [_ids({row[transcript_at] for row in rows})],
                    )
                    labels = fetch(
                        labels_sql,
                        [_ids(row[item_at] for row in rows), _ids(row[clause_at] for row in rows)],
                    )
                    agreed = _ids(row[id_at] for row in rows if row[kind_at] == DecisionKind.AGREED)
                    agreeing = fetch(agreeing_sql, [agreed]) if agreed else []
                    if not hand_over((rows, labels, agreeing, transcripts.result())):
                        break
                    if len(rows) < chunk_size:
                        break
                    last = rows[-1][id_at]
            hand_over(_DONE)
        except BaseException as error:  # noqa: BLE001 - raised again in the exporting thread
            hand_over(error)

    worker = threading.Thread(target=read, name="gold-export-prefetch", daemon=True)
    try:
        worker.start()
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            rows, labels, agreeing, transcripts = item
            yield _Loaded(
                [dict(zip(names, row, strict=True)) for row in rows],
                _by_pair(labels),
                _by_decision(agreeing),
                {pk: (messages, external_id) for pk, messages, external_id in transcripts},
            )
    finally:
        stop.set()
        if worker.is_alive():
            worker.join()
        for db, _ in opened:
            db.close()


def iter_gold_rows(
    decisions: QuerySet[GoldDecision],
    *,
    workspace_id: int,
    exported_at: str,
    emails: bool = False,
    for_pairs: bool = False,
    chunk_size: int = CHUNK_SIZE,
    prefetch: bool = True,
    raw_messages: bool = False,
) -> Iterator[dict[str, Any]]:
    """Stream ``decisions`` as gold rows, ``chunk_size`` decisions (four queries) at a time.

    Run it inside one REPEATABLE READ transaction (``gold_export_write`` does): the chunks are
    separate queries, and only one snapshot makes them, and the count, agree. There, unless
    ``prefetch`` is false, the rows in id order are read one chunk ahead on two more connections
    importing that snapshot (:func:`_prefetched`). With ``raw_messages`` a row's ``messages`` is
    the stored JSON text as an ``orjson.Fragment`` (for the JSONL writer, which embeds it; the
    other writers need the values)."""
    name = Pseudonyms(workspace_id, emails=emails)
    version = clausebook_version()
    snapshot = _snapshot() if prefetch and not for_pairs else None
    if snapshot is not None:
        loaded = _prefetched(snapshot, decisions, emails, chunk_size)
    else:
        loaded = _loaded_here(decisions, emails, for_pairs, chunk_size)
    for chunk in loaded:
        yield from _shape(
            chunk, name=name, exported_at=exported_at, version=version, raw_messages=raw_messages
        )
