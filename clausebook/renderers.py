"""An orjson renderer for API views that send JSON they already have (``orjson.Fragment``).

DRF's ``JSONRenderer`` encodes with the standard library, which cannot embed JSON text as is: a
list whose rows PostgreSQL built as JSON (the transcript list) would be parsed and encoded again.
This renderer writes the response with orjson, ``Fragment`` values verbatim. Anything orjson does
not know (a lazy translation, a ``Decimal``) falls back to ``JSONRenderer``, so an error body
renders exactly as elsewhere. U+2028 and U+2029 are escaped as ``JSONRenderer`` escapes them, so a
body stays a strict JavaScript subset. Views opt in (the transcript list; label-and-next, whose
every answer carries a transcript and whose values are already text, ints and lists); the
project's default stays DRF's renderer (its datetime and float formatting is what every other
endpoint has always sent).
"""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer

_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()


class ORJSONRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        if data is None:
            return b""
        indent = self.get_indent(accepted_media_type or "", renderer_context or {})
        try:
            body = orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else 0)
        except TypeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _LINE_SEPARATOR in body or _PARAGRAPH_SEPARATOR in body:
            # As JSONRenderer does: escaped, the body stays a strict JavaScript subset.
            body = body.replace(_LINE_SEPARATOR, b"\\u2028").replace(
                _PARAGRAPH_SEPARATOR, b"\\u2029"
            )
        return body
