"""What a reader types into the search box, as PostgreSQL ``to_tsquery`` text.

The syntax is the web-search one the page documents (quotes for phrases, ``-word`` to exclude,
``or`` for either) plus prefix matching of bare words, so "info hazard" finds "information
hazards" as a reader expects ('info':* & 'hazard':*). ``websearch_to_tsquery`` has no prefix
operator, and raw user text must never reach ``to_tsquery`` (its operators ``& | ! <-> :* ( )``
and quotes are syntax there): this module builds the query from the words alone. Each operand
is a run of letters and digits in single quotes, so nothing the user types can become
operator or quote; ``to_tsquery('english', ...)`` then stems each operand and drops stop words.

Framework-free (stdlib only).
"""

from __future__ import annotations

import re

__all__ = ["MAX_TERMS", "tsquery_text"]

# Enough for any real query; bounds the work a pasted paragraph can cause.
MAX_TERMS = 32
# A lexeme longer than this is no word anyone searches for (PostgreSQL refuses operands of
# 2 KB and more with an error).
_MAX_WORD = 100

# A quoted phrase (the closing quote may be missing), or a run of anything but spaces and
# quotes; either may carry a leading "-".
_TERM_RE = re.compile(r'(-?)"([^"]*)"?|(-?)([^\s"]+)')
# Letters and digits only: the one thing that is ever quoted into the tsquery.
_WORD_RE = re.compile(r"[^\W_]+")


def _operand(words: list[str]) -> str:
    return " <-> ".join(f"'{word[:_MAX_WORD]}'" for word in words)


def tsquery_text(q: str) -> str:
    """``to_tsquery`` text for the words of ``q``; ``""`` when there is nothing to search.

    * a bare word matches as a prefix: ``hazard`` -> ``'hazard':*``;
    * a word with inner punctuation (``e-mail``, ``don't``) is a phrase of its parts, the last
      one a prefix: ``'e' <-> 'mail':*``;
    * ``"a quoted phrase"`` matches those words in that order, exactly;
    * ``-word`` or ``-"a phrase"`` excludes (exactly, never as a prefix);
    * ``or`` between two terms matches either; terms are otherwise all required.
    """
    parts: list[str] = []  # operands and the operators between them
    pending_or = False
    terms = 0
    for match in _TERM_RE.finditer(q or ""):
        quoted = match.group(2) is not None
        negated = bool(match.group(1) if quoted else match.group(3))
        raw = match.group(2) if quoted else match.group(4)
        if not quoted and not negated and raw.lower() == "or":
            pending_or = bool(parts)
            continue
        words = _WORD_RE.findall(raw)
        if not words:
            continue
        operand = _operand(words)
        if not quoted and not negated:
            operand += ":*"
        if len(words) > 1:
            operand = f"({operand})"
        if negated:
            operand = f"!{operand}"
        if parts:
            parts.append("|" if pending_or else "&")
        parts.append(operand)
        pending_or = False
        terms += 1
        if terms == MAX_TERMS:
            break
    return " ".join(parts)
