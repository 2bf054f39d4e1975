"""Writes for specs: create a spec, import a version from Markdown, publish it, decide renames.

Every function here is the one path for its write: views, the API, the CLI, the demo and the
benchmarks all call these, and each records an audit event in the same transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.db.models.expressions import RawSQL
from django.utils import timezone

from clausebook import audit
from clausebook.models import User, Workspace
from specs.amendments.changelog import changelog_for
from specs.models import (
    CLAUSE_KEY_MAX_LENGTH,
    CLAUSE_TITLE_MAX_LENGTH,
    FOOTNOTE_ID_MAX_LENGTH,
    SOURCE_FILENAME_MAX_LENGTH,
    SPEC_SLUG_MAX_LENGTH,
    SPEC_SOURCE_MAX_BYTES,
    SPEC_TITLE_MAX_LENGTH,
    TAG_MAX_LENGTH,
    Clause,
    ClauseAlias,
    EvalPrompt,
    Example,
    Spec,
    SpecVersion,
    VersionStatus,
    version_label_validator,
)
from specs.plaintext import clause_text, markdown_text
from specs.spec_markdown import (
    ParsedClause,
    ParsedExample,
    SpecSyntaxError,
    Turn,
    example_fingerprint,
    parse_eval_examples,
    parse_spec,
)

__all__ = [
    "VersionInUse",
    "VersionNotDraft",
    "clause_alias_decide",
    "eval_examples_from_folders",
    "spec_create",
    "spec_version_discard",
    "spec_version_import",
    "spec_version_publish",
]

# Search indexes what a reader reads: the title (weighted A) and the plain text the importer
# stored (specs.plaintext), not the Markdown source with its markup, footnote ids and LaTeX.
# Computed in the INSERT itself: a later UPDATE would write every row (and its GIN entries)
# twice and run the immutability triggers on each row again.
_VECTOR_SQL = (
    "setweight(to_tsvector('english', %s), 'A') || setweight(to_tsvector('english', %s), 'B')"
)


def _search_vector(title: str, text: str) -> RawSQL:
    # A constant fragment; the title and text are query parameters.
    return RawSQL(_VECTOR_SQL, (title, text))  # noqa: S611


def _next_ids(model: type[Clause], count: int) -> list[int]:
    """``count`` fresh primary keys from the model's identity sequence, in increasing order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


class VersionNotDraft(ValidationError):
    """Raised when a write needs a draft version but the version is published or archived."""


def _turn_to_json(turn: Turn) -> dict:
    if turn.message is not None:
        return {"message": asdict(turn.message)}
    return {"comparison": [asdict(candidate) for candidate in turn.comparison or ()]}


def _example_text(example: ParsedExample, titles: dict[str, str]) -> str:
    """The conversation as the example reads on the page: every message and candidate answer,
    as plain text (roles, grades and attributes are labels around it, not its text)."""
    parts: list[str] = []
    for turn in example.turns:
        contents = (
            [turn.message.content]
            if turn.message is not None
            else [candidate.content for candidate in turn.comparison or ()]
        )
        parts += [markdown_text(content, titles=titles) for content in contents]
    return "\n\n".join(part for part in parts if part)


def _eval_prompt_messages(example: ParsedExample) -> list[dict[str, str]]:
    """Normalised ``[{role, content}]``; a graded comparison contributes its first candidate."""
    messages: list[dict[str, str]] = []
    for turn in example.turns:
        if turn.message is not None:
            messages.append({"role": turn.message.role, "content": turn.message.content})
        elif turn.comparison:
            messages.append({"role": "assistant", "content": turn.comparison[0].content})
    return messages


def eval_examples_from_folders(*folders: Path | str) -> dict[str, str]:
    """Read eval prompt files (``<footnote id>.md``) from folders; earlier folders win."""
    found: dict[str, str] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.md")):
            found.setdefault(path.stem, path.read_text(encoding="utf-8"))
    return found


def _check_fits(parsed_clauses: list[ParsedClause]) -> None:
    """Raise SpecSyntaxError at the heading whose key, tags, references or footnotes are longer
    than the database holds, before anything is written (the parser itself sets no limits)."""
    for clause in parsed_clauses:
        values = [
            ("key", clause.key, CLAUSE_KEY_MAX_LENGTH),
            *(("tag", tag, TAG_MAX_LENGTH) for tag in clause.tags),
            *(("reference", key, CLAUSE_KEY_MAX_LENGTH) for key in clause.references),
            *(("footnote", note, FOOTNOTE_ID_MAX_LENGTH) for note in clause.footnotes),
        ]
        for what, value, limit in values:
            if len(value) > limit:
                shown = value if len(value) <= 40 else f"{value[:40]}…"
                raise SpecSyntaxError(
                    clause.line, f"{what} {shown!r} is {len(value)} characters (at most {limit})"
                )


@transaction.atomic
def spec_create(
    *, workspace: Workspace, slug: str, title: str, description: str = "", actor: User | None
) -> Spec:
    """Create a spec in the workspace. Raises ValidationError if the slug is not a slug, is
    taken, or the title is empty or too long."""
    if not slug or len(slug) > SPEC_SLUG_MAX_LENGTH:
        raise ValidationError({"slug": f"A slug has 1 to {SPEC_SLUG_MAX_LENGTH} characters."})
    try:
        validate_slug(slug)
    except ValidationError as error:
        raise ValidationError({"slug": error.messages}) from error
    if not title.strip() or len(title) > SPEC_TITLE_MAX_LENGTH:
        raise ValidationError({"title": f"A title has 1 to {SPEC_TITLE_MAX_LENGTH} characters."})
    if Spec.objects.filter(workspace=workspace, slug=slug).exists():
        raise ValidationError({"slug": f"A spec with the slug “{slug}” already exists."})
    spec = Spec.objects.create(workspace=workspace, slug=slug, title=title, description=description)
    audit.record(verb="spec.create", actor=actor, workspace=workspace, target=spec, summary=title)
    return spec


@transaction.atomic
def spec_version_import(
    *,
    spec: Spec,
    label: str,
    markdown: str,
    filename: str = "",
    actor: User | None,
    eval_examples: dict[str, str] | None = None,
) -> SpecVersion:
    """Parse ``markdown`` and store it as a new draft version of ``spec``, all or nothing.

    Raises ``SpecSyntaxError`` (``.line``, ``.message``) on bad Markdown and ValidationError if
    the label is taken; in both cases nothing is stored. ``eval_examples`` maps footnote ids to
    the text of their eval prompt files: each footnote cited by a clause becomes EvalPrompt rows
    on the first clause citing it; footnotes without a file, and eval files that do not parse,
    become warnings on the version (never fatal).
    """
    label = label.strip()
    if not label:
        raise ValidationError({"label": "A version needs a label, such as 2025-12-18."})
    try:
        version_label_validator(label)
    except ValidationError as error:
        raise ValidationError({"label": error.messages}) from error
    if len(markdown.encode("utf-8")) > SPEC_SOURCE_MAX_BYTES:
        limit = SPEC_SOURCE_MAX_BYTES // 1024
        raise ValidationError({"markdown": f"The Markdown is over {limit} KB."})
    parsed = parse_spec(markdown)  # raises SpecSyntaxError before anything is written
    if not parsed.clauses:
        raise SpecSyntaxError(1, "no heading found: a spec needs at least one '# Heading'")
    _check_fits(parsed.clauses)
    if SpecVersion.objects.filter(spec=spec, label=label).exists():
        raise ValidationError({"label": f"Version “{label}” already exists."})
    draft = SpecVersion.objects.filter(spec=spec, status=VersionStatus.DRAFT).first()
    if draft is not None:  # one draft per spec (the spec_version_one_draft index)
        raise ValidationError(
            {"label": f"Draft “{draft.label}” is open: publish or discard it first."}
        )
    warnings = list(parsed.warnings)
    version = SpecVersion.objects.create(
        spec=spec,
        label=label,
        dialect=parsed.dialect,
        preamble=parsed.preamble,
        source_sha256=hashlib.sha256(markdown.encode("utf-8")).hexdigest(),
        source_filename=filename[:SOURCE_FILENAME_MAX_LENGTH],
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    titles = {c.key: c.title for c in parsed.clauses}  # cross-references read as titles
    # Ids first (one query), so each clause row carries its parent's id and one multi-row INSERT
    # stores the whole tree: a later UPDATE of the parents would write every row twice.
    ids = _next_ids(Clause, len(parsed.clauses))
    id_by_key = {c.key: pk for c, pk in zip(parsed.clauses, ids, strict=True)}
    clause_rows = []
    for c in parsed.clauses:
        title = c.title[:CLAUSE_TITLE_MAX_LENGTH]
        text = clause_text(c.body, titles=titles)
        clause_rows.append(
            Clause(
                id=id_by_key[c.key],
                version=version,
                parent_id=id_by_key[c.parent_key] if c.parent_key else None,
                key=c.key,
                title=title,
                level=c.level,
                position=c.position,
                authority=c.authority or "",
                authority_source=c.authority_source or "",
                tags=c.tags,
                body=c.body,
                text=text,
                references=c.references,
                footnotes=c.footnotes,
                source_line=c.line,
                search_vector=_search_vector(title, text),
            )
        )
    Clause.objects.bulk_create(clause_rows)

    examples = []
    for parsed_clause, row in zip(parsed.clauses, clause_rows, strict=True):
        for index, example in enumerate(parsed_clause.examples):
            title_text = markdown_text(example.title, titles=titles)
            text = _example_text(example, titles)
            examples.append(
                Example(
                    clause=row,
                    position=index,
                    title=example.title,
                    title_text=title_text,
                    text=text,
                    turns=[_turn_to_json(turn) for turn in example.turns],
                    between_turns={str(k): v for k, v in example.between_turns.items()},
                    body_offset=example.body_offset,
                    fingerprint=example_fingerprint(example),
                    source_line=example.line,
                    search_vector=_search_vector(title_text, text),
                )
            )
    Example.objects.bulk_create(examples, batch_size=1000)

    eval_prompts = _eval_prompts_for(spec, parsed.clauses, clause_rows, eval_examples, warnings)
    EvalPrompt.objects.bulk_create(eval_prompts, batch_size=1000)

    version.warnings = warnings
    version.clause_count = len(clause_rows)
    version.example_count = len(examples)
    version.eval_prompt_count = len(eval_prompts)
    version.save(update_fields=["warnings", "clause_count", "example_count", "eval_prompt_count"])
    audit.record(
        verb="spec_version.import",
        actor=actor,
        workspace=spec.workspace,
        target=version,
        summary=f"{spec.title} {label}: {len(clause_rows)} clauses, {len(examples)} examples",
        data={
            "filename": filename,
            "clauses": len(clause_rows),
            "examples": len(examples),
            "eval_prompts": len(eval_prompts),
            "warnings": len(warnings),
        },
    )
    return version


def _eval_prompts_for(
    spec: Spec,
    parsed_clauses: list,
    clause_rows: list[Clause],
    eval_examples: dict[str, str] | None,
    warnings: list[str],
) -> list[EvalPrompt]:
    if eval_examples is None:
        return []
    eval_prompts: list[EvalPrompt] = []
    seen: set[str] = set()
    for parsed_clause, row in zip(parsed_clauses, clause_rows, strict=True):
        for footnote in parsed_clause.footnotes:
            if footnote in seen:
                continue
            seen.add(footnote)
            text = eval_examples.get(footnote)
            if text is None:
                warnings.append(
                    f"line {parsed_clause.line}: footnote [^{footnote}] in "
                    f"'{parsed_clause.key}' has no eval prompt file"
                )
                continue
            try:
                _, prompts = parse_eval_examples(text, source=f"{footnote}.md")
            except SpecSyntaxError as error:
                warnings.append(f"{footnote}.md line {error.line}: {error.message}")
                continue
            for position, prompt in enumerate(prompts):
                messages = _eval_prompt_messages(prompt)
                eval_prompts.append(
                    EvalPrompt(
                        clause=row,
                        footnote_id=footnote,
                        position=position,
                        title=prompt.title,
                        messages=messages,
                    )
                )
    return eval_prompts


@transaction.atomic
def spec_version_publish(*, version: SpecVersion, actor: User | None) -> SpecVersion:
    """Publish a draft version; from then on the database refuses any change to it.

    Raises VersionNotDraft if it is already published or archived (a row lock makes two
    concurrent publishes resolve to one success and one error).
    """
    locked = SpecVersion.objects.select_for_update().get(pk=version.pk)
    if locked.status != VersionStatus.DRAFT:
        raise VersionNotDraft(f"Version {locked.label} is already {locked.status}.")
    # The amendments merged into the draft become its changelog, after any it already had.
    generated = changelog_for(locked)
    if generated:
        locked.changelog = "\n\n".join(p for p in (locked.changelog.strip(), generated) if p)
    locked.status = VersionStatus.PUBLISHED
    locked.published_at = timezone.now()
    locked.published_by = actor if actor is not None and actor.is_authenticated else None
    locked.save(update_fields=["status", "published_at", "published_by", "changelog"])
    audit.record(
        verb="spec_version.publish",
        actor=actor,
        workspace=version.spec.workspace,
        target=locked,
        summary=f"{version.spec.title} {locked.label}",
    )
    return locked


class VersionInUse(ValidationError):
    """Raised when a draft cannot be discarded because reviews or amendments point at it."""


@transaction.atomic
def spec_version_discard(*, version: SpecVersion, actor: User | None) -> None:
    """Delete a draft version and everything parsed into it (clauses, examples, eval prompts).

    Raises VersionNotDraft for a published or archived version (and the database triggers
    refuse deleting one whatever the path), VersionInUse if a campaign, an amendment or another
    record protects it; in both cases nothing changes. Amendments merged into the draft return
    to approved (``specs.amendments.services.amendments_return_from_draft``)."""
    locked = SpecVersion.objects.select_for_update().get(pk=version.pk)
    if locked.status != VersionStatus.DRAFT:
        raise VersionNotDraft(f"Version {locked.label} is {locked.status} and cannot be discarded.")
    # Amendments merged into the draft go back to approved, ready for the next draft.
    from specs.amendments.services import amendments_return_from_draft

    returned = amendments_return_from_draft(draft=locked, actor=actor)
    audit.record(
        verb="spec_version.discard",
        actor=actor,
        workspace=version.spec.workspace,
        target=locked,
        summary=f"{version.spec.title} {locked.label}",
        data={
            "clauses": locked.clause_count,
            "examples": locked.example_count,
            "amendments_returned": [amendment.pk for amendment in returned],
        },
    )
    try:
        with transaction.atomic():
            locked.delete()
    except ProtectedError as error:
        kinds = sorted({obj._meta.verbose_name_plural for obj in error.protected_objects})
        raise VersionInUse(
            f"Draft {locked.label} is used by {', '.join(kinds)}; remove those first."
        ) from error
    _drop_dangling_aliases(locked.spec_id)


def _drop_dangling_aliases(spec_id: int) -> None:
    """Rename decisions naming a key that no version of the spec has any more (a merge into a
    discarded draft confirmed it): an alias needs both its keys somewhere in the spec, as
    ``clause_alias_decide`` requires, or diffs would join histories with a clause that is gone."""
    keys = Clause.objects.filter(version__spec_id=spec_id).values("key")
    ClauseAlias.objects.filter(spec_id=spec_id).exclude(old_key__in=keys, new_key__in=keys).delete()


@transaction.atomic
def clause_alias_decide(
    *,
    spec: Spec,
    old_key: str,
    new_key: str,
    confirm: bool,
    similarity: float = 0.0,
    actor: User | None,
) -> ClauseAlias:
    """Record an editor's decision on a probable rename ``old_key`` -> ``new_key``.

    A confirmed alias makes diffs treat the pair as one renamed clause and joins their
    histories; a rejected one is never proposed again. Deciding again overwrites the decision.
    Raises ValidationError if ``old_key`` is already confirmed as renamed to another key, or if
    either key is unknown in the spec.
    """
    if old_key == new_key:
        raise ValidationError("A clause cannot be renamed to itself.")
    known = set(
        Clause.objects.filter(version__spec=spec, key__in=[old_key, new_key]).values_list(
            "key", flat=True
        )
    )
    if known != {old_key, new_key}:
        raise ValidationError("Both keys must exist in some version of this spec.")
    status = ClauseAlias.Status.CONFIRMED if confirm else ClauseAlias.Status.REJECTED
    if (
        confirm
        and ClauseAlias.objects.filter(spec=spec, old_key=old_key, status=status)
        .exclude(new_key=new_key)
        .exists()
    ):
        raise ValidationError(f"“{old_key}” is already confirmed as renamed to another clause.")
    alias, _ = ClauseAlias.objects.update_or_create(
        spec=spec,
        old_key=old_key,
        new_key=new_key,
        defaults={
            "status": status,
            "similarity": similarity,
            "decided_by": actor if actor is not None and actor.is_authenticated else None,
            "decided_at": timezone.now(),
        },
    )
    audit.record(
        verb=f"clause_alias.{'confirm' if confirm else 'reject'}",
        actor=actor,
        workspace=spec.workspace,
        target=alias,
        summary=f"{old_key} → {new_key}",
    )
    return alias
