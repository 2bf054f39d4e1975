"""A model judge's label: one per (item, clause, judge run).

A judge label points at its ``JudgeRun`` (endpoint, prompt version) instead of a reviewer and an
assignment. It never takes a reviewer slot (``Item.open_slots`` and ``submitted_count`` are not
touched), never counts toward k or outcomes (``Label.objects.counted()`` reads humans only, and
no outcome is refreshed here), and is never shown to a blind campaign's reviewers
(``Label.objects.visible_to``). Writing the same (item, clause, run) again revises the label, so a
redelivered judge task is harmless.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from clausebook import audit
from reviews.models import Item, JudgeRun, Label, LabelRevision, LabelSource
from reviews.services.labels.core import LabelInput, history_row, merged_fields, resolve_clauses
from specs.models import Clause


@transaction.atomic
def judge_label_record(
    *,
    judge_run: JudgeRun,
    item: Item,
    clause: Clause,
    verdict: str,
    severity: str = "",
    rationale: str = "",
) -> Label:
    """Record (or revise) the judge run's label on one (item, clause); see the module.

    Raises ValidationError when the item is not in the run's campaign, the clause not in its
    scope, or a value is off the campaign's scales.
    """
    if item.campaign_id != judge_run.campaign_id:
        raise ValidationError({"item": "This item is not in the judge run's campaign."})
    campaign = judge_run.campaign
    in_scope = resolve_clauses(campaign, [clause.pk])[clause.pk]
    data = LabelInput(clause=clause.pk, verdict=verdict, severity=severity, rationale=rationale)
    existing = _locked(judge_run, item, clause)
    fields = merged_fields(
        campaign=campaign,
        clause=in_scope,
        data=data,
        current=existing,
        message_count=item.transcript.message_count,
        needs_verdict=True,
    )
    now = timezone.now()
    before = None
    if existing is None:
        try:
            with transaction.atomic():
                label = Label.objects.create(
                    campaign=campaign,
                    item=item,
                    clause=clause,
                    source=LabelSource.JUDGE,
                    judge_run=judge_run,
                    status=Label.Status.SUBMITTED,
                    created_at=now,
                    updated_at=now,
                    submitted_at=now,
                    **fields,
                )
        except IntegrityError:
            # The same run wrote this pair concurrently (a redelivered task): revise that row.
            existing = _locked(judge_run, item, clause)
            if existing is None:
                raise
    if existing is not None:
        label = existing
        before = label.snapshot()
        if all(getattr(label, name) == value for name, value in fields.items()):
            return label
        Label.objects.filter(pk=label.pk).update(
            **fields, revision=F("revision") + 1, updated_at=now
        )
        for name, value in fields.items():
            setattr(label, name, value)
        label.revision += 1
        label.updated_at = now
    history_row(label, kind=LabelRevision.Kind.JUDGE, actor=None, before=before, when=now).save()
    audit.record(
        verb="label.judge",
        actor=None,
        workspace=campaign.workspace,
        target=label,
        summary=f"{judge_run}: item {item.pk} clause {clause.key}: {label.verdict}",
        data={"judge_run": judge_run.pk, "before": before, "after": label.snapshot()},
    )
    return label


def _locked(judge_run: JudgeRun, item: Item, clause: Clause) -> Label | None:
    return (
        Label.objects.select_for_update()
        .filter(source=LabelSource.JUDGE, judge_run=judge_run, item=item, clause=clause)
        .first()
    )
