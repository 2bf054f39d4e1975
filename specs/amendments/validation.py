"""Checking an amendment change before it is stored: each payload is validated against the base
version's clause, and clause text and examples must read back from the spec's Markdown as
written, so a merged and exported version re-imports unchanged. Errors are ValidationError
``{"payload": [...]}`` (or the field they concern), shown as a 400.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from specs.amendments.merge import MERGED_FIELDS
from specs.models import (
    CLAUSE_KEY_MAX_LENGTH,
    CLAUSE_TITLE_MAX_LENGTH,
    TAG_MAX_LENGTH,
    AmendmentChange,
    Authority,
    Clause,
    ExampleOrigin,
    SpecVersion,
)
from specs.spec_markdown import (
    GRADES,
    MESSAGE_ROLES,
    Candidate,
    Message,
    ParsedExample,
    SpecSyntaxError,
    Turn,
    example_fingerprint,
    example_to_xml,
    parse_spec,
)

Kind = AmendmentChange.Kind


def invalid(message: str) -> ValidationError:
    return ValidationError({"payload": [message]})


def clause_fields_checked(key: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Validate a clause's title, body, authority and tags and return them as the spec's own
    parser reads them back, so an export of the result re-imports unchanged."""
    title = fields["title"]
    body = fields["body"]
    authority = fields["authority"] or ""
    tags = fields["tags"]
    if not isinstance(title, str) or not title.strip() or "\n" in title:
        raise invalid("A clause title is one line of text.")
    if len(title) > CLAUSE_TITLE_MAX_LENGTH:
        raise invalid(f"A clause title has at most {CLAUSE_TITLE_MAX_LENGTH} characters.")
    if not isinstance(body, str):
        raise invalid("A clause body is Markdown text.")
    if authority not in Authority.values and authority != "":
        raise invalid(f"Authority {authority!r} is not one of {', '.join(Authority.values)}.")
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and t and len(t) <= TAG_MAX_LENGTH and "," not in t and t.strip() == t
        for t in tags
    ):
        raise invalid(f"Tags are a list of words of at most {TAG_MAX_LENGTH} characters.")
    attrs = [f"#{key}"] + ([f"authority={authority}"] if authority else [])
    attrs += ["tags=" + ",".join(tags)] if tags else []
    source = f"# {title} {{{' '.join(attrs)}}}\n\n{body.replace(chr(13), '')}\n"
    try:
        parsed = parse_spec(source)
    except SpecSyntaxError as error:
        raise invalid(
            f"The clause does not parse: line {error.line - 2}: {error.message}"
        ) from error
    if len(parsed.clauses) != 1:
        raise invalid("A clause body cannot contain headings: add a clause instead.")
    clause = parsed.clauses[0]
    if clause.examples:
        raise invalid("A clause body cannot contain examples: add an example instead.")
    if clause.title != title.strip() or list(clause.tags) != tags or clause.key != key:
        raise invalid("The title, key or tags would not read back as written.")
    return {
        "title": clause.title,
        "body": clause.body,
        "authority": clause.authority or "",
        "tags": list(clause.tags),
    }


def key_checked(key: Any) -> str:
    if not isinstance(key, str) or not key or len(key) > CLAUSE_KEY_MAX_LENGTH:
        raise invalid(f"A clause key has 1 to {CLAUSE_KEY_MAX_LENGTH} characters.")
    try:
        parsed = parse_spec(f"# T {{#{key}}}\n")
    except SpecSyntaxError as error:
        raise invalid(f"Key {key!r} is not a clause key: {error.message}") from error
    if [c.key for c in parsed.clauses] != [key]:
        raise invalid(f"Key {key!r} is not a clause key (letters, digits, _ . : -).")
    return key


def example_from_payload(payload: dict[str, Any]) -> ParsedExample:
    """The example an ``add_example`` payload describes (see :func:`amendment_change_add`),
    validated: it must survive export to the spec's Markdown and back unchanged."""
    title = payload.get("title")
    turns = payload.get("turns")
    if not isinstance(title, str) or not title.strip() or "\n" in title:
        raise invalid("An example needs a title: one line of text.")
    if not isinstance(turns, list) or not turns:
        raise invalid("An example needs at least one turn.")
    parsed_turns: list[Turn] = []
    for index, turn in enumerate(turns):
        where = f"turns[{index}]"
        if (
            not isinstance(turn, dict)
            or len(turn) != 1
            or not {"message", "comparison"} & set(turn)
        ):
            raise invalid(f"{where} is {{'message': {{...}}}} or {{'comparison': [...]}}.")
        if "message" in turn:
            m = turn["message"]
            if not isinstance(m, dict) or m.get("role") not in MESSAGE_ROLES:
                raise invalid(f"{where}.message.role is one of {', '.join(MESSAGE_ROLES)}.")
            if not isinstance(m.get("content", ""), str):
                raise invalid(f"{where}.message.content is text.")
            parsed_turns.append(
                Turn(message=Message(m["role"], m.get("content", ""), dict(m.get("attrs") or {})))
            )
            continue
        candidates = turn["comparison"]
        if not isinstance(candidates, list) or not candidates:
            raise invalid(f"{where}.comparison is a non-empty list of graded answers.")
        parsed: list[Candidate] = []
        for number, c in enumerate(candidates):
            if not isinstance(c, dict) or c.get("grade") not in GRADES:
                raise invalid(f"{where}.comparison[{number}].grade is one of {', '.join(GRADES)}.")
            if not all(isinstance(c.get(k, ""), str) for k in ("content", "reason", "cites")):
                raise invalid(f"{where}.comparison[{number}]: content, reason, cites are text.")
            parsed.append(
                Candidate(
                    content=c.get("content", ""),
                    grade=c["grade"],
                    reason=" ".join(c.get("reason", "").split()),
                    cites=c.get("cites", ""),
                    attrs=dict(c.get("attrs") or {}),
                )
            )
        parsed_turns.append(Turn(comparison=parsed))
    between = payload.get("between_turns") or {}
    if not isinstance(between, dict) or not all(isinstance(v, str) for v in between.values()):
        raise invalid("between_turns maps a turn index to a line of text.")
    example = ParsedExample(
        title=title.strip(),
        turns=parsed_turns,
        line=0,
        between_turns={int(k): v for k, v in between.items()},
    )
    try:
        parsed_back = parse_spec(f"# Example {{#example}}\n\n{example_to_xml(example)}")
    except SpecSyntaxError as error:
        raise invalid(f"The example would not read back from Markdown: {error.message}") from error
    back = parsed_back.clauses[0].examples if len(parsed_back.clauses) == 1 else []
    if len(back) != 1 or example_fingerprint(back[0]) != example_fingerprint(example):
        raise invalid("The example would not read back from Markdown as written.")
    return example


def _turn_json(turn: Turn) -> dict[str, Any]:
    if turn.message is not None:
        m = turn.message
        return {"message": {"role": m.role, "content": m.content, "attrs": m.attrs}}
    return {
        "comparison": [
            {
                "content": c.content,
                "grade": c.grade,
                "reason": c.reason,
                "cites": c.cites,
                "attrs": c.attrs,
            }
            for c in turn.comparison or ()
        ]
    }


def payload_cleaned(
    kind: str, clause: Clause | None, clause_key: str, payload: Any, version: SpecVersion
) -> dict[str, Any]:
    """Validate ``payload`` for ``kind`` against the base version's clause; the stored form."""
    if not isinstance(payload, dict):
        raise invalid("The payload is a JSON object.")
    if kind == Kind.ADD_CLAUSE:
        if clause is not None:
            raise ValidationError({"clause_key": [f"Clause “{clause_key}” already exists."]})
        key_checked(clause_key)
        fields = {
            "title": payload.get("title", ""),
            "body": payload.get("body", ""),
            "authority": payload.get("authority", ""),
            "tags": payload.get("tags", []),
        }
        cleaned = clause_fields_checked(clause_key, fields)
        cleaned.update(_check_place(payload, version, moving=None))
        return cleaned
    if clause is None:
        raise ValidationError(
            {"clause_key": [f"No clause “{clause_key}” in version {version.label}."]}
        )
    if kind == Kind.CHANGE_CLAUSE:
        unknown = set(payload) - set(MERGED_FIELDS)
        if unknown or not payload:
            raise invalid(f"A change sets some of {', '.join(MERGED_FIELDS)}.")
        current = {
            "title": clause.title,
            "body": clause.body,
            "authority": clause.authority,
            "tags": list(clause.tags),
        }
        checked = clause_fields_checked(clause.key, {**current, **payload})
        return {name: checked[name] for name in payload}
    if kind == Kind.REMOVE_CLAUSE:
        if clause.children.exists():
            raise invalid("Remove or move this clause's sub-clauses first.")
        return {}
    if kind == Kind.MOVE_CLAUSE:
        return _check_place(payload, version, moving=clause)
    if kind == Kind.RENAME_KEY:
        new_key = key_checked(payload.get("new_key"))
        if Clause.objects.filter(version=version, key=new_key).exists():
            raise invalid(f"Clause “{new_key}” already exists.")
        return {"new_key": new_key}
    if kind == Kind.ADD_EXAMPLE:
        example = example_from_payload(payload)
        origin = payload.get("origin", ExampleOrigin.SPEC)
        if origin not in ExampleOrigin.values:
            raise invalid(f"origin is one of {', '.join(ExampleOrigin.values)}.")
        return {
            "title": example.title,
            "turns": [_turn_json(turn) for turn in example.turns],
            "between_turns": {str(k): v for k, v in example.between_turns.items()},
            "origin": origin,
            "fingerprint": example_fingerprint(example),
        }
    if kind == Kind.REMOVE_EXAMPLE:
        fingerprint = payload.get("fingerprint")
        example = clause.examples.filter(fingerprint=fingerprint).first()
        if example is None:
            raise invalid(f"No example with fingerprint {fingerprint!r} in this clause.")
        return {"fingerprint": fingerprint, "title": example.title}
    raise ValidationError({"kind": [f"Unknown kind {kind!r}: one of {', '.join(Kind.values)}."]})


def _check_place(payload: dict[str, Any], version: SpecVersion, moving: Clause | None) -> dict:
    """``parent_key`` (None: top level) and ``after_key`` (a sibling; None: first under it)."""
    parent_key = payload.get("parent_key") or None
    after_key = payload.get("after_key") or None
    clauses = {c.key: c for c in Clause.objects.filter(version=version).select_related("parent")}
    if parent_key is not None and parent_key not in clauses:
        raise invalid(f"No parent clause “{parent_key}”.")
    if after_key is not None:
        after = clauses.get(after_key)
        if after is None or (after.parent.key if after.parent_id else None) != parent_key:
            raise invalid(f"“{after_key}” is not a clause under the chosen parent.")
    depth = clauses[parent_key].level + 1 if parent_key else 1
    if moving is not None:
        cursor = clauses.get(parent_key) if parent_key else None
        while cursor is not None:
            if cursor.key == moving.key:
                raise invalid("A clause cannot move under itself.")
            cursor = cursor.parent
        if after_key == moving.key:
            raise invalid("A clause cannot follow itself.")
    if depth > 6:
        raise invalid("Markdown has six heading levels: that parent is too deep.")
    return {"parent_key": parent_key, "after_key": after_key}
