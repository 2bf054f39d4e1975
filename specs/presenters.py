"""Turn selector results into template context: URLs, rendered text, condensed diffs.

No queries here; every function works on data the selectors already loaded.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from clausebook.rendering import render_markdown
from specs.diffing import Segment, SpecDiff
from specs.models import SpecVersion
from specs.rendering import render_clause_body, render_examples
from specs.selectors import ClausePage, TocEntry

AUTHORITY_LABELS = {
    "root": "Root",
    "system": "System",
    "developer": "Developer",
    "user": "User",
    "guideline": "Guideline",
}


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


def toc_items(toc: list[TocEntry], prefix: str, current_key: str = "") -> list[TocItem]:
    return [
        TocItem(
            key=entry.key,
            title=entry.title,
            level=min(entry.level, 4),
            authority=entry.authority,
            authority_label=AUTHORITY_LABELS.get(entry.authority, ""),
            tags=entry.tags,
            url=f"{prefix}{entry.key}/",
            current=entry.key == current_key,
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
# sanitizing it is most of a clause page's server time. Bounded, oldest out first.
_RENDERED: OrderedDict[tuple[int, str, str], dict[str, Any]] = OrderedDict()
_RENDERED_MAX = 2048


def _rendered_text(page: ClausePage, workspace_slug: str, clause_url: Any) -> dict[str, Any]:
    def render() -> dict[str, Any]:
        return {
            "body": render_clause_body(page.clause.body, titles=page.titles, clause_url=clause_url),
            "examples": render_examples(page.examples, titles=page.titles, clause_url=clause_url),
        }

    if not page.version.is_published:
        return render()
    key = (page.clause.pk, workspace_slug, page.version.spec.slug)
    cached = _RENDERED.get(key)
    if cached is None:
        cached = _RENDERED[key] = render()
        if len(_RENDERED) > _RENDERED_MAX:
            _RENDERED.popitem(last=False)
    return cached


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
        "authority_label": AUTHORITY_LABELS.get(clause.authority, ""),
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


SUMMARY_ROWS = [
    ("added", "Added"),
    ("removed", "Removed"),
    ("changed", "Changed"),
    ("moved", "Moved"),
    ("renamed", "Renamed"),
    ("probable_renames", "Probable renames"),
    ("unchanged", "Unchanged"),
]


def diff_context(diff: SpecDiff) -> dict[str, Any]:
    """Summary with bar widths for an inline SVG chart, proposals and condensed clause diffs."""
    summary = diff.summary.to_dict()
    biggest = max([summary[name] for name, _ in SUMMARY_ROWS] + [1])
    bars = [
        {
            "name": name,
            "label": label,
            "count": summary[name],
            "width": round(260 * summary[name] / biggest, 1),
            "y": 22 * row,
        }
        for row, (name, label) in enumerate(SUMMARY_ROWS)
    ]
    changes = [
        {
            "change": change,
            "title_diff": condense(change.title_diff, 400),
            "body_diff": condense(change.body_diff),
        }
        for change in diff.clauses
        if change.status != "unchanged"
    ]
    return {
        "summary": summary,
        "bars": bars,
        "chart_height": 22 * len(SUMMARY_ROWS),
        "renames": diff.probable_renames,
        "changes": changes,
    }
