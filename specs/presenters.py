"""Turn selector results into template context: URLs, rendered text, highlights, condensed diffs.

No queries here; every function works on data the selectors already loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape, format_html
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString, mark_safe

from clausebook.caching import bounded_cache
from clausebook.rendering import render_markdown
from specs.diffing import ClauseChange, Segment, SpecDiff
from specs.models import ClauseAlias, SpecVersion
from specs.rendering import render_clause_body, render_examples
from specs.selectors import HIGHLIGHT_START, HIGHLIGHT_STOP, ClausePage, SearchHit, TocEntry
from specs.spec_markdown import AUTHORITY_ALIASES, AUTHORITY_LABELS


def authority_label(authority: str) -> str:
    """``"root"`` -> ``"Root"``; ``""`` (no authority) -> ``""``."""
    return AUTHORITY_LABELS.get(authority, "")


def authority_help() -> str:
    """The import page's one-line list of authority levels, from the dialect's own list."""
    aliases = {target: alias for alias, target in AUTHORITY_ALIASES.items()}
    levels = [
        f"{level} (or {aliases[level]})" if level in aliases else level
        for level in AUTHORITY_LABELS
    ]
    return ", ".join(levels)


def clause_url_prefix(workspace_slug: str, version: SpecVersion) -> str:
    """The permalink of clause ``KEY`` is this prefix + key + "/" (one reverse() per page)."""
    url = reverse(
        "specs:clause-detail", args=[workspace_slug, version.spec.slug, version.label, "KEY"]
    )
    return url[: -len("KEY/")]


@dataclass
class TocItem:
    key: str
    title: str
    level: int
    authority: str
    authority_label: str
    tags: list[str]
    url: str
    current: bool
    example_count: int = 0
    eval_prompt_count: int = 0


def toc_items(toc: list[TocEntry], prefix: str, current_key: str = "") -> list[TocItem]:
    return [
        TocItem(
            key=entry.key,
            title=entry.title,
            level=min(entry.level, 4),
            authority=entry.authority,
            authority_label=authority_label(entry.authority),
            tags=entry.tags,
            url=f"{prefix}{entry.key}/",
            current=entry.key == current_key,
            example_count=entry.example_count,
            eval_prompt_count=entry.eval_prompt_count,
        )
        for entry in toc
    ]


def toc_html(items: list[TocItem]) -> SafeString:
    """The TOC list, built in Python: it is the largest loop on every spec page (80+ rows) and
    format_html escapes every value as the template would, at a fraction of the cost."""
    rows = []
    for item in items:
        badges = []
        if item.authority:
            badges.append(
                format_html(
                    ' <span class="badge badge-{}" title="Authority: {}">{}</span>',
                    item.authority,
                    item.authority_label,
                    item.authority_label,
                )
            )
        badges += [
            format_html(' <span class="badge badge-tag">{}</span>', tag) for tag in item.tags
        ]
        rows.append(
            format_html(
                '<li class="toc-l{}"><a href="{}"{}>{}</a>{}</li>',
                item.level,
                item.url,
                mark_safe(' aria-current="page"') if item.current else "",  # noqa: S308
                item.title,
                mark_safe("".join(badges)),  # noqa: S308 - each badge built by format_html
            )
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - each row built by format_html


# Rendered body and examples of published clauses, by (clause, workspace slug, spec slug): a
# published version never changes, so its HTML never goes stale. Rendering Markdown and
# sanitizing it is most of a clause page's server time. Bounded, least recently used out first;
# the test suite empties it before each test (clausebook.caching.clear_all).
_RENDERED = bounded_cache("specs.presenters.rendered", maxsize=2048)


def _rendered_text(page: ClausePage, workspace_slug: str, clause_url: Any) -> dict[str, Any]:
    def render() -> dict[str, Any]:
        return {
            "body": render_clause_body(page.clause.body, titles=page.titles, clause_url=clause_url),
            "examples": render_examples(page.examples, titles=page.titles, clause_url=clause_url),
        }

    if not page.version.is_published:
        return render()
    return _RENDERED.get_or_set((page.clause.pk, workspace_slug, page.version.spec.slug), render)


def clause_panels(workspace_slug: str, page: ClausePage) -> list[str]:
    """URLs of the fragments other apps add to this clause page (``settings.CLAUSE_PAGE_PANELS``:
    URL names taking ``workspace``, ``spec``, ``label`` and ``key``). A name that does not
    resolve is skipped, so the page never depends on the app serving it; the page loads each
    fragment with htmx, and the fragment's own view decides who may see it."""
    kwargs = {
        "workspace": workspace_slug,
        "spec": page.version.spec.slug,
        "label": page.version.label,
        "key": page.clause.key,
    }
    urls = []
    for name in getattr(settings, "CLAUSE_PAGE_PANELS", ()):
        try:
            urls.append(reverse(name, kwargs=kwargs))
        except NoReverseMatch:
            continue
    return urls


def clause_context(page: ClausePage, workspace_slug: str) -> dict[str, Any]:
    """Context for the clause page: rendered body and examples, TOC, history links."""
    prefix = clause_url_prefix(workspace_slug, page.version)

    def clause_url(key: str) -> str:
        return f"{prefix}{key}/"

    clause = page.clause
    eval_prompts_by_footnote: dict[str, list] = {}
    for eval_prompt in page.eval_prompts:
        eval_prompts_by_footnote.setdefault(eval_prompt.footnote_id, []).append(eval_prompt)
    history = [
        {
            "entry": entry,
            "url": reverse(
                "specs:clause-detail",
                args=[workspace_slug, page.version.spec.slug, entry.version.label, entry.key],
            )
            if entry.present
            else "",
        }
        for entry in page.history
    ]
    toc = toc_items(page.toc, prefix, clause.key)
    index = next((i for i, item in enumerate(toc) if item.current), 0)
    parents = _ancestors(page.toc, clause.parent_id, prefix)
    return {
        "version": page.version,
        "spec": page.version.spec,
        "versions": page.versions,
        "clause": clause,
        "authority_label": authority_label(clause.authority),
        **_rendered_text(page, workspace_slug, clause_url),
        "eval_prompts": sorted(eval_prompts_by_footnote.items()),
        "history": history,
        "toc_html": toc_html(toc),
        "parents": parents,
        "previous": toc[index - 1] if index > 0 else None,
        "next": toc[index + 1] if index + 1 < len(toc) else None,
        "version_urls": [
            (v, f"{clause_url_prefix(workspace_slug, v)}{clause.key}/") for v in page.versions
        ],
        "panels": clause_panels(workspace_slug, page),
    }


def _ancestors(toc: list[TocEntry], parent_id: int | None, prefix: str) -> list[tuple[str, str]]:
    by_id = {entry.id: entry for entry in toc}
    chain: list[tuple[str, str]] = []
    while parent_id is not None and parent_id in by_id:
        entry = by_id[parent_id]
        chain.insert(0, (entry.title, f"{prefix}{entry.key}/"))
        parent_id = entry.parent_id
    return chain


def preamble_html(version: SpecVersion) -> SafeString:
    return render_markdown(version.preamble)


def export_filename(version: SpecVersion) -> str:
    """A safe download name from the spec slug and label (no quotes, slashes or newlines)."""
    raw = f"{version.spec.slug}-{version.label}.md"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", raw)


def markdown_download(version: SpecVersion, markdown: str) -> HttpResponse:
    """The exported Markdown as an attachment, for the page and the API alike: never rendered
    on our origin, whatever the spec text holds."""
    response = HttpResponse(markdown, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, export_filename(version))
    return response


# --------------------------------------------------------------------------------------------
# Search


def highlighted(text: str) -> SafeString:
    """Escape a ts_headline result, then turn its sentinels into balanced <mark> tags.

    The sentinels are control characters; if the source text contains them too, the worst
    outcome is a misplaced highlight, never markup from the text.
    """
    out: list[str] = []
    open_mark = False
    parts = text.replace(HIGHLIGHT_STOP, HIGHLIGHT_START + HIGHLIGHT_STOP).split(HIGHLIGHT_START)
    for index, part in enumerate(parts):
        if index > 0:
            if part.startswith(HIGHLIGHT_STOP):
                part = part[1:]
                if open_mark:
                    out.append("</mark>")
                    open_mark = False
            elif not open_mark:
                out.append("<mark>")
                open_mark = True
        out.append(str(escape(part.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_STOP, ""))))
    if open_mark:
        out.append("</mark>")
    return mark_safe("".join(out))  # noqa: S308 - every piece of text is escaped above


@dataclass
class SearchResult:
    """A search hit as the results list shows it: plain text (never Markdown or LaTeX source),
    escaped, matched terms in <mark>; with every version it was found in."""

    kind: str  # "clause" or "example"
    version_label: str
    clause_key: str
    clause_title: str
    title: SafeString  # escaped, with <mark> around matched terms
    headline: SafeString
    authority: str
    authority_label: str
    example_position: int | None
    url: str
    versions: list[tuple[str, str]]  # (label, url of the hit in that version), newest first


def search_results(
    hits: list[SearchHit], workspace_slug: str, spec_slug: str
) -> list[SearchResult]:
    # One reverse() per page: every clause URL is this prefix + label + "/c/" + key + "/".
    prefix = reverse("specs:clause-detail", args=[workspace_slug, spec_slug, "LABEL", "KEY"])
    prefix = prefix[: -len("LABEL/c/KEY/")]

    def url(hit: SearchHit, label: str, key: str) -> str:
        # An example's position is known in the version shown only; elsewhere, its clause.
        shown = hit.kind == "example" and label == hit.version_label
        return f"{prefix}{label}/c/{key}/" + (f"#example-{hit.example_position}" if shown else "")

    return [
        SearchResult(
            kind=hit.kind,
            version_label=hit.version_label,
            clause_key=hit.clause_key,
            clause_title=hit.clause_title,
            title=highlighted(hit.title),
            headline=highlighted(hit.headline),
            authority=hit.authority,
            authority_label=authority_label(hit.authority),
            example_position=hit.example_position,
            url=url(hit, hit.version_label, hit.clause_key),
            versions=[(label, url(hit, label, key)) for label, key in hit.versions],
        )
        for hit in hits
    ]


def diff_pair(
    versions: list[SpecVersion], old_label: str | None, new_label: str | None
) -> tuple[SpecVersion | None, SpecVersion | None]:
    """The versions to compare; defaults to the second newest against the newest."""
    by_label = {v.label: v for v in versions}
    newest_first = sorted(versions, key=lambda v: v.label, reverse=True)
    new = by_label.get(new_label or "") or (newest_first[0] if newest_first else None)
    old = by_label.get(old_label or "")
    if old is None:
        older = [v for v in newest_first if new is not None and v.label < new.label]
        old = older[0] if older else None
    return old, new


def condense(segments: list[Segment] | None, context: int = 180) -> list[tuple[str, str]]:
    """Shorten long unchanged stretches of a word diff to their edges around the edits."""
    if not segments:
        return []
    out: list[tuple[str, str]] = []
    last = len(segments) - 1
    for index, (op, text) in enumerate(segments):
        if op != "equal" or len(text) <= 2 * context + 40:
            out.append((op, text))
            continue
        head = text[:context] if index > 0 else ""
        tail = text[-context:] if index < last else ""
        if head:
            out.append(("equal", head))
        out.append(("gap", f"… {len(text) - len(head) - len(tail):,} unchanged characters …"))
        if tail:
            out.append(("equal", tail))
    return out


# The kinds of change a reader filters the diff by, in the jump list's order. Added and removed
# are statuses; changed, moved and renamed are flags, so one clause (edited and moved) is under
# both: each kind's count is the summary's count of it.
DIFF_KINDS = [
    ("added", "Added"),
    ("removed", "Removed"),
    ("changed", "Changed"),
    ("moved", "Moved"),
    ("renamed", "Renamed"),
]
# Below this many clauses shown, every change starts open; above it, collapsed behind its
# one-line summary so the page stays a list a reader can scan (the jump list opens one).
OPEN_CHANGES_UP_TO = 6
_WORD_RE = re.compile(r"\w+")


def change_kinds(change: ClauseChange) -> list[str]:
    """The kinds (``DIFF_KINDS`` names) a clause change is listed under."""
    kinds = [change.status] if change.status in {"added", "removed"} else []
    if change.changed:
        kinds.append("changed")
    if change.moved:
        kinds.append("moved")
    if change.renamed_from is not None:
        kinds.append("renamed")
    return kinds


def change_anchor(change: ClauseChange) -> str:
    """The element id of a change on the diff page; a removed clause's key may come back as a
    new clause's, so removed ones have their own prefix."""
    return f"change-removed-{change.key}" if change.status == "removed" else f"change-{change.key}"


def _words(segments: list[Segment] | None, op: str) -> int:
    return sum(len(_WORD_RE.findall(text)) for kind, text in segments or () if kind == op)


def diff_kind(value: str | None) -> str:
    """The ``kind`` filter of the diff page: one of ``DIFF_KINDS``, or "" for every change."""
    return value if value in dict(DIFF_KINDS) else ""


def diff_context(
    diff: SpecDiff, kind: str = "", *, old_label: str = "", new_label: str = ""
) -> dict[str, Any]:
    """The diff page: one summary (the kind filters, with their counts), the jump list and the
    changes of the chosen kind (every kind with ``""``), bodies as condensed word diffs of the
    text as read. Each filter's ``query`` is its link's query string."""
    summary = diff.summary.to_dict()
    listed = [change for change in diff.clauses if change.status != "unchanged"]

    def query(name: str) -> str:
        values = {"from": old_label, "to": new_label, "kind": name}
        return urlencode({key: value for key, value in values.items() if value})

    filters = [{"name": "", "label": "All changes", "count": len(listed), "active": not kind}] + [
        {"name": name, "label": label, "count": summary[name], "active": kind == name}
        for name, label in DIFF_KINDS
    ]
    for item in filters:
        item["query"] = query(item["name"])
    shown = [change for change in listed if not kind or kind in change_kinds(change)]
    changes = [
        {
            "change": change,
            "anchor": change_anchor(change),
            "kinds": change_kinds(change),
            "title_diff": condense(change.title_diff, 400),
            "body_diff": condense(change.body_diff),
            "words_added": _words(change.body_diff, "insert"),
            "words_removed": _words(change.body_diff, "delete"),
        }
        for change in shown
    ]
    return {
        "summary": summary,
        "filters": filters,
        "kind": kind,
        "kind_label": dict(DIFF_KINDS).get(kind, ""),
        "renames": diff.probable_renames,
        "changes": changes,
        "open_changes": len(changes) <= OPEN_CHANGES_UP_TO,
    }


def alias_decision_message(alias: ClauseAlias) -> str:
    """What a rename decision did, in words (the page's feedback and the flash message)."""
    if alias.status == ClauseAlias.Status.CONFIRMED:
        return (
            f"Rename confirmed: #{alias.old_key} → #{alias.new_key} is now one clause; its "
            "history and labels follow it."
        )
    return f"Not a rename: #{alias.old_key} and #{alias.new_key} will not be proposed again."
