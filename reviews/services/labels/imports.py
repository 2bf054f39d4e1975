"""Migrating existing labels into a campaign: ``labels_import`` (the ``import_labels`` command and
the API both call it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from clausebook import audit
from clausebook.models import AuditEvent, Membership, Role, User, Workspace
from reviews.models import (
    Assignment,
    Campaign,
    CampaignClause,
    CampaignReviewer,
    Item,
    Label,
    LabelRevision,
    LabelSource,
)
from reviews.outcomes import outcomes_refresh_items
from reviews.services.labels.core import EDITABLE_FIELDS, history_row, record_history, scale_values
from transcripts.models import Transcript


@dataclass
class LabelRow:
    """One row to import; ``line`` is where it came from (1-based, for error messages)."""

    line: int
    external_id: str
    clause_key: str
    reviewer_email: str
    verdict: str
    rationale: str = ""
    severity: str = ""


@dataclass
class LabelImportSummary:
    created: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    items_created: int = 0
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "errors": self.rejected,
            "items_created": self.items_created,
            "applied": self.applied,
        }


class LabelImportRejected(Exception):
    """All-or-nothing import refused: ``summary.rejected`` lists the bad rows."""

    def __init__(self, summary: LabelImportSummary) -> None:
        super().__init__(f"{len(summary.rejected)} row(s) rejected; nothing was imported.")
        self.summary = summary


def labels_import(
    *,
    campaign: Campaign,
    rows: Iterable[LabelRow],
    actor: User | None,
    valid_rows: bool = False,
) -> LabelImportSummary:
    """Import existing labels into ``campaign`` as submitted work.

    Each row names a transcript (by external id, in the campaign's workspace), a clause key (in
    the campaign's scope), a reviewer email and a verdict on the campaign's scale. The reviewer
    must already be a member of the workspace with the reviewer role or above: membership is an
    admin's decision, so an import creates no account and adds no member, and a row naming
    anyone else is rejected with the same words whether or not the address has an account
    (another workspace's, say), so the answer tells an editor nothing outside the workspace.
    Missing campaign seats, items and assignments (submitted, in the campaign) are created. A
    label that already
    exists with the same verdict, severity and rationale is a duplicate; with different content
    it is rejected (imports never overwrite a reviewer's work), and so is a row for an item the
    reviewer holds in progress or skipped. Every imported label gets its history row (kind
    ``import``) and the touched items' outcomes are re-evaluated. All-or-nothing unless
    ``valid_rows``: then bad rows are reported and the rest applied. Raises LabelImportRejected
    when nothing is applied.
    """
    rows = list(rows)
    summary = LabelImportSummary()
    workspace = campaign.workspace
    verdicts = scale_values(campaign.verdict_scale)
    severities = scale_values(campaign.severity_scale)
    clauses = dict(
        CampaignClause.objects.filter(campaign=campaign).values_list("clause__key", "clause_id")
    )
    reviewers = _workspace_members(workspace, {row.reviewer_email.strip().lower() for row in rows})
    transcripts = dict(
        Transcript.objects.filter(
            workspace=workspace, external_id__in={row.external_id for row in rows}
        ).values_list("external_id", "id")
    )
    good: list[LabelRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    for row in rows:
        problem = ""
        email = row.reviewer_email.strip().lower()
        if row.external_id not in transcripts:
            problem = f"unknown transcript external id {row.external_id!r}"
            field_name = "external_id"
        elif row.clause_key not in clauses:
            problem = f"clause key {row.clause_key!r} is not in the campaign's scope"
            field_name = "clause_key"
        elif "@" not in email:
            problem = f"reviewer {row.reviewer_email!r} is not an email address"
            field_name = "reviewer"
        elif email not in reviewers:
            problem = NOT_A_MEMBER.format(email=email)
            field_name = "reviewer"
        elif reviewers[email].role < Role.REVIEWER:
            problem = f"reviewer {email} is a viewer here; labels need the reviewer role or above"
            field_name = "reviewer"
        elif row.verdict not in verdicts:
            problem = f"verdict {row.verdict!r} is not on the scale ({', '.join(sorted(verdicts))})"
            field_name = "verdict"
        elif row.severity and row.severity not in severities:
            problem = f"severity {row.severity!r} is not on the scale"
            field_name = "severity"
        elif (key := (row.external_id, row.clause_key, email)) in seen:
            problem = f"same transcript, clause and reviewer as line {seen[key]}"
            field_name = ""
        if problem:
            summary.rejected.append({"line": row.line, "field": field_name, "message": problem})
            continue
        seen[(row.external_id, row.clause_key, email)] = row.line
        row.reviewer_email = email
        good.append(row)
    if summary.rejected and not valid_rows:
        raise LabelImportRejected(summary)
    with transaction.atomic():
        users = {email: membership.user for email, membership in reviewers.items()}
        _apply_import(campaign, good, transcripts, clauses, users, summary, actor)
        if summary.rejected and not valid_rows:
            # Rows that clash with stored work are found only while applying: undo it all.
            transaction.set_rollback(True)
        else:
            audit.record(
                verb="labels.import",
                actor=actor,
                workspace=workspace,
                target=campaign,
                summary=f"{summary.created} created, {summary.duplicates} duplicates, "
                f"{len(summary.rejected)} rejected",
                data=summary.as_dict() | {"errors": summary.rejected[:50]},
            )
    if summary.rejected and not valid_rows:
        summary.created = summary.items_created = 0
        raise LabelImportRejected(summary)
    summary.applied = True
    return summary


def _apply_import(
    campaign: Campaign,
    rows: list[LabelRow],
    transcripts: dict[str, int],
    clauses: dict[str, int],
    members: dict[str, User],
    summary: LabelImportSummary,
    actor: User | None,
) -> None:
    workspace = campaign.workspace
    users = {row.reviewer_email: members[row.reviewer_email] for row in rows}
    # Seating members on the campaign is the campaign's business, not the workspace's: it
    # grants nothing beyond what their membership already does.
    CampaignReviewer.objects.bulk_create(
        [CampaignReviewer(campaign=campaign, user=user) for user in users.values()],
        ignore_conflicts=True,
    )
    # Items for transcripts not yet in the campaign, appended after the last position.
    items = dict(
        Item.objects.filter(
            campaign=campaign, transcript_id__in=set(transcripts.values())
        ).values_list("transcript_id", "id")
    )
    needed = sorted({transcripts[row.external_id] for row in rows} - set(items))
    if needed:
        last = Item.objects.filter(campaign=campaign).order_by("-position").first()
        start = last.position + 1 if last else 0
        created = Item.objects.bulk_create(
            Item(
                campaign=campaign,
                transcript_id=pk,
                position=start + i,
                open_slots=campaign.reviewers_per_item,
            )
            for i, pk in enumerate(needed)
        )
        items.update({item.transcript_id: item.pk for item in created})
        summary.items_created = len(created)
        Campaign.objects.filter(pk=campaign.pk).update(item_count=F("item_count") + len(created))
    # One assignment per (item, reviewer); imported work counts as submitted.
    pairs = {(items[transcripts[row.external_id]], users[row.reviewer_email].pk) for row in rows}
    existing = {
        (a.item_id, a.reviewer_id): a
        for a in Assignment.objects.filter(item_id__in={p[0] for p in pairs})
    }
    now = timezone.now()
    new_assignments = [
        Assignment(
            campaign=campaign,
            item_id=item_id,
            reviewer_id=user_id,
            status=Assignment.Status.SUBMITTED,
            submitted_at=now,
        )
        for item_id, user_id in sorted(pairs - set(existing))
    ]
    Assignment.objects.bulk_create(new_assignments)
    existing.update({(a.item_id, a.reviewer_id): a for a in new_assignments})
    current = {
        (label.item_id, label.reviewer_id, label.clause_id): label
        for label in Label.objects.filter(
            item_id__in={p[0] for p in pairs}, source=LabelSource.HUMAN
        )
    }
    new_labels = []
    for row in rows:
        item_id = items[transcripts[row.external_id]]
        user_id = users[row.reviewer_email].pk
        clause_id = clauses[row.clause_key]
        assignment = existing[(item_id, user_id)]
        found = current.get((item_id, user_id, clause_id))
        if found is not None:
            same = (found.verdict, found.severity, found.rationale) == (
                row.verdict,
                row.severity,
                row.rationale,
            )
            if same:
                summary.duplicates += 1
            else:
                summary.rejected.append(
                    {
                        "line": row.line,
                        "field": "",
                        "message": "a different label by this reviewer already exists",
                    }
                )
            continue
        if assignment.status != Assignment.Status.SUBMITTED:
            # Imported labels are submitted work; they cannot join an unfinished assignment.
            summary.rejected.append(
                {
                    "line": row.line,
                    "field": "reviewer",
                    "message": f"this reviewer's assignment on the item is "
                    f"{assignment.get_status_display().lower()}, not submitted",
                }
            )
            continue
        new_labels.append(
            Label(
                campaign=campaign,
                item_id=item_id,
                reviewer_id=user_id,
                clause_id=clause_id,
                source=LabelSource.HUMAN,
                assignment=assignment,
                verdict=row.verdict,
                severity=row.severity,
                rationale=row.rationale,
                status=Label.Status.SUBMITTED,
                created_at=now,
                updated_at=now,
                submitted_at=now,
            )
        )
    Label.objects.bulk_create(new_labels, batch_size=2000)
    summary.created = len(new_labels)
    record_history(
        [
            history_row(label, kind=LabelRevision.Kind.IMPORT, actor=actor, before=None, when=now)
            for label in new_labels
        ]
    )
    audit.record_many(
        [
            AuditEvent(
                verb="label.import",
                actor=actor,
                workspace=workspace,
                target_type="reviews.label",
                target_id=str(label.pk),
                summary=f"item {label.item_id} clause {label.clause_id}: {label.verdict}",
                data={"before": None, "after": {n: getattr(label, n) for n in EDITABLE_FIELDS}},
            )
            for label in new_labels
        ]
    )
    touched = sorted({item_id for item_id, _ in pairs})
    _recount(campaign, touched)
    outcomes_refresh_items(campaign=campaign, item_ids=touched, actor=actor)


#: What a row naming anyone but a member answers: the same words whether the address has an
#: account (in another workspace, say) or none, so an import cannot probe for accounts.
NOT_A_MEMBER = (
    "reviewer {email} is not a member of this workspace; an admin adds members "
    "(label import adds none)"
)


def _workspace_members(workspace: Workspace, emails: set[str]) -> dict[str, Membership]:
    """The workspace's memberships of these addresses (lower-cased), with their users: one
    query, that reads nothing outside the workspace."""
    return {
        membership.email: membership
        for membership in Membership.objects.filter(workspace=workspace)
        .annotate(email=Lower("user__email"))
        .filter(email__in=emails)
        .select_related("user")
    }


def _recount(campaign: Campaign, item_ids: list[int]) -> None:
    """Recount submissions and free slots of imported items (counts only: the outcome rule
    lives in ``reviews.outcomes``). Held slots are the assignments in progress or submitted."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE reviews_item i SET
                submitted_count = s.n,
                open_slots = GREATEST(0, %s - s.held)
            FROM (
                SELECT item_id,
                       COUNT(*) FILTER (WHERE status = 'submitted') AS n,
                       COUNT(*) FILTER (WHERE status IN ('active', 'submitted')) AS held
                FROM reviews_assignment WHERE item_id = ANY(%s) GROUP BY item_id
            ) s
            WHERE i.id = s.item_id
            """,
            [campaign.reviewers_per_item, item_ids],
        )
