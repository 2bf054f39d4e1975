"""Composed reads over specs, versions, clauses: pages, history, search, diffs and exports.

Every function takes objects already resolved through the workspace (or the workspace itself),
so no read escapes the tenant. Query counts are fixed per page; see the comments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import F, Prefetch, QuerySet, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import MD5, Concat
from django.http import Http404
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from clausebook.models import Workspace
from specs.diffing import ClauseSnapshot, SpecDiff, diff_versions
from specs.models import Clause, ClauseAlias, EvalPrompt, Example, Spec, SpecVersion
from specs.services import EXAMPLE_TEXT_SQL
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


def spec_get(workspace: Workspace, slug: str) -> Spec:
    """The workspace's spec with this slug, or 404."""
    spec = Spec.objects.filter(workspace=workspace, slug=slug).first()
    if spec is None:
        raise Http404("No such spec")
    return spec


def versions_of(spec: Spec) -> list[SpecVersion]:
    """All versions of a spec, newest label first (labels are dates in the reference spec)."""
    versions = list(SpecVersion.objects.filter(spec=spec).order_by("-label"))
    for version in versions:
        version.spec = spec  # pages build links from it: no query per version
    return versions


def version_get(workspace: Workspace, spec_slug: str, label: str) -> SpecVersion:
    """The version (with its spec) by spec slug and label inside the workspace, or 404."""
    version = (
        SpecVersion.objects.select_related("spec")
        .filter(spec__workspace=workspace, spec__slug=spec_slug, label=label)
        .first()
    )
    if version is None:
        raise Http404("No such spec version")
    return version


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


def version_toc(version: SpecVersion) -> list[TocEntry]:
    """Every clause of the version in document order, without bodies: one query."""
    rows = (
        Clause.objects.filter(version=version)
        .order_by("position")
        .values_list("id", "key", "title", "level", "parent_id", "authority", "tags")
    )
    return [TocEntry(*row) for row in rows]


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


def clause_page(version: SpecVersion, key: str) -> ClausePage:
    """Everything the clause page shows, in a fixed number of queries whatever the clause:
    versions, TOC, the clause, its examples, its eval prompts, aliases and history (7)."""
    versions = versions_of(version.spec)
    toc = version_toc(version)
    clause = Clause.objects.filter(version=version, key=key).first()
    if clause is None:
        raise Http404("No such clause in this version")
    clause.version = version  # avoid a query when templates or __str__ touch it
    examples = list(Example.objects.filter(clause=clause).order_by("position"))
    eval_prompts = list(
        EvalPrompt.objects.filter(clause=clause).order_by("footnote_id", "position")
    )
    return ClausePage(
        version=version,
        versions=versions,
        toc=toc,
        clause=clause,
        examples=examples,
        eval_prompts=eval_prompts,
        history=clause_history(version.spec, clause.key, versions, version),
        titles={entry.key: entry.title for entry in toc},
    )


# --------------------------------------------------------------------------------------------
# Search

_START = "\x02"
_STOP = "\x03"


def safe_headline(text: str) -> SafeString:
    """Escape a ts_headline result, then turn the sentinels into balanced <mark> tags.

    The sentinels are control characters; if the source text contains them too, the worst
    outcome is a misplaced highlight, never markup from the text.
    """
    out: list[str] = []
    open_mark = False
    for index, part in enumerate(text.replace(_STOP, _START + _STOP).split(_START)):
        if index > 0:
            if part.startswith(_STOP):
                part = part[1:]
                if open_mark:
                    out.append("</mark>")
                    open_mark = False
            elif not open_mark:
                out.append("<mark>")
                open_mark = True
        out.append(str(escape(part.replace(_START, "").replace(_STOP, ""))))
    if open_mark:
        out.append("</mark>")
    return mark_safe("".join(out))  # noqa: S308 - every piece of text is escaped above


@dataclass
class SearchHit:
    kind: str  # "clause" or "example"
    version_label: str
    clause_key: str
    clause_title: str
    title: SafeString  # escaped, with <mark> around matched terms
    headline: SafeString
    rank: float
    authority: str = ""
    example_position: int | None = None


def _title_headline(expression: object, query: SearchQuery) -> SearchHeadline:
    """The whole (short) title with its matches marked."""
    return SearchHeadline(
        expression,
        query,
        config="english",
        start_sel=_START,
        stop_sel=_STOP,
        highlight_all=True,
    )


def _headline(expression: object, query: SearchQuery) -> SearchHeadline:
    return SearchHeadline(
        expression,
        query,
        config="english",
        start_sel=_START,
        stop_sel=_STOP,
        max_words=30,
        min_words=12,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


def search(spec: Spec, q: str, *, version: SpecVersion | None = None, limit: int = 30) -> list:
    """Ranked full-text matches among clauses and examples of one version, or of every version
    of the spec; highlighted with <mark>. Two queries; headlines only for returned rows."""
    q = q.strip()
    if not q:
        return []
    query = SearchQuery(q, search_type="websearch", config="english")
    scope = {"version": version} if version is not None else {"version__spec": spec}
    clauses = (
        Clause.objects.filter(search_vector=query, **scope)
        .annotate(rank=SearchRank(F("search_vector"), query))
        .order_by("-rank", "-version__label", "position")[:limit]
        .annotate(headline=_headline("body", query), title_headline=_title_headline("title", query))
        .values_list(
            "version__label", "key", "title", "title_headline", "authority", "headline", "rank"
        )
    )
    example_scope = {f"clause__{name}": value for name, value in scope.items()}
    examples = (
        Example.objects.filter(search_vector=query, **example_scope)
        .annotate(rank=SearchRank(F("search_vector"), query))
        .order_by("-rank", "-clause__version__label", "clause__position", "position")[:limit]
        .annotate(
            # A constant SQL fragment (no user input): the example's searchable text.
            headline=_headline(
                RawSQL(EXAMPLE_TEXT_SQL.format(table="specs_example"), []),  # noqa: S611
                query,
            ),
            title_headline=_title_headline("title", query),
        )
        .values_list(
            "clause__version__label",
            "clause__key",
            "clause__title",
            "title_headline",
            "headline",
            "rank",
            "position",
        )
    )
    hits = [
        SearchHit(
            "clause",
            label,
            key,
            title,
            safe_headline(title_headline),
            safe_headline(headline),
            rank,
            authority,
        )
        for label, key, title, title_headline, authority, headline, rank in clauses
    ]
    hits += [
        SearchHit(
            "example",
            label,
            key,
            clause_title,
            safe_headline(title),
            safe_headline(headline),
            rank,
            example_position=position,
        )
        for label, key, clause_title, title, headline, rank, position in examples
    ]
    hits.sort(key=lambda hit: -hit.rank)
    return hits[:limit]


# --------------------------------------------------------------------------------------------
# Diffs


def _snapshots(version: SpecVersion) -> list[ClauseSnapshot]:
    """Two queries: clauses (with the parent key joined) and example fingerprints."""
    examples: dict[int, list[tuple[str, str]]] = {}
    for clause_id, fingerprint, title in (
        Example.objects.filter(clause__version=version)
        .order_by("clause_id", "position")
        .values_list("clause_id", "fingerprint", "title")
    ):
        examples.setdefault(clause_id, []).append((fingerprint, title))
    rows = (
        Clause.objects.filter(version=version)
        .order_by("position")
        .values_list("id", "key", "title", "authority", "tags", "body", "parent__key", "position")
    )
    return [
        ClauseSnapshot(
            key=key,
            title=title,
            authority=authority or None,
            tags=tuple(tags),
            body=body,
            parent_key=parent_key,
            position=position,
            examples=tuple(examples.get(pk, ())),
        )
        for pk, key, title, authority, tags, body, parent_key, position in rows
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
