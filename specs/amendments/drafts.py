"""Drafts: start the spec's one draft as a copy of a published version, publish it.

A copy is made in the database (``INSERT … SELECT`` with the new ids mapped), so a draft of the
80-clause reference spec starts in a few statements, faster than importing its Markdown. The
``spec_version_one_draft`` partial unique index keeps one draft per spec whatever the path.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from clausebook import audit
from clausebook.models import User
from specs import services as spec_services
from specs.amendments.rights import require
from specs.models import (
    Clause,
    EvalPrompt,
    Example,
    Spec,
    SpecVersion,
    VersionStatus,
    version_label_validator,
)


def _default_label(spec: Spec) -> str:
    taken = set(SpecVersion.objects.filter(spec=spec).values_list("label", flat=True))
    stem = date.today().isoformat()
    label, number = stem, 2
    while label in taken:
        label, number = f"{stem}-{number}", number + 1
    return label


def _columns(model: type, skip: set[str]) -> list[str]:
    return [
        f.column for f in model._meta.concrete_fields if f.column not in skip and not f.primary_key
    ]


@transaction.atomic
def draft_start_from(
    *, version: SpecVersion, actor: User | None, label: str | None = None
) -> SpecVersion:
    """A new draft of the version's spec, a copy of ``version`` (clauses, examples, eval
    prompts, plain text and search vectors), copied in the database in a few statements.

    ``label`` defaults to today's date. Raises ValidationError if ``version`` is a draft, the
    label is taken or not a label, or the spec already has a draft (one at a time: the
    ``spec_version_one_draft`` index)."""
    spec = Spec.objects.select_for_update().get(pk=version.spec_id)  # one draft start at a time
    require(actor, spec, "amendments.merge")
    if version.status == VersionStatus.DRAFT:
        raise ValidationError("A draft starts from a published version.")
    existing = SpecVersion.objects.filter(spec=spec, status=VersionStatus.DRAFT).first()
    if existing is not None:
        raise ValidationError(
            f"{spec.title} already has a draft, {existing.label}: publish or discard it first."
        )
    label = (label or "").strip() or _default_label(spec)
    try:
        version_label_validator(label)
    except ValidationError as error:
        raise ValidationError({"label": error.messages}) from error
    if SpecVersion.objects.filter(spec=spec, label=label).exists():
        raise ValidationError({"label": [f"Version “{label}” already exists."]})
    try:
        with transaction.atomic():
            draft = SpecVersion.objects.create(
                spec=spec,
                label=label,
                dialect=version.dialect,
                preamble=version.preamble,
                based_on=version,
                clause_count=version.clause_count,
                example_count=version.example_count,
                eval_prompt_count=version.eval_prompt_count,
                created_by=actor if actor is not None and actor.is_authenticated else None,
            )
    except IntegrityError as error:  # a concurrent start won the race for the one draft
        raise ValidationError(f"{spec.title} already has a draft.") from error
    old_ids = list(
        Clause.objects.filter(version=version).order_by("position").values_list("id", flat=True)
    )
    new_ids = spec_services._next_ids(Clause, len(old_ids)) if old_ids else []
    quote = connection.ops.quote_name
    clause_columns = _columns(Clause, {"version_id", "parent_id"})
    example_columns = _columns(Example, {"clause_id"})
    prompt_columns = _columns(EvalPrompt, {"clause_id"})
    clause_list = ", ".join(quote(c) for c in clause_columns)
    mapping = "unnest(%s::bigint[], %s::bigint[]) AS {0}(old_id, new_id)"
    with connection.cursor() as cursor:
        # The parent check is a constraint trigger at the end of the statement, so one INSERT
        # can carry children whose parents it inserts too.
        cursor.execute(
            f"INSERT INTO {quote(Clause._meta.db_table)} (id, version_id, parent_id, {clause_list}) "  # noqa: S608 - names from the model
            f"SELECT m.new_id, %s, p.new_id, {', '.join('c.' + quote(c) for c in clause_columns)} "
            f"FROM {quote(Clause._meta.db_table)} c JOIN {mapping.format('m')} ON m.old_id = c.id "
            f"LEFT JOIN {mapping.format('p')} ON p.old_id = c.parent_id",
            [draft.pk, old_ids, new_ids, old_ids, new_ids],
        )
        for model, columns in ((Example, example_columns), (EvalPrompt, prompt_columns)):
            names = ", ".join(quote(c) for c in columns)
            cursor.execute(
                f"INSERT INTO {quote(model._meta.db_table)} (clause_id, {names}) "  # noqa: S608
                f"SELECT m.new_id, {', '.join('r.' + quote(c) for c in columns)} "
                f"FROM {quote(model._meta.db_table)} r JOIN {mapping.format('m')} "
                "ON m.old_id = r.clause_id ORDER BY r.id",
                [old_ids, new_ids],
            )
    audit.record(
        verb="spec_version.draft_start",
        actor=actor,
        workspace=spec.workspace,
        target=draft,
        summary=f"{spec.title} {label} from {version.label}",
        data={"from": version.label, "clauses": len(old_ids)},
    )
    return draft


@transaction.atomic
def draft_publish(*, version: SpecVersion, actor: User | None) -> SpecVersion:
    """Publish the draft, checking the actor's right: ``spec_version_publish`` adds the
    changelog of the amendments merged into it (``specs.amendments.changelog``). From then on
    the database refuses changes to it."""
    require(actor, version.spec, "specs.publish")
    return spec_services.spec_version_publish(version=version, actor=actor)
