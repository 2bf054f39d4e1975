"""Composed reads for transcripts, imports and scenarios. Every query starts from the workspace.

Pages and the API read through these same functions, by way of :mod:`transcripts.access`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import F, Func, IntegerField, Q, QuerySet, TextField, Value
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404

from clausebook.models import Workspace
from transcripts.formats.limits import MAX_SOURCE, MAX_TAG
from transcripts.models import Scenario, ScenarioFlag, Transcript, TranscriptImport

#: Characters of a search query that are used (longer text cannot be in a preview anyway).
MAX_QUERY = 200


class FirstUserText(Func):
    """The first user message's content (cut to 240 characters): the list's preview column."""

    template = (
        "left(jsonb_path_query_first(%(expressions)s, "
        "'$[*] ? (@.role == \"user\").content') #>> '{}', 240)"
    )
    output_field = TextField()


@dataclass(frozen=True)
class TranscriptFilters:
    """What the transcript list and the API accept; anything else is ignored (T10)."""

    q: str = ""
    tag: str = ""
    source: str = ""
    import_id: int | None = None

    @classmethod
    def from_params(cls, params: Any) -> TranscriptFilters:
        raw_import = (params.get("import") or "").strip()
        if not raw_import.isascii():  # "²".isdigit() is true, and int() refuses it
            raw_import = ""
        return cls(
            q=(params.get("q") or "").strip()[:MAX_QUERY],
            tag=(params.get("tag") or "").strip()[:MAX_TAG],
            source=(params.get("source") or "").strip()[:MAX_SOURCE],
            import_id=int(raw_import) if raw_import.isdigit() else None,
        )

    @property
    def active(self) -> bool:
        return bool(self.q or self.tag or self.source or self.import_id)


def transcript_list(
    workspace: Workspace,
    filters: TranscriptFilters | None = None,
    *,
    with_messages: bool = False,
) -> QuerySet[Transcript]:
    """Transcripts of the workspace, newest first, with a preview and, if ``with_messages``, their
    messages (a list page then needs no detail request per row).

    Ordered by id; the API's pages are ranges of the ``(workspace, id)`` index (the list view
    names the workspace as the index prefix to :class:`~clausebook.pagination.KeysetPagination`).
    ``q`` searches message text and the external id (a case-insensitive
    substring match over the JSON text: a scan of the workspace's transcripts, fine at this scale
    and free of new indexes).
    """
    filters = filters or TranscriptFilters()
    qs = (
        Transcript.objects.in_workspace(workspace)
        .defer("metadata", *(() if with_messages else ("messages",)))
        .annotate(preview=FirstUserText(F("messages")))
        .order_by("-id")
    )
    if filters.tag:
        qs = qs.filter(tags__contains=[filters.tag])
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.import_id:
        qs = qs.filter(import_run_id=filters.import_id)
    if filters.q:
        qs = qs.annotate(_text=Cast("messages", TextField())).filter(
            _text__icontains=filters.q
        ) | qs.filter(external_id__icontains=filters.q)
    return qs


class UTCISOTimestamp(Func):
    """A timestamp as DRF writes one in UTC: ``2026-01-02T03:04:05.123456Z``, the fraction left
    out when it is zero (as Python's ``isoformat``)."""

    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        " || CASE WHEN date_trunc('second', %(expressions)s) = %(expressions)s"
        " THEN '' ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END || 'Z'"
    )
    output_field = TextField()


#: A list row's fields (``TranscriptSummaryOutput``'s, in its order) and what makes each.
_ROW_FIELDS: tuple[tuple[str, Any], ...] = (
    ("id", F("id")),
    ("external_id", F("external_id")),
    ("source", F("source")),
    ("model", F("model")),
    ("tags", F("tags")),
    ("message_count", F("message_count")),
    ("content_hash", F("content_hash")),
    ("pair_key", F("pair_key")),
    ("variant", F("variant")),
    ("origin", F("origin")),
    ("import_id", F("import_run_id")),
    ("preview", FirstUserText(F("messages"))),
    ("created_at", UTCISOTimestamp(F("created_at"))),
)


class TranscriptRowJSON(Func):
    """One list row as JSON text, built by PostgreSQL: a page of 100 transcripts with their
    messages is then no jsonb parsed into Python, no model per row, no serializer per field and
    no encoding again (together about two thirds of the request). The stored messages go out as
    stored: the import validated them."""

    function = "json_build_object"
    template = "%(function)s(%(expressions)s)::text"
    output_field = TextField()

    def __init__(self, *, with_messages: bool) -> None:
        fields = [*_ROW_FIELDS, *((("messages", F("messages")),) if with_messages else ())]
        super().__init__(*(part for name, value in fields for part in (Value(name), value)))


def transcript_rows_json(
    transcripts: QuerySet[Transcript], *, with_messages: bool
) -> QuerySet[Any]:
    """``transcripts`` (a :func:`transcript_list`, ordered and filtered as it is) as ``(pk,
    row_json)`` rows: what the API's list sends, keyset pages still bounded and ordered on the
    id. Only these two columns are selected (the list's ``preview`` annotation is not computed a
    second time beside the one in the JSON: a JSON path query per row is most of the page's
    cost in PostgreSQL)."""
    return transcripts.annotate(
        row_json=TranscriptRowJSON(with_messages=with_messages)
    ).values_list("pk", "row_json", named=True)


#: Appended to by triggers on the transcript table (migration 0002_workspace_counts): one part per writing
#: statement and workspace; a workspace's count is the sum of its parts.
_COUNTS = "transcripts_workspace_count"
#: Parts of one workspace's count beyond which a reader folds them into one (an import of 100k
#: rows leaves about 50), so reading the total stays one short index range.
FOLD_COUNT_PARTS = 64


def transcript_list_totals(workspace: Workspace) -> dict[str, int | None]:
    """The unfiltered list's ``total``, ``min_id`` and ``max_id`` in one query that costs the
    same whatever the workspace holds: the total from the count the triggers keep (exact, and
    within the reader's own transaction too), the ids from the two ends of the
    ``(workspace, id)`` index."""
    table = Transcript._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT c.total, c.parts,
                   (SELECT min(id) FROM {table} WHERE workspace_id = %(w)s),
                   (SELECT max(id) FROM {table} WHERE workspace_id = %(w)s)
            FROM (SELECT coalesce(sum(transcripts), 0), count(*) FROM {_COUNTS}
                  WHERE workspace_id = %(w)s) AS c (total, parts)
            """,  # noqa: S608 - table names are constants
            {"w": workspace.pk},
        )
        total, parts, min_id, max_id = cursor.fetchone()
        if parts > FOLD_COUNT_PARTS:
            # One statement: the parts it deletes are the committed ones it sums, so parts that
            # other transactions are still writing survive it, and two readers folding at once
            # cannot count a part twice (the second finds it deleted and skips it).
            cursor.execute(
                f"""
                WITH folded AS (DELETE FROM {_COUNTS} WHERE workspace_id = %(w)s
                                RETURNING transcripts)
                INSERT INTO {_COUNTS} (workspace_id, transcripts)
                SELECT %(w)s, sum(transcripts) FROM folded HAVING count(*) > 0
                """,  # noqa: S608 - the table name is a constant
                {"w": workspace.pk},
            )
    return {"total": int(total), "min_id": min_id, "max_id": max_id}


def transcript_sources(workspace: Workspace) -> list[str]:
    """Distinct sources, for the filter menu."""
    return list(
        Transcript.objects.in_workspace(workspace)
        .exclude(source="")
        .order_by("source")
        .values_list("source", flat=True)
        .distinct()[:100]
    )


def transcript_get(workspace: Workspace, transcript_id: int) -> Transcript:
    """One transcript of the workspace with its provenance loaded, or 404."""
    return get_object_or_404(
        Transcript.objects.in_workspace(workspace).select_related(
            "import_run", "origin_scenario", "origin_transcript"
        ),
        pk=transcript_id,
    )


def transcript_pair_siblings(transcript: Transcript) -> list[Transcript]:
    """The other side(s) of a chosen/rejected pair, from the same workspace."""
    if not transcript.pair_key:
        return []
    return list(
        Transcript.objects.in_workspace(transcript.workspace_id)  # type: ignore[arg-type]
        .filter(pair_key=transcript.pair_key)
        .exclude(pk=transcript.pk)
        .only("id", "variant", "external_id")
        .order_by("id")[:5]
    )


def import_list(workspace: Workspace) -> QuerySet[TranscriptImport]:
    return (
        TranscriptImport.objects.filter(workspace=workspace)
        .select_related("created_by")
        .defer("errors")
        .order_by("-id")
    )


def import_get(workspace: Workspace, import_id: int) -> TranscriptImport:
    return get_object_or_404(
        TranscriptImport.objects.filter(workspace=workspace).select_related("created_by"),
        pk=import_id,
    )


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------


class JsonbArrayLength(Func):
    function = "jsonb_array_length"
    output_field = IntegerField()


@dataclass(frozen=True)
class ScenarioFilters:
    """What the scenario list and the API accept (``source``, ``import``, ``q``); the rest is
    ignored (T10). An unknown source matches nothing rather than everything."""

    source: str = ""
    import_id: int | None = None
    q: str = ""

    @classmethod
    def from_params(cls, params: Any) -> ScenarioFilters:
        raw_import = (params.get("import") or "").strip()
        return cls(
            source=(params.get("source") or "").strip()[:20],
            import_id=int(raw_import) if raw_import.isdigit() else None,
            q=(params.get("q") or "").strip()[:MAX_QUERY],
        )

    @property
    def active(self) -> bool:
        return bool(self.source or self.import_id or self.q)


def scenario_list(
    workspace: Workspace, filters: ScenarioFilters | None = None
) -> QuerySet[Scenario]:
    """Scenarios of the workspace, newest first, without their messages (a count instead)."""
    filters = filters or ScenarioFilters()
    qs = (
        Scenario.objects.filter(workspace=workspace)
        .defer("messages", "metadata")
        .annotate(message_count=JsonbArrayLength(F("messages")))
        .order_by("-id")
    )
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.import_id:
        qs = qs.filter(import_run_id=filters.import_id)
    if filters.q:
        qs = qs.filter(Q(title__icontains=filters.q) | Q(external_id__icontains=filters.q))
    return qs


def scenario_get(workspace: Workspace, scenario_id: int) -> Scenario:
    """One scenario of the workspace with what it came from loaded (spec clause, import,
    transcript), or 404."""
    return get_object_or_404(
        Scenario.objects.filter(workspace=workspace).select_related(
            "import_run",
            "eval_prompt__clause__version__spec",
            "example__clause__version__spec",
        ),
        pk=scenario_id,
    )


def scenario_reruns(scenario: Scenario, limit: int = 20) -> list[Transcript]:
    """The newest transcripts re-run from the scenario (without their messages)."""
    return list(
        Transcript.objects.in_workspace(scenario.workspace_id)  # type: ignore[arg-type]
        .filter(origin_scenario=scenario)
        .only("id", "model", "created_at")
        .order_by("-id")[:limit]
    )


def scenario_flags(scenario: Scenario, limit: int = 20) -> list[ScenarioFlag]:
    """Who asked for the scenario to be re-run and why, newest first."""
    return list(
        ScenarioFlag.objects.filter(scenario=scenario)
        .select_related("flagged_by", "clause__version__spec")
        .order_by("-id")[:limit]
    )
