"""Rendering untrusted Markdown: markdown-it-py to HTML, then nh3 to an allow-list.

Raw HTML in the source is escaped by the parser (``html=False``) and the output is
sanitized again, so neither a spec body nor a transcript can smuggle script, event
handlers, ``javascript:`` URLs or htmx attributes onto our origin.
"""

from __future__ import annotations

from collections.abc import Callable

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "kbd", "li", "mark", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "class"},
    "code": {"class"},
    "div": {"class"},
    "span": {"class"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}

# (href, text) -> (href, text, css class) for in-document links such as "#chain_of_command";
# return None to leave the link as it is.
LinkResolver = Callable[[str, str], tuple[str, str, str] | None]

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def _resolve_links(tokens: list[Token], resolver: LinkResolver) -> None:
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        children = token.children
        for index, child in enumerate(children):
            if child.type != "link_open":
                continue
            href = str(child.attrGet("href") or "")
            if not href.startswith("#"):
                continue
            text_token = children[index + 1] if index + 1 < len(children) else None
            text = (
                text_token.content if text_token is not None and text_token.type == "text" else ""
            )
            resolved = resolver(href, text)
            if resolved is None:
                continue
            new_href, new_text, css_class = resolved
            child.attrSet("href", new_href)
            if css_class:
                child.attrSet("class", css_class)
            if text_token is not None and text_token.type == "text":
                text_token.content = new_text


def sanitize_html(html: str) -> str:
    """Reduce HTML to the allow-list. Used on every piece of rendered untrusted text."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(text: str, *, link_resolver: LinkResolver | None = None) -> SafeString:
    """Untrusted Markdown to sanitized HTML that templates can output as is."""
    tokens = _parser.parse(text or "")
    if link_resolver is not None:
        _resolve_links(tokens, link_resolver)
    html = _parser.renderer.render(tokens, _parser.options, {})
    return mark_safe(sanitize_html(html))  # noqa: S308 - sanitized by nh3 just above
