"""Composed reads over specs, versions, clauses: pages, history, search, diffs and exports.

Every function takes objects already resolved through ``specs.access`` (or the workspace
itself), so no read escapes the tenant; pages and the API call the same functions. Query counts
are fixed per page; see the comments. Nothing here builds HTML: that is ``specs.presenters``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import (
    Count,
    F,
    Prefetch,
    QuerySet,
    TextField,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import MD5, Concat

from clausebook.models import Workspace
from specs.diffing import ClauseSnapshot, SpecDiff, diff_versions
from specs.models import Clause, ClauseAlias, EvalPrompt, Example, Spec, SpecVersion
from specs.plaintext import clause_text
from specs.search_syntax import tsquery_text
from specs.spec_markdown import (
    Candidate,
    Message,
    ParsedClause,
    ParsedExample,
    ParsedSpec,
    Turn,
)


def specs_in(workspace: Workspace) -> QuerySet[Spec]:
    return Spec.objects.filter(workspace=workspace).order_by("title")


def specs_with_latest(workspace: Workspace) -> list[Spec]:
    """Specs of a workspace with their versions, newest label first."""
    versions = SpecVersion.objects.order_by("-label")
    return list(specs_in(workspace).prefetch_related(Prefetch("versions", queryset=versions)))


def versions_of(spec: Spec) -> list[SpecVersion]:
    """All versions of a spec, newest label first (labels are dates in the reference spec)."""
    versions = list(SpecVersion.objects.filter(spec=spec).order_by("-label"))
    for version in versions:
        version.spec = spec  # pages build links from it: no query per version
    return versions


def aliases_of(spec: Spec) -> QuerySet[ClauseAlias]:
    """Every rename decision of the spec, confirmed or rejected."""
    return ClauseAlias.objects.filter(spec=spec).order_by("old_key", "new_key")


def clause_list(
    version: SpecVersion, *, authority: str = "", tag: str = "", query: str = ""
) -> QuerySet[Clause]:
    """Clauses of the version in document order (with their parent), optionally only those of
    one authority level, carrying one tag, or matching ``query`` (the search box's syntax)."""
    clauses = Clause.objects.filter(version=version).select_related("parent").order_by("position")
    if authority:
        clauses = clauses.filter(authority=authority)
    if tag:
        clauses = clauses.filter(tags__contains=[tag])
    search = search_query(query)
    if search is not None:
        clauses = clauses.filter(search_vector=search)
    return clauses


def clause_with_content(clause: Clause) -> Clause:
    """Load the clause's examples and eval prompts (two queries; ``clause.examples.all()`` and
    ``clause.eval_prompts.all()`` then read the cache, in model order)."""
    prefetch_related_objects([clause], "examples", "eval_prompts")
    return clause


# --------------------------------------------------------------------------------------------
# Table of contents and clause pages


@dataclass(frozen=True)
class TocEntry:
    id: int
    key: str
    title: str
    level: int
    parent_id: int | None
    authority: str
    tags: list[str]
    example_count: int = 0
    eval_prompt_count: int = 0


def version_toc(version: SpecVersion, *, with_counts: bool = False) -> list[TocEntry]:
    """Every clause of the version in document order, without bodies: one query; with
    ``with_counts``, each clause's examples and eval prompts are counted in that query too."""
    rows = Clause.objects.filter(version=version).order_by("position")
    fields = ["id", "key", "title", "level", "parent_id", "authority", "tags"]
    if with_counts:
        rows = rows.annotate(
            n_examples=Count("examples", distinct=True),
            n_eval_prompts=Count("eval_prompts", distinct=True),
        )
        fields += ["n_examples", "n_eval_prompts"]
    return [TocEntry(*row) for row in rows.values_list(*fields)]


@dataclass
class HistoryEntry:
    version: SpecVersion
    key: str | None
    title: str
    present: bool
    changed: bool  # differs from the previous version that had the clause
    current: bool

    @property
    def status(self) -> str:
        """absent, added (first version with it), changed or unchanged."""
        if not self.present:
            return "absent"
        return "changed" if self.changed else ("added" if self.first else "unchanged")

    first: bool = False


@dataclass
class ClausePage:
    version: SpecVersion
    versions: list[SpecVersion]
    toc: list[TocEntry]
    clause: Clause
    examples: list[Example]
    eval_prompts: list[EvalPrompt]
    history: list[HistoryEntry]
    titles: dict[str, str] = field(default_factory=dict)  # key -> title, for cross-references


def confirmed_aliases(spec: Spec) -> list[tuple[str, str]]:
    return list(
        ClauseAlias.objects.filter(spec=spec, status=ClauseAlias.Status.CONFIRMED).values_list(
            "old_key", "new_key"
        )
    )


def rejected_renames(spec: Spec) -> set[tuple[str, str]]:
    return set(
        ClauseAlias.objects.filter(spec=spec, status=ClauseAlias.Status.REJECTED).values_list(
            "old_key", "new_key"
        )
    )


def alias_closure(key: str, aliases: list[tuple[str, str]]) -> set[str]:
    """All keys joined to ``key`` through confirmed renames, in either direction."""
    neighbours: dict[str, set[str]] = {}
    for old, new in aliases:
        neighbours.setdefault(old, set()).add(new)
        neighbours.setdefault(new, set()).add(old)
    found = {key}
    pending = [key]
    while pending:
        for other in neighbours.get(pending.pop(), ()):
            if other not in found:
                found.add(other)
                pending.append(other)
    return found


def clause_history(
    spec: Spec, key: str, versions: list[SpecVersion], current: SpecVersion
) -> list[HistoryEntry]:
    """The clause (by key and confirmed alias keys) in every version of the spec, oldest first.

    Two queries: the aliases and the clauses. ``changed`` compares a digest of title, authority,
    tags and body with the previous version that had the clause.
    """
    keys = alias_closure(key, confirmed_aliases(spec))
    rows = (
        Clause.objects.filter(version__spec=spec, key__in=keys)
        .annotate(
            digest=MD5(
                Concat(
                    "title",
                    Value("\x1f"),
                    "authority",
                    Value("\x1f"),
                    "body",
                    output_field=TextField(),
                )
            )
        )
        .values_list("version_id", "key", "title", "digest", "tags")
    )
    by_version: dict[int, tuple[str, str, str]] = {}
    for version_id, row_key, title, digest, tags in rows:
        # If two aliased keys coexist in one version, the page's own key wins.
        if version_id not in by_version or row_key == key:
            by_version[version_id] = (row_key, title, f"{digest}:{','.join(sorted(tags))}")
    history: list[HistoryEntry] = []
    previous_digest: str | None = None
    for version in sorted(versions, key=lambda v: v.label):
        found = by_version.get(version.pk)
        if found is None:
            history.append(HistoryEntry(version, None, "", False, False, version == current))
            continue
        row_key, title, digest = found
        changed = previous_digest is not None and digest != previous_digest
        history.append(
            HistoryEntry(
                version,
                row_key,
                title,
                True,
                changed,
                version == current,
                first=previous_digest is None,
            )
        )
        previous_digest = digest
    return history


def clause_page(clause: Clause) -> ClausePage:
    """Everything the clause page shows about a clause resolved by ``access.clause_for``, in a
    fixed number of queries whatever the clause: versions, TOC, its examples, its eval prompts,
    aliases and history (6)."""
    version = clause.version
    versions = versions_of(version.spec)
    toc = version_toc(version)
    clause_with_content(clause)
    return ClausePage(
        version=version,
        versions=versions,
        toc=toc,
        clause=clause,
        examples=list(clause.examples.all()),
        eval_prompts=list(clause.eval_prompts.all()),
        history=clause_history(version.spec, clause.key, versions, version),
        titles={entry.key: entry.title for entry in toc},
    )


# --------------------------------------------------------------------------------------------
# Search

# ts_headline marks matches with these control characters; presenters.highlighted() escapes
# the text and turns them into <mark> tags.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_STOP = "\x03"


def search_query(q: str) -> SearchQuery | None:
    """The reader's words as a full-text query (prefix matching, web-search syntax; see
    ``specs.search_syntax``), or None when they hold nothing to search for."""
    text = tsquery_text(q)
    if not text:
        return None
    # "raw": to_tsquery over text built from letters and digits only, never the user's string.
    return SearchQuery(text, search_type="raw", config="english")


@dataclass
class SearchHit:
    """One result: a clause, or an example, found in one or more versions.

    Searching every version groups the same clause (by key, or keys joined by a confirmed
    rename) and the same example (same clause, same title) into one hit; ``versions`` lists the
    labels it was found in, newest first, and ``version_label`` is the one shown (the newest).
    ``title`` and ``headline`` are plain text with matched terms between HIGHLIGHT_START and
    HIGHLIGHT_STOP."""

    kind: str  # "clause" or "example"
    version_label: str
    clause_key: str
    clause_title: str
    title: str
    headline: str
    rank: float
    authority: str = ""
    example_position: int | None = None
    versions: list[tuple[str, str]] = field(default_factory=list)  # (label, clause key there)


def _title_headline(expression: object, query: SearchQuery) -> SearchHeadline:
    """The whole (short) title with its matches marked."""
    return SearchHeadline(
        expression,
        query,
        config="english",
        start_sel=HIGHLIGHT_START,
        stop_sel=HIGHLIGHT_STOP,
        highlight_all=True,
    )


def _headline(expression: object, query: SearchQuery) -> SearchHeadline:
    return SearchHeadline(
        expression,
        query,
        config="english",
        start_sel=HIGHLIGHT_START,
        stop_sel=HIGHLIGHT_STOP,
        max_words=30,
        min_words=12,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


@dataclass
class _Group:
    rank: float
    shown_id: int  # the row whose title and snippet are shown: the newest version's
    shown_label: str
    versions: list[tuple[str, str]]


def _group(rows: list[tuple[object, int, str, str, float]]) -> dict[object, _Group]:
    """(group key, row id, version label, clause key, rank) rows, one group per key: the best
    rank, every version (newest first) and the newest version's row."""
    groups: dict[object, _Group] = {}
    for group_key, row_id, label, clause_key, rank in rows:
        found = groups.get(group_key)
        if found is None:
            groups[group_key] = _Group(rank, row_id, label, [(label, clause_key)])
            continue
        found.rank = max(found.rank, rank)
        found.versions.append((label, clause_key))
        if label > found.shown_label:
            found.shown_id, found.shown_label = row_id, label
    for found in groups.values():
        found.versions.sort(reverse=True)
    return groups


def search(
    spec: Spec, q: str, *, version: SpecVersion | None = None, limit: int = 30
) -> list[SearchHit]:
    """Ranked full-text matches among clauses and examples of one version, or of every version
    of the spec grouped across versions, with highlighted plain-text titles and snippets (see
    ``SearchHit``). Five queries at most: rename aliases (every version only), then per kind
    the matching rows (ids and ranks) and the headlines of the rows shown."""
    query = search_query(q)
    if query is None:
        return []
    scope = {"version": version} if version is not None else {"version__spec": spec}
    # Keys joined by confirmed renames are one clause across versions.
    canonical: dict[str, str] = {}
    if version is None:
        aliases = confirmed_aliases(spec)
        for old_key, _ in aliases:
            if old_key not in canonical:
                joined = alias_closure(old_key, aliases)
                canonical.update(dict.fromkeys(joined, min(joined)))

    def clause_group(key: str) -> str:
        return canonical.get(key, key)

    ranked = SearchRank(F("search_vector"), query)
    clause_rows = (
        Clause.objects.filter(search_vector=query, **scope)
        .annotate(rank=ranked)
        .values_list("id", "version__label", "key", "rank")
    )
    clause_groups = _group(
        [(clause_group(key), pk, label, key, rank) for pk, label, key, rank in clause_rows]
    )
    example_scope = {f"clause__{name}": value for name, value in scope.items()}
    example_rows = (
        Example.objects.filter(search_vector=query, **example_scope)
        .annotate(rank=ranked)
        .values_list("id", "clause__version__label", "clause__key", "title_text", "rank")
    )
    example_groups = _group(
        [
            ((clause_group(key), title), pk, label, key, rank)
            for pk, label, key, title, rank in example_rows
        ]
    )
    best = sorted(
        [("clause", group) for group in clause_groups.values()]
        + [("example", group) for group in example_groups.values()],
        key=lambda item: (-item[1].rank, item[0], item[1].shown_id),
    )[:limit]
    shown = {(kind, group.shown_id): group for kind, group in best}
    clause_ids = [pk for kind, pk in shown if kind == "clause"]
    example_ids = [pk for kind, pk in shown if kind == "example"]
    hits: dict[tuple[str, int], SearchHit] = {}
    if clause_ids:
        for pk, label, key, title, title_headline, authority, headline in (
            Clause.objects.filter(id__in=clause_ids)
            .annotate(
                headline=_headline("text", query), title_headline=_title_headline("title", query)
            )
            .values_list(
                "id", "version__label", "key", "title", "title_headline", "authority", "headline"
            )
        ):
            group = shown[("clause", pk)]
            hits[("clause", pk)] = SearchHit(
                "clause",
                label,
                key,
                title,
                title_headline,
                headline,
                group.rank,
                authority,
                versions=group.versions,
            )
    if example_ids:
        for pk, label, key, clause_title, title_headline, headline, position in (
            Example.objects.filter(id__in=example_ids)
            .annotate(
                headline=_headline("text", query),
                title_headline=_title_headline("title_text", query),
            )
            .values_list(
                "id",
                "clause__version__label",
                "clause__key",
                "clause__title",
                "title_headline",
                "headline",
                "position",
            )
        ):
            group = shown[("example", pk)]
            hits[("example", pk)] = SearchHit(
                "example",
                label,
                key,
                clause_title,
                title_headline,
                headline,
                group.rank,
                example_position=position,
                versions=group.versions,
            )
    return [hits[(kind, group.shown_id)] for kind, group in best]


# --------------------------------------------------------------------------------------------
# Diffs


def _snapshots(version: SpecVersion) -> list[ClauseSnapshot]:
    """Two queries: clauses (with the parent key joined) and example fingerprints."""
    rows = list(
        Clause.objects.filter(version=version)
        .order_by("position")
        .values_list(
            "id", "key", "title", "authority", "tags", "body", "text", "parent__key", "position"
        )
    )
    # By clause id rather than a join on the version: the clause_id index finds the rows
    # whatever the table's statistics say (a join on stale ones scans the whole table).
    examples: dict[int, list[tuple[str, str]]] = {}
    for clause_id, fingerprint, title, title_text in (
        Example.objects.filter(clause_id__in=[row[0] for row in rows])
        .order_by("clause_id", "position")
        .values_list("clause_id", "fingerprint", "title", "title_text")
    ):
        # The title as read (cross-references as titles), like the body.
        examples.setdefault(clause_id, []).append((fingerprint, title_text or title))
    # Clauses made without the importer (factories, the admin) may lack their plain text:
    # read it from the body then, resolving cross-references among this version's titles.
    titles = {row[1]: row[2] for row in rows}
    return [
        ClauseSnapshot(
            key=key,
            title=title,
            authority=authority or None,
            tags=tuple(tags),
            body=body,
            text=text or clause_text(body, titles=titles),
            parent_key=parent_key,
            position=position,
            examples=tuple(examples.get(pk, ())),
        )
        for pk, key, title, authority, tags, body, text, parent_key, position in rows
    ]


def compose_aliases(
    aliases: list[tuple[str, str]], old_keys: set[str], new_keys: set[str]
) -> dict[str, str]:
    """old key -> new key for the two versions compared, following chains of renames
    (a -> b -> c) until a key of the new version is reached."""
    step = dict(aliases)
    composed: dict[str, str] = {}
    for key in old_keys:
        seen = {key}
        current = key
        while current in step and step[current] not in seen:
            current = step[current]
            seen.add(current)
            if current in new_keys:
                composed[key] = current
                break
    return composed


def version_diff(old: SpecVersion, new: SpecVersion) -> SpecDiff:
    """Diff two versions of one spec with its confirmed aliases and rejected renames."""
    old_snapshots = _snapshots(old)
    new_snapshots = _snapshots(new)
    aliases = compose_aliases(
        confirmed_aliases(old.spec),
        {c.key for c in old_snapshots},
        {c.key for c in new_snapshots},
    )
    return diff_versions(
        old_snapshots,
        new_snapshots,
        aliases=aliases,
        rejected_renames=rejected_renames(old.spec),
    )


# --------------------------------------------------------------------------------------------
# Export


def _turn_from_json(data: dict) -> Turn:
    if "message" in data:
        m = data["message"]
        return Turn(message=Message(role=m["role"], content=m["content"], attrs=m.get("attrs", {})))
    return Turn(
        comparison=[
            Candidate(
                content=c["content"],
                grade=c["grade"],
                reason=c.get("reason", ""),
                cites=c.get("cites", ""),
                attrs=c.get("attrs", {}),
            )
            for c in data.get("comparison", [])
        ]
    )


def example_as_parsed(example: Example) -> ParsedExample:
    return ParsedExample(
        title=example.title,
        turns=[_turn_from_json(turn) for turn in example.turns],
        line=example.source_line,
        body_offset=example.body_offset,
        between_turns={int(k): v for k, v in (example.between_turns or {}).items()},
    )


def version_as_parsed(version: SpecVersion) -> ParsedSpec:
    """Rebuild the parsed document from storage (two queries), including examples promoted
    from gold cases, so ``export_spec`` can write it back."""
    examples: dict[int, list[ParsedExample]] = {}
    for example in Example.objects.filter(clause__version=version).order_by(
        "clause_id", "position"
    ):
        examples.setdefault(example.clause_id, []).append(example_as_parsed(example))
    rows = list(
        Clause.objects.filter(version=version)
        .order_by("position")
        .values_list(
            "id",
            "key",
            "title",
            "level",
            "parent__key",
            "position",
            "authority",
            "authority_source",
            "tags",
            "body",
            "footnotes",
            "references",
            "source_line",
        )
    )
    clauses = [
        ParsedClause(
            key=key,
            title=title,
            level=level,
            parent_key=parent_key,
            position=position,
            authority=authority or None,
            authority_source=authority_source or None,
            tags=list(tags),
            body=body,
            examples=examples.get(pk, []),
            footnotes=list(footnotes),
            references=list(references),
            line=line,
        )
        for (
            pk,
            key,
            title,
            level,
            parent_key,
            position,
            authority,
            authority_source,
            tags,
            body,
            footnotes,
            references,
            line,
        ) in rows
    ]
    return ParsedSpec(
        clauses=clauses, preamble=version.preamble, warnings=[], dialect=version.dialect
    )


def version_export(version: SpecVersion) -> str:
    """The version as Markdown in its own dialect."""
    from specs.spec_markdown import export_spec

    return export_spec(version_as_parsed(version))
