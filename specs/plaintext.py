"""Spec Markdown as a reader reads it: plain text, for the version diff and for search.

The clause page shows rendered Markdown; the diff and the search snippets used to show the
source (``**``, ``!!! meta "Commentary"``, ``[^dcqh]``, ``\\\\( \\frac{4}{3} \\\\)``), which is
not what anyone reads. This module turns a clause body or an example message into the text the
page shows: markup dropped, cross-references replaced by the target clause's title, eval
footnote markers dropped (the clause page shows them as small links, not words), commentary
introduced by "Commentary:", simple LaTeX spelled out (``4/3 π r^3``).

Framework-free on purpose (markdown-it-py and the stdlib only): the importer stores the result
once per clause and example (``Clause.text``, ``Example.title_text``, ``Example.text``), and the
diff engine's tests call it without Django. The parser is configured like
``clausebook.rendering`` so both see the same document structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["clause_text", "latex_text", "markdown_text", "split_commentary"]

_parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
_ADMONITION_RE = re.compile(r'^!!!\s+(\w+)(?:\s+"([^"]*)")?\s*$')
FOOTNOTE_RE = re.compile(r"\[\^([A-Za-z0-9_-]{1,20})\]")
_NO_TITLES: Mapping[str, str] = MappingProxyType({})


def split_commentary(body: str) -> list[tuple[str, str]]:
    """Split a body into ``("text", markdown)`` and ``("commentary", markdown)`` parts.

    An admonition is a line ``!!! meta "Commentary"`` followed by blank lines and lines
    indented by four spaces (or a tab); its content is dedented. Fenced code is not special
    here because admonitions never start inside fences in the reference spec, and a false
    match only changes presentation, never safety.
    """
    parts: list[tuple[str, str]] = []
    text: list[str] = []
    lines = body.split("\n")
    index = 0
    while index < len(lines):
        if _ADMONITION_RE.match(lines[index]):
            if text:
                parts.append(("text", "\n".join(text)))
                text = []
            index += 1
            inner: list[str] = []
            while index < len(lines) and (
                not lines[index].strip() or lines[index].startswith(("    ", "\t"))
            ):
                line = lines[index]
                inner.append(line[4:] if line.startswith("    ") else line.lstrip("\t"))
                index += 1
            parts.append(("commentary", "\n".join(inner).strip("\n")))
            continue
        text.append(lines[index])
        index += 1
    if text:
        parts.append(("text", "\n".join(text)))
    return parts


# --------------------------------------------------------------------------------------------
# LaTeX

# Inline \( ... \) and display \[ ... \] math, as the text reads once Markdown escapes are
# resolved (the source writes them \\( and \\[).
_MATH_RE = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
# What makes a delimited span math rather than prose about delimiters ("use \( \... \) for
# inline math", "where \[ and \] stand on their own lines"): a command, an operator or a digit,
# or a single symbol such as \( r \).
_LOOKS_LIKE_MATH = re.compile(r"\\[A-Za-z]+|[=^_+<>\d]")
_SINGLE_SYMBOL = re.compile(r"\s*[A-Za-z0-9]\s*")
_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "theta": "θ",
    "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω",
    "Delta": "Δ", "Sigma": "Σ", "Omega": "Ω", "Pi": "Π", "sum": "Σ", "prod": "Π", "int": "∫",
    "infty": "∞", "times": "×", "cdot": "·", "div": "÷", "pm": "±", "le": "≤", "leq": "≤",
    "ge": "≥", "geq": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "to": "→", "rightarrow": "→",
    "Rightarrow": "⇒", "leftarrow": "←", "in": "∈", "ldots": "…", "dots": "…", "cdots": "⋯",
    "partial": "∂", "nabla": "∇", "sqrt": "√",
}  # fmt: skip
# Commands whose argument is shown as it is (\mathcal{B} reads "B").
_STYLE_RE = re.compile(
    r"\\(?:math[a-z]*|text[a-z]*|operatorname|boldsymbol|displaystyle|left|right)\s*"
)
_FRAC_RE = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SQRT_RE = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_SPACING_RE = re.compile(r"\\[,;:! ]|\\q?quad\b")
_COMMAND_RE = re.compile(r"\\([A-Za-z]+)")


def _fraction_part(text: str) -> str:
    text = text.strip()
    return text if re.fullmatch(r"[\w.π]+", text) else f"({text})"


def latex_text(math: str) -> str:
    """Simple LaTeX math as text: ``\\frac{4}{3}\\pi r^3`` -> ``4/3 π r^3``.

    Not a TeX engine: fractions, roots, Greek letters and common operators are spelled out,
    style commands keep their argument, and braces go; anything else loses its backslash."""
    text = _SPACING_RE.sub(" ", math)
    text = _STYLE_RE.sub("", text)
    # Innermost first, so nested fractions and roots come out right.
    while True:
        folded = _FRAC_RE.sub(
            lambda m: f"{_fraction_part(m.group(1))}/{_fraction_part(m.group(2))} ", text
        )
        folded = _SQRT_RE.sub(lambda m: f"√{_fraction_part(m.group(1))}", folded)
        if folded == text:
            break
        text = folded
    text = _COMMAND_RE.sub(lambda m: f" {_SYMBOLS.get(m.group(1), m.group(1))} ", text)
    text = text.replace("{", "").replace("}", "").replace("\\\\", " ")
    return re.sub(r"\s+", " ", text).strip()


def _spell_out_math(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        inner = match.group(1) if match.group(1) is not None else match.group(2)
        if _LOOKS_LIKE_MATH.search(inner) is None and _SINGLE_SYMBOL.fullmatch(inner) is None:
            return match.group(0)
        return latex_text(inner)

    return _MATH_RE.sub(replace, text)


# --------------------------------------------------------------------------------------------
# Markdown


def _inline_text(children: Sequence[Token], titles: Mapping[str, str]) -> str:
    out: list[str] = []
    link_target: str | None = None  # the clause key of the cross-reference being read
    link_start = 0
    for child in children:
        kind = child.type
        if kind in {"text", "code_inline"}:
            out.append(child.content)
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind == "link_open":
            href = str(child.attrGet("href") or "")
            link_target = href[1:] if href.startswith("#") and len(href) > 1 else None
            link_start = len(out)
        elif kind == "link_close":
            # [?](#key) and [](#key) read as the target's title, as on the clause page.
            if link_target is not None and "".join(out[link_start:]).strip() in {"", "?"}:
                del out[link_start:]
                out.append(titles.get(link_target, link_target.replace("_", " ")))
            link_target = None
        elif kind == "image":
            out.append(child.content)
        # Emphasis, strikethrough and other markers carry no text of their own.
    return _spell_out_math("".join(out))


def markdown_text(markdown: str, *, titles: Mapping[str, str] = _NO_TITLES) -> str:
    """Markdown as plain text: paragraphs separated by a blank line, list items on their own
    lines ("• " or "1. "), table rows as cells joined by " | ", code as it is.

    ``titles`` (clause key -> title) names the target of ``[?](#key)`` cross-references, as the
    clause page does; an unknown key reads as the key in words. Eval footnote markers
    (``[^abcd]``) are dropped."""
    markdown = FOOTNOTE_RE.sub("", markdown or "")
    plain = _plain_paragraphs(markdown)
    if plain is not None:
        return plain
    tokens = _parser.parse(markdown)
    blocks: list[str] = []
    lists: list[list[int]] = []  # per open list: [next number] (0 for bullets)
    pending_marker = ""
    row: list[str] | None = None
    first_row = False
    for token in tokens:
        kind = token.type
        if kind == "bullet_list_open":
            lists.append([0])
        elif kind == "ordered_list_open":
            lists.append([int(token.attrGet("start") or 1)])
        elif kind in {"bullet_list_close", "ordered_list_close"}:
            lists.pop()
        elif kind == "list_item_open":
            number = lists[-1][0] if lists else 0
            pending_marker = f"{number}. " if number else "• "
            if number:
                lists[-1][0] += 1
        elif kind == "table_open":
            first_row = True
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close":
            if row is not None:
                # A table is a block; its rows follow each other line by line.
                separator = "\n\n" if first_row and not lists else "\n"
                blocks.append(separator + " | ".join(row))
                first_row = False
            row = None
        elif kind == "inline":
            text = _inline_text(token.children or [], titles).strip()
            if row is not None:
                row.append(text)
                continue
            if pending_marker:
                text = "  " * (len(lists) - 1) + pending_marker + text
                pending_marker = ""
            elif lists:
                text = "  " * len(lists) + text
            blocks.append(_joined(text, in_list=bool(lists)))
        elif kind in {"fence", "code_block"}:
            blocks.append(_joined(token.content.rstrip("\n"), in_list=bool(lists)))
    return "".join(blocks).strip("\n")


# Most example titles and messages are prose without any Markdown: lines that cannot open a
# block (heading, quote, list, fence, indented code, table, setext underline, reference
# definition) and hold no character an inline rule acts on (escape, code, emphasis,
# strikethrough, autolink, entity, LaTeX); brackets are plain text as long as no "](" makes
# them a link or an image ("[text]" alone is a link only with a "[text]: url" definition).
# Their plain text is their paragraphs, each line joined to the next by a space, which is what
# markdown-it makes of them; parsing them cost most of an import's plain-text time.
_PLAIN_LINE_RE = re.compile(
    r"(?!\d+[.)])[^\s\0#>+=|\-\\`*_<&~](?:[^\n\r\0\\`*_<&~|]*[^\s\0\\`*_<&~|])?"
)


def _plain_paragraphs(markdown: str) -> str | None:
    """The plain text of Markdown that is only plain paragraphs, or None if it may be more.

    A line must start with a character that opens no block, end with a non-space (trailing
    spaces make hard breaks) and hold no inline syntax; an empty line ends a paragraph."""
    if "](" in markdown or "]:" in markdown:
        return None
    paragraphs: list[str] = []
    lines: list[str] = []
    for line in markdown.split("\n"):
        if not line:
            if lines:
                paragraphs.append(" ".join(lines))
                lines = []
            continue
        if _PLAIN_LINE_RE.fullmatch(line) is None:
            return None
        lines.append(line)
    if lines:
        paragraphs.append(" ".join(lines))
    return "\n\n".join(paragraphs)


def _joined(text: str, *, in_list: bool) -> str:
    # Items of a list follow each other line by line; everything else is a paragraph.
    return f"\n{text}" if in_list else f"\n\n{text}"


def clause_text(body: str, *, titles: Mapping[str, str] = _NO_TITLES) -> str:
    """A clause body as the clause page reads it: its text, then each commentary block as a
    paragraph opening with "Commentary:" (the page sets it apart in a box with that label)."""
    parts: list[str] = []
    for kind, markdown in split_commentary(body):
        text = markdown_text(markdown, titles=titles)
        if not text:
            continue
        parts.append(f"Commentary: {text}" if kind == "commentary" else text)
    return "\n\n".join(parts)
