"""The API's JSON parser (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``).

DRF's own parser uses the standard library, which recurses per nesting level: a body nested
2,000 deep answered 500 (``RecursionError``). This one parses with orjson through
``clausebook.jsonbody.parse`` and answers 400 ``{"detail": "Malformed JSON at line L, column
C: <what>.", "line": L, "column": C}`` for any body it refuses (syntax, encoding, depth).
"""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from clausebook import jsonbody


class MalformedBody(ParseError):
    """A 400 whose body is ``body`` as is (the exception handler keeps its integers)."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["detail"])
        self.body = body


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        raw = stream.read() if stream is not None else b""
        if encoding.lower().replace("-", "").replace("_", "") != "utf8":
            try:
                raw = raw.decode(encoding)
            except (LookupError, UnicodeDecodeError) as error:
                raise MalformedBody(
                    {"detail": f"Malformed JSON: the body is not {encoding} text ({error})."}
                ) from None
        try:
            return jsonbody.parse(raw)
        except jsonbody.MalformedJSON as error:
            raise MalformedBody(error.as_dict()) from None
