"""The changelog a published version gets from the amendments merged into it.

Cases that motivated an amendment are linked on the reviews side, and specs never imports
reviews: another app adds lines under each amendment through :func:`register_changelog_lines`
(the reviews app, from its ``AppConfig.ready``). Without a source, the changelog lists the
amendments alone (title, author, rationale).
"""

from __future__ import annotations

from collections.abc import Callable

from specs.models import Amendment, SpecVersion

LineSource = Callable[[list[Amendment]], dict[int, list[str]]]

#: ``fn(amendments) -> {amendment id: [Markdown lines]}``, called once per publish.
_sources: list[LineSource] = []


def register_changelog_lines(source: LineSource) -> None:
    """Add a source of extra changelog lines (registering one twice keeps one)."""
    if source not in _sources:
        _sources.append(source)


def unregister_changelog_lines(source: LineSource) -> None:
    if source in _sources:
        _sources.remove(source)


def changelog_for(version: SpecVersion) -> str:
    """Markdown: a heading, then one entry per amendment merged into ``version`` in merge order
    (bold title, number, author; the rationale; each registered source's lines). Empty when none
    was merged."""
    merged = list(
        Amendment.objects.filter(merged_into=version)
        .select_related("author")
        .order_by("updated_at", "pk")
    )
    if not merged:
        return ""
    extra: dict[int, list[str]] = {}
    for source in _sources:
        for amendment_id, lines in source(merged).items():
            extra.setdefault(amendment_id, []).extend(lines)
    out = [f"## Changes in {version.label}", ""]
    for amendment in merged:
        author = amendment.author.get_full_name() or amendment.author.email
        out.append(f"- **{amendment.title}** (amendment #{amendment.pk}, proposed by {author})")
        rationale = " ".join(amendment.rationale.split())
        if rationale:
            out.append(f"  {rationale}")
        out.extend(f"  - {line}" for line in extra.get(amendment.pk, []))
    return "\n".join(out) + "\n"
