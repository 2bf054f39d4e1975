"""The judge's answer: a JSON schema built from a campaign's scales, and its validator.

Contracts
---------
* :func:`verdict_schema` is one label: ``verdict`` (an enum of the verdict scale's values),
  ``severity`` (the severity scale's values, or ``""`` for none), ``rationale`` (a string of at
  most ``max_rationale`` characters); all required, nothing else allowed.
* :func:`item_schema` is one object with a property per clause key, each a label as above.
* :func:`parse_answer` turns the model's text into the validated object or raises
  :class:`InvalidAnswer` with a short reason. An invalid answer is never repaired or guessed.
  ``jsonschema`` checks the document when it is importable; otherwise a hand validator for this
  fixed shape gives the same decision.
* No Django imports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

MAX_ANSWER_CHARS = 200_000


class InvalidAnswer(ValueError):
    """The model's answer is not a document the schema accepts; ``str()`` says why."""


def verdict_schema(
    *, verdicts: Sequence[str], severities: Sequence[str], max_rationale: int
) -> dict[str, Any]:
    if not verdicts:
        raise ValueError("a judge needs a verdict scale")
    return {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": list(verdicts)},
            "severity": {"type": "string", "enum": [*severities, ""]},
            "rationale": {"type": "string", "maxLength": max_rationale},
        },
        "required": ["verdict", "severity", "rationale"],
        "additionalProperties": False,
    }


def item_schema(
    *,
    clause_keys: Sequence[str],
    verdicts: Sequence[str],
    severities: Sequence[str],
    max_rationale: int,
) -> dict[str, Any]:
    one = verdict_schema(verdicts=verdicts, severities=severities, max_rationale=max_rationale)
    return {
        "type": "object",
        "properties": dict.fromkeys(clause_keys, one),
        "required": list(clause_keys),
        "additionalProperties": False,
    }


def response_format(schema: dict[str, Any], *, name: str = "judge_verdict") -> dict[str, Any]:
    """The OpenAI ``response_format`` asking for structured output under ``schema``."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def parse_answer(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The answer as a validated dict, or :class:`InvalidAnswer`."""
    if len(text) > MAX_ANSWER_CHARS:
        raise InvalidAnswer(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    try:
        document = json.loads(text)
    except ValueError:
        raise InvalidAnswer("the answer is not JSON") from None
    validate(document, schema)
    return document


def validate(document: Any, schema: dict[str, Any]) -> None:
    """Raise :class:`InvalidAnswer` unless ``document`` satisfies ``schema``."""
    # Imported here, when a judge's answer is checked: no web process needs jsonschema loaded.
    try:  # installed with drf-spectacular; the hand validator below covers its absence
        import jsonschema as _jsonschema
    except ImportError:  # pragma: no cover - depends on the environment
        _jsonschema = None
    if _jsonschema is not None:
        error = _jsonschema.exceptions.best_match(
            _jsonschema.Draft202012Validator(schema).iter_errors(document)
        )
        if error is not None:
            where = "/".join(str(part) for part in error.absolute_path) or "the answer"
            raise InvalidAnswer(f"{where}: {error.message[:300]}")
        return
    hand_validate(document, schema)


def hand_validate(document: Any, schema: dict[str, Any], where: str = "the answer") -> None:
    """The validator for the shapes this module builds (objects of enums and strings)."""
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(document, dict):
            raise InvalidAnswer(f"{where}: is not an object")
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in document:
                raise InvalidAnswer(f"{where}: {name!r} is a required property")
        if schema.get("additionalProperties") is False:
            extra = sorted(set(document) - set(properties))
            if extra:
                raise InvalidAnswer(f"{where}: unexpected properties {extra}")
        for name, sub in properties.items():
            if name in document:
                hand_validate(
                    document[name], sub, name if where == "the answer" else f"{where}/{name}"
                )
        return
    if kind == "string" and not isinstance(document, str):
        raise InvalidAnswer(f"{where}: is not a string")
    if "enum" in schema and document not in schema["enum"]:
        raise InvalidAnswer(f"{where}: {document!r} is not one of {schema['enum']}")
    if "maxLength" in schema and isinstance(document, str) and len(document) > schema["maxLength"]:
        raise InvalidAnswer(f"{where}: longer than {schema['maxLength']} characters")
