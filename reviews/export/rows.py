"""Gold rows for export, read in chunks of decisions with three batched look-ups per chunk.

An export walks the chosen gold by id in keyset chunks (``id > last ORDER BY id LIMIT n`` on
the ``decision_gold_by_id`` index: one range per chunk, no sort of the whole selection, no
OFFSET), and per chunk reads, in one query each, every submitted label of the chunk's (item,
clause) pairs, the agreeing reviewers of its agreed decisions, and its transcripts' messages
(as JSON text, decoded by orjson, several times faster than the driver's ``json.loads``).
Rows are then assembled from dicts: four queries per chunk whatever the chunk holds, memory one
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
import tomllib
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import islice
from typing import Any

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import Func, QuerySet, TextField
from django.db.models.functions import MD5, Cast

from clausebook.models import User
from reviews.models import DecisionKind, GoldDecision, Label, LabelSource
from transcripts.models import Transcript

CHUNK_SIZE = 2000


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
    last = 0
    while True:
        # Keyset, not a cursor over one sorted query: each chunk is one short range of the
        # (workspace, id) index, so nothing sorts 100k rows and no fetch waits on a spill.
        chunk = list(values.filter(id__gt=last).order_by("id")[:chunk_size])
        if not chunk:
            return
        yield chunk
        if len(chunk) < chunk_size:
            return
        last = chunk[-1]["id"]


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


def _labels_by_pair(
    chunk: list[dict[str, Any]], emails: bool
) -> dict[tuple[int, int], list[tuple[Any, ...]]]:
    """Every submitted label (human and judge) on the chunk's (item, clause) pairs, one query:
    humans first ("human" < "judge"), each by reviewer, judges by run, so the same labels always
    give the same line."""
    sql = _LABELS_SQL.format(
        label=Label._meta.db_table,
        submitted_at=_UTC_ISO_SQL.format("l.submitted_at"),
        email=", u.email" if emails else "",
        join=_user_join("l.reviewer_id") if emails else "",
    )
    rows = _fetch(
        sql, [_ids(row["item_id"] for row in chunk), _ids(row["clause_id"] for row in chunk)]
    )
    by_pair: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
    for label in rows:
        by_pair.setdefault((label[0], label[1]), []).append(label)
    return by_pair


def _agreeing_by_decision(
    chunk: list[dict[str, Any]], emails: bool
) -> dict[int, list[tuple[int, str | None]]]:
    ids = [row["id"] for row in chunk if row["kind"] == DecisionKind.AGREED]
    if not ids:
        return {}
    sql = _AGREEING_SQL.format(
        through=GoldDecision.agreeing_reviewers.through._meta.db_table,
        email=", u.email" if emails else ", NULL",
        join=_user_join("a.user_id") if emails else "",
    )
    by_decision: dict[int, list[tuple[int, str | None]]] = {}
    for decision_id, user_id, email in _fetch(sql, [_ids(ids)]):
        by_decision.setdefault(decision_id, []).append((user_id, email))
    return by_decision


def _transcripts(chunk: list[dict[str, Any]]) -> dict[int, tuple[str, str]]:
    """Messages as JSON text (decoded by orjson, not the driver) and the external id, per
    transcript of the chunk."""
    sql = _TRANSCRIPTS_SQL.format(transcript=Transcript._meta.db_table)
    ids = _ids({row["transcript_id"] for row in chunk})
    return {pk: (messages, external_id) for pk, messages, external_id in _fetch(sql, [ids])}


def _agreement(verdicts: list[str], gold: str) -> dict[str, Any]:
    n = len(verdicts)
    if not n:
        return {"labels": 0, "top_verdict": "", "top_share": None, "gold_share": None}
    counts: dict[str, int] = {}
    for verdict in verdicts:
        counts[verdict] = counts.get(verdict, 0) + 1
    # Ties go to the alphabetically first verdict, so the same labels always give the same row.
    top = min(counts, key=lambda verdict: (-counts[verdict], verdict))
    return {
        "labels": n,
        "top_verdict": top,
        "top_share": round(counts[top] / n, 6),
        "gold_share": round(counts.get(gold, 0) / n, 6),
    }


def _label(label: tuple[Any, ...], name: Pseudonyms) -> dict[str, Any]:
    _item, _clause, source, reviewer_id, judge_run_id, verdict, severity, rationale, at = label[:9]
    human = source == LabelSource.HUMAN
    return {
        "source": source,
        "reviewer": name(reviewer_id, label[9] if name.emails else None) if human else "",
        "judge_run": None if human else judge_run_id,
        "verdict": verdict,
        "severity": severity,
        "rationale": rationale,
        "submitted_at": at or "",
    }


def shape_chunk(
    chunk: list[dict[str, Any]], *, name: Pseudonyms, exported_at: str, version: str
) -> Iterator[dict[str, Any]]:
    """The gold rows (see ``reviews.export``) of one chunk of :func:`decision_chunks`, in the
    chunk's order: three queries (labels, agreeing reviewers, transcripts) for the chunk."""
    labels = _labels_by_pair(chunk, name.emails)
    agreeing = _agreeing_by_decision(chunk, name.emails)
    transcripts = _transcripts(chunk)
    loads = orjson.loads
    for values in chunk:
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
                [label[5] for label in pair_labels if label[2] == LabelSource.HUMAN],
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


def iter_gold_rows(
    decisions: QuerySet[GoldDecision],
    *,
    workspace_id: int,
    exported_at: str,
    emails: bool = False,
    for_pairs: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[dict[str, Any]]:
    """Stream ``decisions`` as gold rows, ``chunk_size`` decisions (four queries) at a time.

    Run it inside one REPEATABLE READ transaction (``gold_export_write`` does): the chunks are
    separate queries, and only one snapshot makes them, and the count, agree."""
    name = Pseudonyms(workspace_id, emails=emails)
    version = clausebook_version()
    for chunk in decision_chunks(
        decisions, emails=emails, for_pairs=for_pairs, chunk_size=chunk_size
    ):
        yield from shape_chunk(chunk, name=name, exported_at=exported_at, version=version)
