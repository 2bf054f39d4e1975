"""Parse and export the OpenAI Model Spec Markdown dialect (and plain Markdown).

Framework-free on purpose: nothing here imports Django, so the parser can be used and tested
without settings or a database.  The dialect is described in
``data/openai-model-spec/README.md``; in short:

* ATX headings ``#``..``######`` with an optional Pandoc-style attribute block at the end,
  ``## Title {#key authority=root tags=under_18}``;
* fenced code (```` ``` ```` or ``~~~``) whose ``#`` lines are code, not headings;
* cross-references ``[?](#key)`` / ``[text](#key)`` and eval footnotes ``[^abcd]``;
* examples: a line ``**Example**: <title>`` followed by a ``~~~xml`` fence holding
  ``<system>``, ``<developer>``, ``<user>``, ``<assistant ...>`` and ``<tool name="...">``
  messages, and ``<comparison>`` blocks of graded ``<assistant>`` candidates whose grade is an
  HTML comment right after the opening tag (``<!-- GOOD -->``, ``<!-- BAD[#key]: reason -->``).

Parsing is line based and linear in the size of the input; no regex used here can backtrack
over more than one line.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field

__all__ = [
    "AUTHORITIES",
    "AUTHORITY_ALIASES",
    "AUTHORITY_LABELS",
    "Candidate",
    "Message",
    "ParsedClause",
    "ParsedExample",
    "ParsedSpec",
    "SpecSyntaxError",
    "Turn",
    "example_fingerprint",
    "example_to_xml",
    "export_spec",
    "parse_eval_examples",
    "parse_spec",
    "slugify_key",
    "spec_fingerprint_for_roundtrip",
]

# The authority levels of the dialect, highest first, with the label people read. The one list:
# the model's choices, the presenters' badges and the import page's help derive from it.
AUTHORITY_LABELS = {
    "root": "Root",
    "system": "System",
    "developer": "Developer",
    "user": "User",
    "guideline": "Guideline",
}
AUTHORITIES = tuple(AUTHORITY_LABELS)
# Versions up to 2025-04-11 call the top level "platform"; 2025-09-12 renamed it "root".
AUTHORITY_ALIASES = {"platform": "root"}
_KNOWN_AUTHORITY_VALUES = frozenset(AUTHORITIES) | frozenset(AUTHORITY_ALIASES)

MESSAGE_ROLES = ("system", "developer", "user", "assistant", "tool")
GRADES = ("good", "bad", "ok")

DIALECT_MODEL_SPEC = "model_spec"
DIALECT_PLAIN = "plain"


class SpecSyntaxError(ValueError):
    """A fatal syntax error; the whole document is rejected.

    ``line`` is 1-based, ``message`` says what was wrong, ``source`` optionally names the file.
    ``str(err)`` is ``"line 42: duplicate key 'foo' (first defined on line 7)"``.
    """

    def __init__(self, line: int, message: str, source: str = "") -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message
        self.source = source

    def __reduce__(self) -> tuple:  # keep pickling (e.g. across processes) working with 3 arguments
        return (type(self), (self.line, self.message, self.source))


@dataclass
class Message:
    """One conversation message; ``role`` is one of ``MESSAGE_ROLES``.

    ``content`` is the literal text between the opening and closing tag lines (nested markup
    such as ``<untrusted>`` or ``<settings>`` and HTML entities are kept verbatim).
    """

    role: str
    content: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Candidate:
    """A graded ``<assistant>`` answer inside a ``<comparison>``.

    ``grade`` is ``good``/``bad``/``ok``; ``reason`` is the text after ``:`` in the grade comment
    (``""`` if none); ``cites`` is the clause key from ``BAD[#key]`` (``""`` if none).
    """

    content: str
    grade: str
    reason: str = ""
    cites: str = ""
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class Turn:
    """One step of an example conversation: exactly one of ``message``/``comparison`` is set."""

    message: Message | None = None
    comparison: list[Candidate] | None = None


@dataclass
class ParsedExample:
    """An ``**Example**:`` block.

    ``line`` is the 1-based line of the ``**Example**:`` line.  ``body_offset`` is the character
    offset in the owning clause's ``body`` where the block was cut out (0 for eval files).
    ``between_turns`` maps a turn index to free text (e.g. ``[...]``, elided turns) that stood
    on its own between messages just before that turn (index ``len(turns)``: after the last).
    """

    title: str
    turns: list[Turn]
    line: int
    body_offset: int = 0
    between_turns: dict[int, str] = field(default_factory=dict)


@dataclass
class ParsedClause:
    """One heading and its prose.

    ``body`` is the Markdown under the heading up to the next heading of any level, with the
    example blocks removed (see ``ParsedExample.body_offset``) and blank lines trimmed at both
    ends; commentary admonitions stay in it verbatim.  ``position`` is the 0-based index of the
    clause in document order (so sorting siblings by it keeps their order).  ``authority`` is
    normalised (``platform`` -> ``root``); ``authority_source`` is the value as written, or None
    if the heading had no ``authority``.  ``references`` are the keys linked with
    ``[..](#key)`` in the prose, example titles and grade reasons, and ``footnotes`` the
    ``[^id]`` ids in the prose and example titles, both in order of first appearance.
    """

    key: str
    title: str
    level: int
    parent_key: str | None
    position: int
    authority: str | None
    authority_source: str | None
    tags: list[str]
    body: str
    examples: list[ParsedExample]
    footnotes: list[str]
    references: list[str]
    line: int


@dataclass
class ParsedSpec:
    """A parsed document.  ``dialect`` is ``"model_spec"`` if any heading carries an attribute
    block, else ``"plain"``.  ``warnings`` are ``"line N: ..."`` strings for non-fatal problems.
    """

    clauses: list[ParsedClause]
    preamble: str
    warnings: list[str]
    dialect: str


# --------------------------------------------------------------------------------------------
# Line scanning: fences and headings


_FENCE_OPEN_RE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_HEADING_RE = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*))?")
_CLOSING_HASHES_RE = re.compile(r"(?:^|[ \t]+)#+$")
_ATTR_TOKEN_RE = re.compile(r"""[^\s=]+=(?:"[^"]*"|'[^']*'|\S*)|\S+""")
_KEY_RE = re.compile(r"[A-Za-z0-9_][\w.:-]*")
_EXAMPLE_LINE_PREFIX = "**Example**:"
_FOOTNOTE_RE = re.compile(r"\[\^([^\]\s]+)\]")
_REFERENCE_RE = re.compile(r"\[[^\[\]]*\]\(#([^)\s]+)\)")
_LEADING_BLANK_LINES_RE = re.compile(r"(?:[ \t]*\n)*")


@dataclass
class _Fence:
    open_idx: int  # 0-based line index of the opening fence line
    close_idx: int  # 0-based line index of the closing fence line
    info: str


@dataclass
class _Heading:
    idx: int
    level: int
    title: str
    attr_block: str | None  # inner text of a trailing {...} block, None if absent


def _scan(lines: list[str], source: str = "") -> tuple[dict[int, _Fence], list[_Heading]]:
    """Find fenced code blocks (CommonMark rules) and ATX headings outside them.

    Raises SpecSyntaxError for a fence that is never closed, on the line where it opened.
    """
    fences: dict[int, _Fence] = {}
    headings: list[_Heading] = []
    open_idx = -1
    fence_char = ""
    fence_len = 0
    info = ""
    for i, line in enumerate(lines):
        if open_idx >= 0:
            stripped = line.strip()
            if (
                stripped[:1] == fence_char
                and len(line) - len(line.lstrip(" ")) < 4
                and len(stripped) >= fence_len
                and stripped == fence_char * len(stripped)
            ):
                fences[open_idx] = _Fence(open_idx, i, info)
                open_idx = -1
            continue
        first = line.lstrip(" ")[:1]
        if first in ("`", "~"):
            m = _FENCE_OPEN_RE.match(line)
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                open_idx = i
                fence_char = m.group(1)[0]
                fence_len = len(m.group(1))
                info = m.group(2).strip()
            continue
        if first == "#":
            m = _HEADING_RE.fullmatch(line)
            if m:
                title, block = _split_heading_text((m.group(2) or "").strip())
                headings.append(_Heading(i, len(m.group(1)), title, block))
    if open_idx >= 0:
        raise SpecSyntaxError(open_idx + 1, "code fence is never closed", source)
    return fences, headings


def _split_heading_text(text: str) -> tuple[str, str | None]:
    """Split ``Title {#key ...}`` into the title and the attribute block's inner text.

    A trailing ``{...}`` counts as an attribute block only if it looks like Pandoc attributes
    (starts with ``#`` or ``.``, or has ``key=value``); ``## Sets {x}`` stays a plain title.
    """
    block = None
    if text.endswith("}"):
        start = text.rfind("{")
        inner = text[start + 1 : -1] if start >= 0 else ""
        if start >= 0 and "}" not in inner:
            stripped = inner.strip()
            if stripped[:1] in ("#", ".") or "=" in stripped:
                block = stripped
                text = text[:start].rstrip()
    text = _CLOSING_HASHES_RE.sub("", text).strip() if text.endswith("#") else text
    return text, block


def _parse_attr_block(block: str, line: int) -> tuple[str | None, str | None, list[str]]:
    """Return ``(key, authority_as_written, tags)`` of a heading attribute block."""
    key: str | None = None
    authority: str | None = None
    tags: list[str] = []
    seen: set[str] = set()
    for token in _ATTR_TOKEN_RE.findall(block):
        if token.startswith("#"):
            name, value = "#id", token[1:]
        elif "=" in token:
            name, value = token.split("=", 1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
        else:
            raise SpecSyntaxError(line, f"unknown attribute {token!r} in heading block")
        if name in seen:
            raise SpecSyntaxError(line, f"attribute {name!r} given twice in heading block")
        seen.add(name)
        if name == "#id":
            if not _KEY_RE.fullmatch(value):
                raise SpecSyntaxError(line, f"invalid key {value!r} in heading block")
            key = value
        elif name == "authority":
            if value not in _KNOWN_AUTHORITY_VALUES:
                allowed = ", ".join(sorted(_KNOWN_AUTHORITY_VALUES))
                raise SpecSyntaxError(
                    line, f"unknown authority {value!r} (expected one of {allowed})"
                )
            authority = value
        elif name == "tags":
            for tag in value.split(","):
                tag = tag.strip()
                if tag and tag not in tags:
                    tags.append(tag)
        else:
            raise SpecSyntaxError(line, f"unknown attribute {name!r} in heading block")
    return key, authority, tags


# --------------------------------------------------------------------------------------------
# Example XML


_TAG_OPEN_RE = re.compile(
    r"""<([A-Za-z][\w-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))*)\s*>"""
)
_TAG_CLOSE_RE = re.compile(r"</([A-Za-z][\w-]*)\s*>")
_TAG_LIKE_RE = re.compile(r"</?[A-Za-z]")
_XML_ATTR_RE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_GRADE_RE = re.compile(r"\s*(GOOD|BAD|OK)\s*(?:\[\s*#?([^\]\s]*)\s*\])?\s*(?:([:,])\s*(.*?))?\s*")


def _parse_xml_attrs(text: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for m in _XML_ATTR_RE.finditer(text):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        attrs[m.group(1)] = value if value is not None else m.group(4)
    return attrs


def _parse_example_fence(
    lines: list[str],
    fence: _Fence,
    title: str,
    example_idx: int,
    warnings: list[str],
    source: str,
) -> ParsedExample:
    """Parse the lines inside an example fence into turns.

    Raises SpecSyntaxError (with absolute line numbers) for unknown or unclosed tags, bad grade
    comments, and non-assistant messages inside a comparison.
    """
    turns: list[Turn] = []
    between: dict[int, str] = {}
    comparison: list[Candidate] | None = None
    comparison_line = 0
    i = fence.open_idx + 1
    end = fence.close_idx
    while i < end:
        line = lines[i]
        lineno = i + 1
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        if stripped.startswith("*<") and _TAG_LIKE_RE.match(stripped, 1):
            # 2025-02-12/04-11 have "*<comparison>"-style typos; the tag is clearly meant.
            warnings.append(f"line {lineno}: stray '*' before {stripped[1:].split('>')[0]}>")
            stripped = stripped[1:]
        close = _TAG_CLOSE_RE.fullmatch(stripped)
        if close:
            if close.group(1) == "comparison" and comparison is not None:
                if not comparison:
                    warnings.append(f"line {lineno}: empty <comparison>")
                turns.append(Turn(comparison=comparison))
                comparison = None
                i += 1
                continue
            raise SpecSyntaxError(lineno, f"unexpected closing tag {stripped}", source)
        opened = _TAG_OPEN_RE.match(stripped)
        if not opened:
            if _TAG_LIKE_RE.match(stripped):
                raise SpecSyntaxError(lineno, f"malformed tag {stripped[:40]!r}", source)
            if comparison is not None:
                raise SpecSyntaxError(
                    lineno, f"text outside a message inside <comparison>: {stripped[:40]!r}", source
                )
            index = len(turns)
            between[index] = f"{between[index]}\n{stripped}" if index in between else stripped
            i += 1
            continue
        tag = opened.group(1)
        attrs = _parse_xml_attrs(opened.group(2))
        rest = stripped[opened.end() :]
        if tag == "comparison":
            if comparison is not None:
                raise SpecSyntaxError(lineno, "nested <comparison>", source)
            if attrs or rest.strip():
                warnings.append(f"line {lineno}: ignored attributes/text on <comparison>")
            comparison = []
            comparison_line = lineno
            i += 1
            continue
        if tag not in MESSAGE_ROLES:
            raise SpecSyntaxError(lineno, f"unknown tag <{tag}> in example", source)
        grade_text: str | None = None
        rest = rest.lstrip()
        if rest.startswith("<!--"):
            stop = rest.find("-->")
            if stop < 0:
                raise SpecSyntaxError(lineno, "unterminated <!-- comment on message tag", source)
            grade_text = rest[4:stop]
            rest = rest[stop + 3 :].lstrip()
        # Collect content up to the closing tag (which may share the opening line).
        closing = f"</{tag}>"
        content_lines: list[str] = []
        j = i
        if rest.endswith(closing):
            content_lines.append(rest[: -len(closing)])
        else:
            if rest:
                content_lines.append(rest)
            j = i + 1
            while j < end:
                candidate = lines[j].rstrip()
                if candidate.strip() == closing:
                    break
                if candidate.endswith(closing):
                    content_lines.append(candidate[: -len(closing)])
                    break
                content_lines.append(lines[j])
                j += 1
            else:
                raise SpecSyntaxError(lineno, f"<{tag}> is never closed", source)
        content = "\n".join(content_lines)
        if comparison is not None:
            if tag != "assistant":
                raise SpecSyntaxError(
                    lineno, f"<{tag}> inside <comparison> (only <assistant> candidates)", source
                )
            if grade_text is None:
                raise SpecSyntaxError(lineno, "candidate <assistant> has no grade comment", source)
            comparison.append(_make_candidate(content, attrs, grade_text, lineno, warnings, source))
        else:
            if grade_text is not None:
                raise SpecSyntaxError(
                    lineno, f"comment <!--{grade_text}--> on a message outside <comparison>", source
                )
            turns.append(Turn(message=Message(role=tag, content=content, attrs=attrs)))
        i = j + 1
    if comparison is not None:
        raise SpecSyntaxError(comparison_line, "<comparison> is never closed", source)
    return ParsedExample(
        title=title, turns=turns, line=example_idx + 1, body_offset=0, between_turns=between
    )


def _make_candidate(
    content: str,
    attrs: dict[str, str],
    grade_text: str,
    lineno: int,
    warnings: list[str],
    source: str,
) -> Candidate:
    m = _GRADE_RE.fullmatch(grade_text)
    if not m:
        raise SpecSyntaxError(
            lineno,
            f"invalid grade comment <!--{grade_text}--> (expected GOOD, BAD or OK)",
            source,
        )
    grade, cites, separator, reason = m.groups()
    if separator == ",":
        warnings.append(f"line {lineno}: grade comment uses ',' instead of ':' before its reason")
    if separator and not reason:
        warnings.append(f"line {lineno}: grade comment has ':' but no reason")
    return Candidate(
        content=content,
        grade=grade.lower(),
        reason=reason or "",
        cites=cites or "",
        attrs=attrs,
    )


def _example_at(lines: list[str], idx: int, fences: dict[int, _Fence]) -> tuple[_Fence | None, str]:
    """For an ``**Example**:`` line, return its xml fence, or None and what is wrong."""
    j = idx + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    fence = fences.get(j)
    if fence is None:
        what = "end of file" if j >= len(lines) else repr(lines[j].strip()[:40])
        return None, f"**Example**: is not followed by a ~~~xml fence (found {what})"
    language = fence.info.split()[0].lower() if fence.info else ""
    if language not in ("", "xml"):
        return None, f"**Example**: fence is {fence.info!r}, expected xml"
    return fence, ""


# --------------------------------------------------------------------------------------------
# Public parsing API


def _normalise_newlines(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _strip_blank_lines(text: str) -> tuple[str, int]:
    """Trim whitespace-only lines at the start and all trailing whitespace.

    Returns the trimmed text and how many characters were removed at the start.
    """
    lead = _LEADING_BLANK_LINES_RE.match(text)
    start = lead.end() if lead else 0
    return text[start:].rstrip(), start


def _footnote_ids(text: str) -> list[str]:
    """Footnote references in order, skipping definitions (``[^id]:`` at the start of a line)."""
    ids: list[str] = []
    for m in _FOOTNOTE_RE.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if text.startswith(":", m.end()) and not text[line_start : m.start()].strip():
            continue
        ids.append(m.group(1))
    return _unique(ids)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def slugify_key(title: str) -> str:
    """Derive a snake_case ASCII key from a heading title.

    Markdown links keep only their text, accents are folded (``é`` -> ``e``), any run of other
    characters becomes ``_``; the result is cut to at most 80 characters (keys are stored in
    120-character columns and may get a ``_N`` suffix); an empty result becomes ``"section"``.
    Deterministic and idempotent.
    """
    text = re.sub(r"\[([^\[\]]*)\]\([^()\s]*\)", r"\1", title)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return text[:80].rstrip("_") or "section"


def parse_spec(text: str) -> ParsedSpec:
    """Parse a Model Spec (or plain Markdown) document.

    Contract:
    * every ATX heading outside code fences starts a clause; text before the first heading is
      the ``preamble``;
    * explicit keys come from ``{#key}``; headings without one get ``slugify_key(title)``,
      de-duplicated with ``_2``, ``_3``...;
    * ``platform`` authority is normalised to ``root`` (original kept in ``authority_source``);
    * raises SpecSyntaxError for a duplicate explicit key, an unknown heading attribute or
      authority, an unclosed code fence, an ``**Example**:`` not followed by a parseable xml
      fence (in the ``plain`` dialect a non-fence follower only warns and stays prose);
    * non-fatal problems (skipped heading levels, stray ``*`` before tags, ...) are returned
      in ``warnings`` as ``"line N: ..."``.
    """
    text = _normalise_newlines(text)
    lines = text.split("\n")
    line_start = [0] * (len(lines) + 1)
    pos = 0
    for i, line in enumerate(lines):
        line_start[i] = pos
        pos += len(line) + 1
    line_start[len(lines)] = len(text)

    def offset(idx: int) -> int:
        return min(line_start[idx], len(text))

    fences, headings = _scan(lines)
    dialect = DIALECT_MODEL_SPEC if any(h.attr_block for h in headings) else DIALECT_PLAIN
    warnings: list[str] = []

    # Heading attributes and keys.  Explicit keys are collected first so that derived keys
    # never collide with an explicit key defined further down.
    parsed_attrs: list[tuple[str | None, str | None, list[str]]] = []
    explicit_lines: dict[str, int] = {}
    for h in headings:
        if h.attr_block is None:
            parsed_attrs.append((None, None, []))
            continue
        key, authority, tags = _parse_attr_block(h.attr_block, h.idx + 1)
        if key is not None:
            if key in explicit_lines:
                raise SpecSyntaxError(
                    h.idx + 1,
                    f"duplicate key {key!r} (first defined on line {explicit_lines[key]})",
                )
            explicit_lines[key] = h.idx + 1
        parsed_attrs.append((key, authority, tags))
    keys = _assign_keys(headings, [a[0] for a in parsed_attrs], set(explicit_lines))
    if dialect == DIALECT_MODEL_SPEC:
        for h, (key, _, _), derived in zip(headings, parsed_attrs, keys, strict=True):
            if key is None:
                warnings.append(f"line {h.idx + 1}: heading has no {{#key}}; derived {derived!r}")

    # Examples, keyed by the index of their **Example**: line.
    first_heading = headings[0].idx if headings else len(lines)
    examples: dict[int, tuple[ParsedExample, int]] = {}  # idx -> (example, last line idx)
    i = 0
    while i < len(lines):
        fence = fences.get(i)
        if fence is not None:
            i = fence.close_idx + 1
            continue
        line = lines[i]
        if line.startswith(_EXAMPLE_LINE_PREFIX):
            ex_fence, problem = _example_at(lines, i, fences)
            if i < first_heading:
                warnings.append(f"line {i + 1}: example before the first heading kept as preamble")
            elif ex_fence is None:
                if dialect == DIALECT_MODEL_SPEC:
                    raise SpecSyntaxError(i + 1, problem)
                warnings.append(f"line {i + 1}: {problem}; kept as prose")
            else:
                title = line[len(_EXAMPLE_LINE_PREFIX) :].strip()
                example = _parse_example_fence(lines, ex_fence, title, i, warnings, "")
                examples[i] = (example, ex_fence.close_idx)
                i = ex_fence.close_idx + 1
                continue
        i += 1

    preamble, _ = _strip_blank_lines(text[: offset(first_heading)])
    clauses: list[ParsedClause] = []
    stack: list[tuple[int, str, int]] = []  # (level, key, line) of open ancestors
    for n, h in enumerate(headings):
        end_idx = headings[n + 1].idx if n + 1 < len(headings) else len(lines)
        key = keys[n]
        _, authority_source, tags = parsed_attrs[n]
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        parent_key = stack[-1][1] if stack else None
        if stack and h.level > stack[-1][0] + 1:
            warnings.append(
                f"line {h.idx + 1}: heading level {h.level} under a level {stack[-1][0]} "
                f"heading (line {stack[-1][2]}) skips a level"
            )
        stack.append((h.level, key, h.idx + 1))

        body_parts: list[str] = []
        scan_parts: list[str] = []
        clause_examples: list[ParsedExample] = []
        body_len = 0
        cursor = offset(h.idx + 1)
        j = h.idx + 1
        while j < end_idx:
            if j in examples:
                example, last = examples[j]
                chunk = text[cursor : offset(j)]
                body_parts.append(chunk)
                body_len += len(chunk)
                example.body_offset = body_len
                clause_examples.append(example)
                scan_parts.append(example.title)
                scan_parts.extend(
                    c.reason for t in example.turns for c in (t.comparison or ()) if c.reason
                )
                cursor = offset(last + 1)
                j = last + 1
                continue
            fence = fences.get(j)
            if fence is not None:
                j = fence.close_idx + 1
                continue
            scan_parts.append(lines[j])
            j += 1
        body_parts.append(text[cursor : offset(end_idx)])
        body, lead = _strip_blank_lines("".join(body_parts))
        for example in clause_examples:
            example.body_offset = min(max(example.body_offset - lead, 0), len(body))

        scan_text = "\n".join(scan_parts)
        clauses.append(
            ParsedClause(
                key=key,
                title=h.title,
                level=h.level,
                parent_key=parent_key,
                position=n,
                authority=(
                    AUTHORITY_ALIASES.get(authority_source, authority_source)
                    if authority_source
                    else None
                ),
                authority_source=authority_source,
                tags=tags,
                body=body,
                examples=clause_examples,
                footnotes=_footnote_ids(scan_text),
                references=_unique(_REFERENCE_RE.findall(scan_text)),
                line=h.idx + 1,
            )
        )
    warnings.sort(key=lambda w: int(w[5 : w.index(":")]))  # collected in several passes
    return ParsedSpec(clauses=clauses, preamble=preamble, warnings=warnings, dialect=dialect)


def _assign_keys(
    headings: list[_Heading], explicit: list[str | None], taken: set[str]
) -> list[str]:
    """Explicit keys as given; derived keys from titles, suffixed ``_2``, ``_3``... if taken."""
    used = set(taken)
    keys: list[str] = []
    for h, key in zip(headings, explicit, strict=True):
        if key is None:
            base = slugify_key(h.title)
            key = base
            suffix = 2
            while key in used:
                key = f"{base}_{suffix}"
                suffix += 1
            used.add(key)
        keys.append(key)
    return keys


def parse_eval_examples(text: str, *, source: str = "") -> tuple[str, list[ParsedExample]]:
    """Parse an eval prompt file (``examples/abcd.md``).

    The first line must be ``Examples for [^abcd] in <Section title>:``; the rest may hold
    only ``**Example**:`` blocks and blank lines.  Returns ``(section title, examples)`` with
    ``body_offset`` 0.  Raises SpecSyntaxError (``.source`` = ``source``) on any problem.
    """
    text = _normalise_newlines(text)
    lines = text.split("\n")
    header = re.fullmatch(r"Examples for \[\^([^\]\s]+)\] in (.+?):?", lines[0].strip())
    if not header:
        raise SpecSyntaxError(
            1, "first line must be 'Examples for [^id] in <section title>:'", source
        )
    fences, _ = _scan(lines, source)
    warnings: list[str] = []
    examples: list[ParsedExample] = []
    i = 1
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if not line.startswith(_EXAMPLE_LINE_PREFIX):
            raise SpecSyntaxError(
                i + 1, f"unexpected text outside an example: {line[:40]!r}", source
            )
        fence, problem = _example_at(lines, i, fences)
        if fence is None:
            raise SpecSyntaxError(i + 1, problem, source)
        title = line[len(_EXAMPLE_LINE_PREFIX) :].strip()
        examples.append(_parse_example_fence(lines, fence, title, i, warnings, source))
        i = fence.close_idx + 1
    return header.group(2).strip(), examples


# --------------------------------------------------------------------------------------------
# Export


def _format_attrs(attrs: dict[str, str]) -> str:
    parts = []
    for name, value in attrs.items():
        quote = "'" if '"' in value else '"'
        parts.append(f" {name}={quote}{value}{quote}")
    return "".join(parts)


def _grade_comment(candidate: Candidate) -> str:
    text = candidate.grade.upper()
    if candidate.cites:
        text += f"[#{candidate.cites}]"
    if candidate.reason:
        # "-->" would end the comment early.
        text += ": " + candidate.reason.replace("-->", "-- >")
    return f"<!-- {text} -->"


def _message_xml(role: str, attrs: dict[str, str], content: str, comment: str = "") -> list[str]:
    opening = f"<{role}{_format_attrs(attrs)}>" + (f" {comment}" if comment else "")
    return [opening, content, f"</{role}>"] if content else [opening, f"</{role}>"]


def example_to_xml(example: ParsedExample) -> str:
    """Render an example as ``**Example**: <title>``, a blank line and a ``~~~xml`` fence.

    The result ends with a newline.  The fence is lengthened if a content line starts with
    ``~~~`` so the content cannot close it.  ``parse`` of the output gives back equal turns.
    """
    body: list[str] = []
    for index, turn in enumerate(example.turns):
        if index in example.between_turns:
            body.append(example.between_turns[index])
        if turn.message is not None:
            m = turn.message
            body.extend(_message_xml(m.role, m.attrs, m.content))
        else:
            body.append("<comparison>")
            for c in turn.comparison or ():
                body.extend(_message_xml("assistant", c.attrs, c.content, _grade_comment(c)))
            body.append("</comparison>")
    if len(example.turns) in example.between_turns:
        body.append(example.between_turns[len(example.turns)])
    inner = "\n".join(body)
    longest = max((len(t) for t in re.findall(r"(?m)^ {0,3}(~{3,})", inner)), default=2)
    fence = "~" * max(3, longest + 1)
    title = f"{_EXAMPLE_LINE_PREFIX} {example.title}".rstrip()
    return (
        f"{title}\n\n{fence}xml\n{inner}\n{fence}\n"
        if inner
        else f"{title}\n\n{fence}xml\n{fence}\n"
    )


def _clause_content(clause: ParsedClause) -> str:
    """Body with the examples put back at their offsets, separated by blank lines."""
    out = ""
    pos = 0
    for example in sorted(clause.examples, key=lambda e: e.body_offset):
        at = min(max(example.body_offset, pos), len(clause.body))
        out += clause.body[pos:at]
        pos = at
        if out and not out.endswith("\n\n"):
            out += "\n" if out.endswith("\n") else "\n\n"
        out += example_to_xml(example)
    rest = clause.body[pos:]
    if out and rest and not rest.startswith("\n"):
        out += "\n"
    return (out + rest).strip("\n")


def _export_authority(clause: ParsedClause) -> str | None:
    if clause.authority is None:
        return None
    source = clause.authority_source
    if source and AUTHORITY_ALIASES.get(source, source) == clause.authority:
        return source
    return clause.authority


def export_spec(spec: ParsedSpec) -> str:
    """Write a parsed spec back as Markdown in its dialect.

    ``model_spec``: every heading gets ``{#key[ authority=..][ tags=a,b]}`` (authority as it was
    written, e.g. ``platform``, unless it was changed since).  ``plain``: headings carry no
    attribute block, unless some key/authority/tags could not be recovered from the titles, in
    which case all headings get one so nothing is lost.  Guaranteed: re-parsing the output
    yields the same keys, titles, authorities, tags, parents, ``.strip()``-equal bodies and
    equal examples (``spec_fingerprint_for_roundtrip``).
    """
    with_blocks = spec.dialect != DIALECT_PLAIN
    if not with_blocks:
        derived = _assign_keys(
            [_Heading(0, c.level, c.title, None) for c in spec.clauses],
            [None] * len(spec.clauses),
            set(),
        )
        with_blocks = any(
            c.authority is not None or c.tags or c.key != key
            for c, key in zip(spec.clauses, derived, strict=True)
        )
    parts: list[str] = []
    if spec.preamble.strip():
        parts.append(spec.preamble.strip("\n") + "\n")
    for clause in spec.clauses:
        heading = "#" * min(max(clause.level, 1), 6) + " " + clause.title
        if with_blocks:
            attrs = [f"#{clause.key}"]
            authority = _export_authority(clause)
            if authority:
                attrs.append(f"authority={authority}")
            if clause.tags:
                attrs.append("tags=" + ",".join(clause.tags))
            heading += " {" + " ".join(attrs) + "}"
        content = _clause_content(clause)
        parts.append(f"{heading}\n\n{content}\n" if content else f"{heading}\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# Fingerprints


def _normalise_content(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n")).strip("\n")


def _turn_tuple(turn: Turn) -> tuple:
    if turn.message is not None:
        m = turn.message
        return ("message", m.role, tuple(sorted(m.attrs.items())), _normalise_content(m.content))
    return (
        "comparison",
        tuple(
            (
                c.grade,
                " ".join(c.reason.split()),
                c.cites,
                tuple(sorted(c.attrs.items())),
                _normalise_content(c.content),
            )
            for c in turn.comparison or ()
        ),
    )


def _example_tuple(example: ParsedExample) -> tuple:
    between = tuple(sorted((k, v.strip()) for k, v in example.between_turns.items()))
    return (" ".join(example.title.split()), tuple(_turn_tuple(t) for t in example.turns), between)


def example_fingerprint(example: ParsedExample) -> str:
    """SHA-256 hex of the example's normalised title and turns.

    Insensitive to line numbers, body offsets, ``between_turns``, trailing whitespace and
    attribute order; sensitive to roles, attributes, content, grades, reasons and cites.
    ``between_turns`` is left out so an example rebuilt from storage that keeps only the turns
    fingerprints the same as the freshly parsed one.
    """
    title, turns, _ = _example_tuple(example)
    data = json.dumps([title, turns], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def spec_fingerprint_for_roundtrip(spec: ParsedSpec) -> list[tuple]:
    """One ``(key, title, authority, tags, parent_key, [example tuples])`` per clause, in order."""
    return [
        (
            c.key,
            c.title,
            c.authority,
            tuple(c.tags),
            c.parent_key,
            [_example_tuple(e) for e in c.examples],
        )
        for c in spec.clauses
    ]
