"""Replaying an amendment's changes on the spec's draft, in memory, then storing the result.

:class:`DraftState` loads the draft's clauses in document order (two queries); :func:`replay`
applies each change where the draft still holds what the change found (``base``), collecting
a conflict wherever it moved; :func:`write` stores the outcome: deletes, inserts, the clauses
the amendment touched (their plain text, references and search vectors recomputed), then every
position in one statement. Untouched clauses keep their rows apart from the position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, ProtectedError

from specs import services as spec_services
from specs.amendments.merge import MERGED_FIELDS, map_offset
from specs.models import (
    Amendment,
    AmendmentChange,
    Clause,
    EvalPrompt,
    Example,
    ExampleOrigin,
    SpecVersion,
    VersionStatus,
)
from specs.plaintext import clause_text, markdown_text
from specs.selectors import compose_aliases, confirmed_aliases
from specs.spec_markdown import parse_spec

Kind = AmendmentChange.Kind
# Far above any real position: renumbering clauses goes through this range so no two rows of a
# version ever share a position mid-statement (the unique index is checked row by row).
POSITION_PARKING = 10_000_000


@dataclass
class Node:
    """A draft clause while changes are replayed on it."""

    id: int | None
    key: str
    title: str
    body: str
    authority: str
    tags: list[str]
    parent_key: str | None
    examples: list[dict[str, Any]]  # {"id"?, "fingerprint", "title", "offset", ...}
    original: dict[str, Any] | None = None  # the row's fields before the merge


class DraftState:
    """The draft's clauses in document order, in memory."""

    def __init__(self, version: SpecVersion) -> None:
        self.version = version
        rows = list(
            Clause.objects.filter(version=version)
            .order_by("position")
            .values_list("id", "key", "title", "body", "authority", "tags", "parent__key", "level")
        )
        examples: dict[int, list[dict[str, Any]]] = {}
        for pk, clause_id, fingerprint, title, offset in (
            Example.objects.filter(clause__version=version)
            .order_by("clause_id", "position")
            .values_list("id", "clause_id", "fingerprint", "title", "body_offset")
        ):
            examples.setdefault(clause_id, []).append(
                {
                    "id": pk,
                    "fingerprint": fingerprint,
                    "title": title,
                    "offset": offset,
                    "original_offset": offset,
                }
            )
        self.order: list[Node] = []
        for pk, key, title, body, authority, tags, parent_key, level in rows:
            node = Node(
                pk, key, title, body, authority, list(tags), parent_key, examples.get(pk, [])
            )
            node.original = {
                "key": key,
                "title": title,
                "body": body,
                "authority": authority,
                "tags": list(tags),
                "parent_key": parent_key,
                "level": level,
                "examples": len(node.examples),
            }
            self.order.append(node)
        self.removed: list[Node] = []
        self.aliases: list[tuple[str, str]] = []

    def find(self, key: str) -> Node | None:
        return next((n for n in self.order if n.key == key), None)

    def subtree(self, node: Node) -> list[Node]:
        start = self.order.index(node)
        keys = {node.key}
        end = start + 1
        while end < len(self.order) and self.order[end].parent_key in keys:
            keys.add(self.order[end].key)
            end += 1
        return self.order[start:end]

    def insert(self, nodes: list[Node], parent_key: str | None, after_key: str | None) -> None:
        if after_key is not None:
            after = self.find(after_key)
            assert after is not None  # noqa: S101 - checked by the caller
            at = self.order.index(after) + len(self.subtree(after))
        elif parent_key is not None:
            parent = self.find(parent_key)
            assert parent is not None  # noqa: S101
            at = self.order.index(parent) + 1
        else:
            at = 0
        self.order[at:at] = nodes

    def level(self, node: Node) -> int:
        level, key = 1, node.parent_key
        while key is not None:
            parent = self.find(key)
            key = parent.parent_key if parent is not None else None
            level += 1
        return level


def clause_fields(node: Node) -> dict[str, Any]:
    return {"title": node.title, "body": node.body, "authority": node.authority, "tags": node.tags}


def drift(change: AmendmentChange, node: Node | None, draft: DraftState) -> dict[str, Any] | None:
    """Why ``change`` cannot apply to the draft as it is (None: it applies)."""
    base, payload = change.base, change.payload
    where = {"change": change.pk, "kind": change.kind, "clause_key": change.clause_key}
    if change.kind == Kind.ADD_CLAUSE:
        if node is not None:
            return {**where, "reason": "The draft already has a clause with this key."}
        for name in ("parent_key", "after_key"):
            if payload.get(name) and draft.find(payload[name]) is None:
                return {**where, "reason": f"{payload[name]} is not in the draft."}
        return None
    if node is None:
        return {**where, "reason": "The draft no longer has this clause (removed or renamed)."}
    if change.kind == Kind.CHANGE_CLAUSE:
        moved = [n for n in payload if clause_fields(node).get(n) != base.get(n)]
        if moved:
            return {
                **where,
                "reason": "The draft changed " + ", ".join(moved) + " since this change was made.",
                "fields": moved,
            }
        return None
    if change.kind == Kind.REMOVE_CLAUSE:
        moved = [n for n in MERGED_FIELDS if clause_fields(node).get(n) != base.get(n)]
        if moved:
            return {
                **where,
                "reason": "The draft changed " + ", ".join(moved) + ": review before removing.",
                "fields": moved,
            }
        if any(n.parent_key == node.key for n in draft.order):
            return {**where, "reason": "The clause has sub-clauses in the draft."}
        return None
    if change.kind == Kind.MOVE_CLAUSE:
        if node.parent_key != base.get("parent_key"):
            return {**where, "reason": "The draft moved this clause too.", "fields": ["parent"]}
        for name in ("parent_key", "after_key"):
            if payload.get(name) and draft.find(payload[name]) is None:
                return {**where, "reason": f"{payload[name]} is not in the draft."}
        return None
    if change.kind == Kind.RENAME_KEY:
        if draft.find(payload["new_key"]) is not None:
            return {**where, "reason": f"The draft already has a clause {payload['new_key']}."}
        return None
    if change.kind == Kind.REMOVE_EXAMPLE and not any(
        e["fingerprint"] == payload["fingerprint"] for e in node.examples
    ):
        return {**where, "reason": "The draft no longer has this example."}
    return None


def apply_change(change: AmendmentChange, node: Node | None, draft: DraftState) -> None:
    payload = change.payload
    if change.kind == Kind.ADD_CLAUSE:
        new = Node(
            None,
            change.clause_key,
            payload["title"],
            payload["body"],
            payload["authority"],
            list(payload["tags"]),
            payload["parent_key"],
            [],
        )
        draft.insert([new], payload["parent_key"], payload["after_key"])
        return
    assert node is not None  # noqa: S101 - drift refused a missing clause
    if change.kind == Kind.CHANGE_CLAUSE:
        for name, value in payload.items():
            if name == "body":
                for example in node.examples:
                    if example.get("offset") is not None:
                        example["offset"] = map_offset(node.body, value, example["offset"])
            setattr(node, name, list(value) if name == "tags" else value)
    elif change.kind == Kind.REMOVE_CLAUSE:
        draft.order.remove(node)
        draft.removed.append(node)
    elif change.kind == Kind.MOVE_CLAUSE:
        nodes = draft.subtree(node)
        del draft.order[draft.order.index(node) : draft.order.index(node) + len(nodes)]
        node.parent_key = payload["parent_key"]
        draft.insert(nodes, payload["parent_key"], payload["after_key"])
    elif change.kind == Kind.RENAME_KEY:
        old = node.key
        node.key = payload["new_key"]
        for other in draft.order:
            if other.parent_key == old:
                other.parent_key = node.key
        draft.aliases.append((old, node.key))
    elif change.kind == Kind.ADD_EXAMPLE:
        if not any(e["fingerprint"] == payload["fingerprint"] for e in node.examples):
            node.examples.append({**payload, "offset": None})  # None: after the body
    elif change.kind == Kind.REMOVE_EXAMPLE:
        node.examples = [e for e in node.examples if e["fingerprint"] != payload["fingerprint"]]


def replay(amendment: Amendment, draft: DraftState) -> list[dict[str, Any]]:
    """Apply the amendment's changes to the in-memory draft; the conflicts (empty: applied)."""
    conflicts = []
    aliases = confirmed_aliases(amendment.spec)
    for change in amendment.changes.order_by("position", "pk"):
        key = change.clause_key
        node = draft.find(key)
        if node is None and change.kind != Kind.ADD_CLAUSE:
            renamed = compose_aliases(
                aliases + draft.aliases, {key}, {n.key for n in draft.order}
            ).get(key)
            node = draft.find(renamed) if renamed else None
        problem = drift(change, node, draft)
        if problem is not None:
            conflicts.append(problem)
            continue
        apply_change(change, node, draft)
    return conflicts


def _body_refs(node: Node) -> tuple[list[str], list[str]]:
    """References and footnotes of the clause's body, as the importer finds them."""
    attrs = f"#{node.key}"
    parsed = parse_spec(f"# {node.title} {{{attrs}}}\n\n{node.body}\n").clauses[0]
    return list(parsed.references), list(parsed.footnotes)


def write(draft: DraftState) -> dict[str, int]:
    """Store the in-memory draft: deletes, inserts, updates, then positions. Returns counts."""
    version = draft.version
    titles = {n.key: n.title for n in draft.order}
    if draft.removed:
        try:
            with transaction.atomic():
                Clause.objects.filter(pk__in=[n.id for n in draft.removed]).delete()
        except ProtectedError as error:
            kinds = sorted({obj._meta.verbose_name_plural for obj in error.protected_objects})
            raise ValidationError(
                f"A removed clause is still used by {', '.join(kinds)} in the draft."
            ) from error
    # Park every remaining clause's position out of the way, so inserts and the renumbering
    # below never collide with a row not yet moved.
    Clause.objects.filter(version=version).update(position=F("position") + POSITION_PARKING)
    new_nodes = [n for n in draft.order if n.id is None]
    ids = spec_services._next_ids(Clause, len(new_nodes)) if new_nodes else []
    for node, pk in zip(new_nodes, ids, strict=True):
        node.id = pk
    id_by_key = {n.key: n.id for n in draft.order}
    inserts, updates = [], []
    for position, node in enumerate(draft.order):
        original = node.original or {}
        touched = node.original is None or any(
            original.get(name) != getattr(node, name) for name in ("key", "title", "body")
        )
        # Parsing and plain text only for the clauses the amendment touched (the rest keep
        # theirs): this is what keeps a merge into an 80-clause draft fast.
        references, footnotes = _body_refs(node) if touched else ([], [])
        text = clause_text(node.body, titles=titles) if touched else ""
        row = Clause(
            id=node.id,
            version=version,
            key=node.key,
            title=node.title,
            level=draft.level(node),
            parent_id=id_by_key[node.parent_key] if node.parent_key else None,
            position=position,
            authority=node.authority,
            tags=node.tags,
            body=node.body,
            text=text,
            references=references,
            footnotes=footnotes,
            search_vector=spec_services._search_vector(node.title, text),
        )
        if node.original is None:
            inserts.append(row)
        else:
            updates.append((node, row))
    Clause.objects.bulk_create(inserts)
    content_fields = [
        "key",
        "title",
        "level",
        "parent_id",
        "authority",
        "tags",
        "body",
        "text",
        "references",
        "footnotes",
        "search_vector",
    ]
    moved_only = []
    for node, row in updates:
        original = node.original or {}
        if any(
            original.get(name) != getattr(node, name)
            for name in ("key", "title", "body", "authority", "tags", "parent_key")
        ) or row.level != original.get("level"):
            Clause.objects.filter(pk=row.id).update(
                position=row.position, **{name: getattr(row, name) for name in content_fields}
            )
        else:
            moved_only.append(row)
    # Every other clause only takes its final position: one statement.
    Clause.objects.bulk_update(moved_only, ["position"], batch_size=500)
    examples_written = _write_examples(draft, titles)
    counts = {
        "clauses": len(draft.order),
        "examples": Example.objects.filter(clause__version=version).count(),
        "eval_prompts": EvalPrompt.objects.filter(clause__version=version).count(),
        "examples_written": examples_written,
    }
    SpecVersion.objects.filter(pk=version.pk).update(
        clause_count=counts["clauses"],
        example_count=counts["examples"],
        eval_prompt_count=counts["eval_prompts"],
    )
    return counts


def _write_examples(draft: DraftState, titles: dict[str, str]) -> int:
    """Store each clause's examples where they changed: removed, added, moved by a body edit.
    Returns how many example rows were deleted or inserted."""
    written = 0
    for node in draft.order:
        kept = [e["id"] for e in node.examples if "id" in e]
        untouched = len(kept) == len(node.examples) and all(
            e["offset"] == e["original_offset"] for e in node.examples
        )
        if untouched and node.original is not None and len(kept) == node.original["examples"]:
            continue
        rows = Example.objects.filter(clause_id=node.id)
        written += rows.exclude(pk__in=kept).delete()[0]
        # Positions park out of the way first: the final order is written row by row.
        rows.update(position=F("position") + POSITION_PARKING)
        for position, example in enumerate(node.examples):
            offset = len(node.body) if example["offset"] is None else example["offset"]
            offset = min(offset, len(node.body))
            if "id" in example:
                Example.objects.filter(pk=example["id"]).update(
                    position=position, body_offset=offset
                )
                continue
            title_text = markdown_text(example["title"], titles=titles)
            text = _example_plain(example["turns"], titles)
            Example.objects.create(
                clause_id=node.id,
                position=position,
                title=example["title"],
                turns=example["turns"],
                between_turns=example.get("between_turns", {}),
                body_offset=offset,
                fingerprint=example["fingerprint"],
                origin=example.get("origin", ExampleOrigin.SPEC),
                title_text=title_text,
                text=text,
                search_vector=spec_services._search_vector(title_text, text),
            )
            written += 1
    return written


def _example_plain(turns: list[dict[str, Any]], titles: dict[str, str]) -> str:
    parts: list[str] = []
    for turn in turns:
        if "message" in turn:
            contents = [turn["message"]["content"]]
        else:
            contents = [c["content"] for c in turn["comparison"]]
        parts += [markdown_text(content, titles=titles) for content in contents]
    return "\n\n".join(part for part in parts if part)


def merge_check(amendment: Amendment) -> list[dict[str, Any]] | None:
    """What a merge would report now, without writing: the conflicts, ``[]`` when it would
    apply, None when the spec has no draft. (A read: the amendment page shows it.)"""
    draft_version = SpecVersion.objects.filter(
        spec_id=amendment.spec_id, status=VersionStatus.DRAFT
    ).first()
    if draft_version is None:
        return None
    return replay(amendment, DraftState(draft_version))
