"""Spec Markdown as a reader reads it: plain text, for the version diff and for search.

The clause page shows rendered Markdown; the diff and the search snippets used to show the
source (``**``, ``!!! meta "Commentary"``, ``[^dcqh]``, ``\\\\( \\frac{4}{3} \\\\)``), which is
not what anyone reads. This module turns a clause body or an example message into the text the
page shows: markup dropped, cross-references replaced by the target clause's title, eval
footnote markers dropped (the clause page shows them as small links, not words), commentary
introduced by "Commentary:", simple LaTeX spelled out (``4/3 π r^3``).

Framework-free on purpose (markdown-it-pyrs and the stdlib only): the importer stores the result
once per clause and example (``Clause.text``, ``Example.title_text``, ``Example.text``), and the
diff engine's tests call it without Django. The parser is configured like
``clausebook.rendering`` so both see the same document structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from markdown_it_pyrs import MarkdownIt, Node

__all__ = ["clause_text", "latex_text", "markdown_text", "split_commentary"]

# The same CommonMark rules as ``clausebook.rendering`` (raw HTML off, tables and strikethrough
# on), in markdown-it's Rust port: an import turns every clause and example into text, and the
# Python parser spent a quarter of the import's time on it.
_parser = MarkdownIt("zero").enable_many(
    [
        "blockquote", "code", "fence", "heading", "hr", "lheading", "list", "paragraph",
        "reference", "autolink", "backticks", "emphasis", "entity", "escape", "image", "link",
        "newline", "strikethrough", "table",
    ]
)  # fmt: skip
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


_BLOCK_NODES = frozenset(
    {
        "root", "paragraph", "heading", "bullet_list", "ordered_list", "list_item", "table",
        "thead", "tbody", "trow", "tcell", "fence", "code_block", "blockquote", "hr",
    }
)  # fmt: skip


def _collect_inline(nodes: Sequence[Node], titles: Mapping[str, str], out: list[str]) -> None:
    for node in nodes:
        name = node.name
        if name in {"text", "text_special"}:  # text_special: an entity or an escape, resolved
            out.append(node.meta.get("content", ""))
        elif name == "softbreak":
            out.append(" ")
        elif name == "hardbreak":
            out.append("\n")
        elif name == "link":
            start = len(out)
            _collect_inline(node.children, titles, out)
            url = str(node.meta.get("url", ""))
            # [?](#key) and [](#key) read as the target's title, as on the clause page.
            if url.startswith("#") and len(url) > 1 and "".join(out[start:]).strip() in {"", "?"}:
                del out[start:]
                out.append(titles.get(url[1:], url[1:].replace("_", " ")))
        else:
            # Emphasis, strikethrough, code spans, images (their alt text): only their text.
            _collect_inline(node.children, titles, out)


def _inline_text(nodes: Sequence[Node], titles: Mapping[str, str]) -> str:
    out: list[str] = []
    _collect_inline(nodes, titles, out)
    return _spell_out_math("".join(out)).strip()


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
    return _TextWriter(titles).document(_parser.tree(markdown))


class _TextWriter:
    """Walks a parsed document, writing each block as a line or a paragraph."""

    def __init__(self, titles: Mapping[str, str]) -> None:
        self.titles = titles
        self.blocks: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [next number] (0 for bullets)
        self.marker = ""  # the marker of a list item whose first block is still to come

    def document(self, root: Node) -> str:
        self.block(root)
        return "".join(self.blocks).strip("\n")

    def emit(self, text: str) -> None:
        if self.marker:
            text = "  " * (len(self.lists) - 1) + self.marker + text
            self.marker = ""
        elif self.lists:
            text = "  " * len(self.lists) + text
        # Items of a list follow each other line by line; everything else is a paragraph.
        self.blocks.append(("\n" if self.lists else "\n\n") + text)

    def block(self, node: Node) -> None:
        name = node.name
        if name in {"paragraph", "heading"}:
            self.emit(_inline_text(node.children, self.titles))
        elif name in {"bullet_list", "ordered_list"}:
            start = int(node.meta.get("start", 1)) if name == "ordered_list" else 0
            self.lists.append([start])
            for child in node.children:
                self.block(child)
            self.lists.pop()
        elif name == "list_item":
            self.list_item(node)
        elif name == "table":
            first = True
            for section in node.children:  # thead, tbody
                for row in section.children:
                    cells = [_inline_text(cell.children, self.titles) for cell in row.children]
                    # A table is a block; its rows follow each other line by line.
                    separator = "\n\n" if first and not self.lists else "\n"
                    self.blocks.append(separator + " | ".join(cells))
                    first = False
        elif name in {"fence", "code_block"}:
            # Code stays as it is: no list marker, no indent.
            code = str(node.meta.get("content", "")).rstrip("\n")
            self.blocks.append(("\n" if self.lists else "\n\n") + code)
        else:  # the root, a quote: their blocks
            for child in node.children:
                self.block(child)

    def list_item(self, node: Node) -> None:
        number = self.lists[-1][0] if self.lists else 0
        self.marker = f"{number}. " if number else "• "
        if number:
            self.lists[-1][0] += 1
        # In a tight list the item's paragraph has no node: its inline nodes are the item's.
        run: list[Node] = []
        for child in node.children:
            if child.name not in _BLOCK_NODES:
                run.append(child)
                continue
            if run:
                self.emit(_inline_text(run, self.titles))
                run = []
            self.block(child)
        if run:
            self.emit(_inline_text(run, self.titles))


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
