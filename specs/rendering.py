"""Spec-specific rendering on top of ``clausebook.rendering.render_markdown``.

Clause bodies are untrusted Markdown. This module only adds structure around the sanitized
output of ``render_markdown``: commentary admonitions become ``<div class="commentary">``,
``[?](#key)`` cross-references become links to the target clause's permalink with its title,
and eval footnotes ``[^abcd]`` become small markers linking to the clause's eval prompts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.utils.safestring import SafeString, mark_safe

from clausebook.rendering import render_markdown
from specs.plaintext import FOOTNOTE_RE, split_commentary

__all__ = ["render_clause_body", "render_examples", "render_inline", "split_commentary"]

# key -> permalink of that clause in the same version
ClauseUrl = Callable[[str], str]


def _link_footnotes(markdown: str) -> str:
    # The marker text is the id itself, which the regex limits to [A-Za-z0-9_-].
    return FOOTNOTE_RE.sub(lambda m: f"[{m.group(1)}](#fn-{m.group(1)})", markdown)


def make_resolver(
    titles: Mapping[str, str], clause_url: ClauseUrl
) -> Callable[[str, str], tuple[str, str, str] | None]:
    def resolve(href: str, text: str) -> tuple[str, str, str] | None:
        target = href[1:]
        if target.startswith("fn-"):
            return f"#eval-prompts-{target[3:]}", target[3:], "footnote-ref"
        title = titles.get(target)
        if title is None:
            return None if text and text != "?" else (href, target, "xref missing")
        return clause_url(target), title if text in {"", "?"} else text, "xref"

    return resolve


def render_clause_body(
    body: str, *, titles: Mapping[str, str], clause_url: ClauseUrl
) -> SafeString:
    """Render a clause body: sanitized Markdown, commentary set apart, cross-references and
    footnotes linked. Every piece of text goes through ``render_markdown``."""
    resolver = make_resolver(titles, clause_url)
    html: list[str] = []
    for kind, markdown in split_commentary(body):
        rendered = render_markdown(_link_footnotes(markdown), link_resolver=resolver)
        if kind == "commentary":
            html.append(f'<div class="commentary">{rendered}</div>')
        else:
            html.append(str(rendered))
    return mark_safe("".join(html))  # noqa: S308 - each part is sanitized by render_markdown


def render_inline(markdown: str, *, titles: Mapping[str, str], clause_url: ClauseUrl) -> SafeString:
    """One line of Markdown (an example title, a grade reason) without the wrapping <p>."""
    html = str(
        render_markdown(_link_footnotes(markdown), link_resolver=make_resolver(titles, clause_url))
    )
    html = html.strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return mark_safe(html)  # noqa: S308 - sanitized by render_markdown


@dataclass
class RenderedCandidate:
    grade: str
    reason: SafeString
    cites: str
    cites_title: str
    cites_url: str
    content: SafeString
    attrs: dict[str, str]


@dataclass
class RenderedTurn:
    role: str  # a message role, or "comparison"
    content: SafeString | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    candidates: list[RenderedCandidate] = field(default_factory=list)
    before: str = ""  # elision text such as "[...]" shown before this turn


@dataclass
class RenderedExample:
    position: int
    title: SafeString
    turns: list[RenderedTurn]
    after: str
    origin: str


def render_examples(
    examples: list, *, titles: Mapping[str, str], clause_url: ClauseUrl
) -> list[RenderedExample]:
    """Examples (model rows) as conversations ready for the template; all text sanitized."""
    rendered: list[RenderedExample] = []
    for example in examples:
        between = {int(k): v for k, v in (example.between_turns or {}).items()}
        turns: list[RenderedTurn] = []
        for index, turn in enumerate(example.turns):
            if "message" in turn:
                message = turn["message"]
                turns.append(
                    RenderedTurn(
                        role=message["role"],
                        content=render_markdown(message["content"]),
                        attrs=message.get("attrs", {}),
                        before=between.get(index, ""),
                    )
                )
                continue
            candidates = [
                RenderedCandidate(
                    grade=candidate["grade"],
                    reason=render_inline(
                        candidate.get("reason", ""), titles=titles, clause_url=clause_url
                    ),
                    cites=candidate.get("cites", ""),
                    cites_title=titles.get(candidate.get("cites", ""), candidate.get("cites", "")),
                    cites_url=clause_url(candidate["cites"])
                    if candidate.get("cites") in titles
                    else "",
                    content=render_markdown(candidate["content"]),
                    attrs=candidate.get("attrs", {}),
                )
                for candidate in turn.get("comparison", [])
            ]
            turns.append(
                RenderedTurn(
                    role="comparison", candidates=candidates, before=between.get(index, "")
                )
            )
        rendered.append(
            RenderedExample(
                position=example.position,
                title=render_inline(example.title, titles=titles, clause_url=clause_url),
                turns=turns,
                after=between.get(len(example.turns), ""),
                origin=example.origin,
            )
        )
    return rendered
