"""Parsing untrusted JSON request bodies: every malformed body is a 400 that says what is wrong.

The standard library's parser recurses once per nesting level, so a body of ``[`` 2,000 deep
raised ``RecursionError`` (a 500) before any view code ran. orjson parses iteratively and stops
at 1,024 levels with a position; Clausebook allows at most :data:`MAX_DEPTH` levels, because
Python code downstream (Django's ``JSONField``, DRF's ``JSONField`` validation, ``json.dumps``)
still recurses and would fail somewhere between 900 and 1,000 levels.

* DRF views get this through ``clausebook.parsers.JSONParser`` (the default parser).
* Plain Django views call :func:`load` and let :class:`MalformedJSON` (a ``BadRequest``)
  become a 400, or catch it and answer :func:`error_response`.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.exceptions import BadRequest
from django.http import HttpRequest, JsonResponse

#: Arrays and objects nested deeper than this are refused. Real payloads (messages, spans,
#: metadata) stay under ten levels; 254 is also what ``orjson.dumps`` accepts, which is how the
#: limit is checked (see :func:`parse`).
MAX_DEPTH = 254


class MalformedJSON(BadRequest):
    """A request body that is not acceptable JSON. ``str()`` says what and where."""

    def __init__(self, problem: str, *, line: int | None = None, column: int | None = None):
        self.problem = problem
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"Malformed JSON{where}: {problem}.")

    def as_dict(self) -> dict[str, Any]:
        """The API's 400 body: ``detail`` plus ``line`` and ``column`` when they are known."""
        body: dict[str, Any] = {"detail": str(self)}
        if self.line is not None:
            body["line"] = self.line
            body["column"] = self.column
        return body


_TOO_DEEP = f"nested too deeply (at most {MAX_DEPTH} levels of arrays and objects)"


def parse(raw: bytes | str) -> Any:
    """Parse ``raw`` (UTF-8 bytes or text); :class:`MalformedJSON` on anything unacceptable."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        problem = _TOO_DEEP if "depth limit" in error.msg else error.msg
        raise MalformedJSON(problem, line=error.lineno, column=error.colno) from None
    if isinstance(value, dict | list):
        try:
            # orjson's encoder refuses more than MAX_DEPTH levels. Encoding is ~10x faster than
            # walking the value in Python, and is the only way to learn the depth without
            # recursing; a parsed value has nothing else the encoder could refuse.
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            raise MalformedJSON(_TOO_DEEP) from None
    return value


def load(request: HttpRequest) -> Any:
    """The request's JSON body, for plain Django views. Raises :class:`MalformedJSON` (a 400)."""
    content_type = request.content_type or ""
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise MalformedJSON(f"expected Content-Type application/json, got {content_type!r}")
    return parse(request.body)  # request.body enforces DATA_UPLOAD_MAX_MEMORY_SIZE (413)


def error_response(error: MalformedJSON) -> JsonResponse:
    """A 400 JSON answer in the API's shape, for views that catch :class:`MalformedJSON`."""
    return JsonResponse(error.as_dict(), status=400)
