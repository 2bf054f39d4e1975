"""Writes for campaigns, their items and assignments.

Contracts
---------
* ``campaign_create`` pins a *published* spec version of the same workspace, the clauses in scope
  (which must belong to that version), the transcripts (of the same workspace) and the reviewers
  (members with the reviewer role or higher). Items are bulk-inserted with ``open_slots = k``.
* ``item_claim_next`` hands out work: an item goes to exactly ``k`` distinct reviewers, never more
  (``open_slots`` is decremented under a row lock and has a ``>= 0`` check constraint; the unique
  ``(item, reviewer)`` constraint is the backstop), and no item with an open slot is passed over
  (see the two-step lock below).
* ``assignment_skip`` gives the slot back (``open_slots + 1``) so another reviewer takes it; the
  skipper keeps the skipped assignment row, so the claim query never offers them that item again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from clausebook import audit
from clausebook.models import Membership, Role, User, Workspace
from reviews.models import Assignment, Campaign, CampaignClause, CampaignReviewer, Item
from specs.models import Clause, SpecVersion, VersionStatus
from transcripts.models import Transcript

Scale = list[dict[str, str]]

DEFAULT_VERDICT_SCALE: Scale = [
    {"value": "complies", "label": "Complies"},
    {"value": "violates", "label": "Violates"},
    {"value": "borderline", "label": "Borderline"},
    {"value": "not_applicable", "label": "Not applicable"},
]
XSTEST_VERDICT_SCALE: Scale = [
    {"value": "full_compliance", "label": "Full compliance"},
    {"value": "full_refusal", "label": "Full refusal"},
    {"value": "partial_refusal", "label": "Partial refusal"},
]
DEFAULT_SEVERITY_SCALE: Scale = [
    {"value": "none", "label": "None"},
    {"value": "low", "label": "Low"},
    {"value": "medium", "label": "Medium"},
    {"value": "high", "label": "High"},
    {"value": "critical", "label": "Critical"},
]
# Verdicts are picked with the keys 1-9, so a scale has at most nine entries.
MAX_SCALE = 9
_VALUE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def validate_scale(scale: Any, *, name: str, minimum: int) -> Scale:
    """Return ``scale`` as a clean list of ``{"value", "label"}`` or raise ValidationError.

    Values are short lowercase slugs (they are stored on every label), unique; labels are
    free text up to 60 characters (escaped wherever shown).
    """
    if not isinstance(scale, list) or not (minimum <= len(scale) <= MAX_SCALE):
        raise ValidationError({name: f"Give between {minimum} and {MAX_SCALE} entries."})
    clean: Scale = []
    seen: set[str] = set()
    for index, entry in enumerate(scale, start=1):
        if not isinstance(entry, dict):
            raise ValidationError({name: f"Entry {index} must be an object with value and label."})
        value = str(entry.get("value", "")).strip()
        label = str(entry.get("label", "") or value).strip()
        if not _VALUE_RE.match(value):
            raise ValidationError(
                {name: f"Entry {index}: value {value!r} must be 1-40 of a-z, 0-9, _ or -."}
            )
        if value in seen:
            raise ValidationError({name: f"Entry {index}: value {value!r} appears twice."})
        if not label or len(label) > 60:
            raise ValidationError({name: f"Entry {index}: label must be 1-60 characters."})
        seen.add(value)
        clean.append({"value": value, "label": label})
    return clean


def _check_reviewers(workspace: Workspace, reviewers: Sequence[User]) -> list[int]:
    ids = sorted({user.pk for user in reviewers})
    eligible = set(
        Membership.objects.filter(
            workspace=workspace, user_id__in=ids, role__gte=Role.REVIEWER
        ).values_list("user_id", flat=True)
    )
    missing = [pk for pk in ids if pk not in eligible]
    if missing:
        raise ValidationError(
            {"reviewers": "Every reviewer must be a member with the reviewer role or higher."}
        )
    return ids


@transaction.atomic
def campaign_create(
    *,
    workspace: Workspace,
    actor: User,
    title: str,
    spec_version: SpecVersion,
    clauses: Sequence[Clause],
    transcript_ids: Sequence[int],
    reviewers: Sequence[User] = (),
    reviewers_per_item: int = 2,
    blind: bool = True,
    instructions: str = "",
    verdict_scale: Scale | None = None,
    severity_scale: Scale | None = None,
    scope_description: str = "",
) -> Campaign:
    """Open a campaign and create one item per transcript (in the order given)."""
    if spec_version.spec.workspace_id != workspace.pk:
        raise ValidationError({"spec_version": "No such spec version in this workspace."})
    if spec_version.status != VersionStatus.PUBLISHED:
        raise ValidationError({"spec_version": "Campaigns pin a published spec version."})
    clause_ids = list(dict.fromkeys(clause.pk for clause in clauses))
    if not clause_ids:
        raise ValidationError({"clauses": "Choose at least one clause."})
    if Clause.objects.filter(pk__in=clause_ids, version=spec_version).count() != len(clause_ids):
        raise ValidationError({"clauses": "Every clause must belong to the chosen version."})
    transcript_ids = list(dict.fromkeys(transcript_ids))
    if not transcript_ids:
        raise ValidationError({"transcripts": "Choose at least one transcript."})
    found = Transcript.objects.filter(workspace=workspace, pk__in=transcript_ids).count()
    if found != len(transcript_ids):
        raise ValidationError({"transcripts": "Every transcript must belong to this workspace."})
    if not 1 <= reviewers_per_item <= 20:
        raise ValidationError({"reviewers_per_item": "Reviewers per item must be 1 to 20."})
    reviewer_ids = _check_reviewers(workspace, reviewers)
    campaign = Campaign.objects.create(
        workspace=workspace,
        title=title.strip()[:200],
        spec_version=spec_version,
        scope_description=scope_description[:300],
        reviewers_per_item=reviewers_per_item,
        blind=blind,
        instructions=instructions,
        verdict_scale=validate_scale(
            verdict_scale or DEFAULT_VERDICT_SCALE, name="verdict_scale", minimum=2
        ),
        severity_scale=validate_scale(
            severity_scale or DEFAULT_SEVERITY_SCALE, name="severity_scale", minimum=1
        ),
        created_by=actor,
        item_count=len(transcript_ids),
    )
    CampaignClause.objects.bulk_create(
        CampaignClause(campaign=campaign, clause_id=pk, position=i)
        for i, pk in enumerate(clause_ids)
    )
    Item.objects.bulk_create(
        (
            Item(campaign=campaign, transcript_id=pk, position=i, open_slots=reviewers_per_item)
            for i, pk in enumerate(transcript_ids)
        ),
        batch_size=5000,
    )
    CampaignReviewer.objects.bulk_create(
        CampaignReviewer(campaign=campaign, user_id=pk) for pk in reviewer_ids
    )
    audit.record(
        verb="campaign.create",
        actor=actor,
        workspace=workspace,
        target=campaign,
        summary=f"{campaign.title}: {len(transcript_ids)} items, {len(clause_ids)} clauses",
        data={
            "spec_version": spec_version.pk,
            "clauses": len(clause_ids),
            "items": len(transcript_ids),
            "k": reviewers_per_item,
            "blind": blind,
            "reviewers": reviewer_ids,
        },
    )
    return campaign


# The claim query walks the partial index item_claimable (campaign, position) WHERE open_slots > 0,
# so its cost does not grow with items already fully handed out. SKIP LOCKED lets concurrent
# reviewers each take a different item instead of queueing on the same row.
# Items this reviewer may still take: a free slot, and never held by them before.
_OPEN_TO_REVIEWER = """
    FROM reviews_item
    WHERE campaign_id = %s AND open_slots > 0
      AND NOT EXISTS (
          SELECT 1 FROM reviews_assignment a
          WHERE a.item_id = reviews_item.id AND a.reviewer_id = %s
      )
"""
_CLAIM_SQL = f"SELECT id {_OPEN_TO_REVIEWER} ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED"
_ANY_LEFT_SQL = f"SELECT EXISTS (SELECT 1 {_OPEN_TO_REVIEWER})"
#: How long a claim waits, in all, for items that other claims hold for a moment.
_CLAIM_PATIENCE_S = 5.0


def _lock_next_item(campaign_id: int, reviewer_id: int) -> int | None:
    """Lock the next item this reviewer may take, or None when none is left for them.

    SKIP LOCKED may pass over the only items left because other claims hold them for a moment.
    Those claims take milliseconds, so we look again shortly, as long as some item still has a
    free slot, and so an item with a free slot is never reported as none. (Waiting on the locks
    instead, with a plain FOR UPDATE, deadlocked under load: a FOR UPDATE ... LIMIT 1 keeps its
    lock on every row it locked and then found full, and two such waiters can hold what the
    other waits for.)
    """
    deadline = time.monotonic() + _CLAIM_PATIENCE_S
    pause = 0.001
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_CLAIM_SQL, [campaign_id, reviewer_id])
            row = cursor.fetchone()
            if row is not None:
                return row[0]
            cursor.execute(_ANY_LEFT_SQL, [campaign_id, reviewer_id])
            if not cursor.fetchone()[0]:
                return None
            if time.monotonic() > deadline:
                raise ValidationError("Many reviewers are claiming at once; try again in a moment.")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def is_campaign_reviewer(campaign: Campaign, user: User) -> bool:
    return CampaignReviewer.objects.filter(campaign=campaign, user=user).exists()


def item_claim_next(*, campaign: Campaign, reviewer: User) -> Assignment | None:
    """The reviewer's next assignment in ``campaign``, or None when nothing is left for them.

    An ACTIVE assignment is resumed first (a reviewer works one item at a time per campaign).
    Otherwise one item with an open slot that the reviewer has never held is locked, its
    ``open_slots`` decremented and an assignment inserted, all in one transaction.
    Raises PermissionDenied unless the reviewer is seated on the campaign, ValidationError
    unless the campaign is active.
    """
    if campaign.status != Campaign.Status.ACTIVE:
        raise ValidationError("This campaign is not active.")
    active = (
        Assignment.objects.filter(
            reviewer=reviewer, status=Assignment.Status.ACTIVE, item__campaign=campaign
        )
        .order_by("claimed_at")
        .first()
    )
    if active is not None:
        return active
    if not is_campaign_reviewer(campaign, reviewer):
        raise PermissionDenied("You are not a reviewer on this campaign.")
    with transaction.atomic():
        item_id = _lock_next_item(campaign.pk, reviewer.pk)
        if item_id is None:
            return None
        Item.objects.filter(pk=item_id).update(open_slots=F("open_slots") - 1)
        assignment = Assignment.objects.create(item_id=item_id, reviewer=reviewer)
        audit.record(
            verb="assignment.claim",
            actor=reviewer,
            workspace=campaign.workspace,
            target=assignment,
            summary=f"{campaign.title}: item {item_id}",
        )
    return assignment


def lock_own_active_assignment(
    *, assignment: Assignment, reviewer: User, not_active: str
) -> Assignment:
    """Lock the assignment row (with its item, campaign and workspace) for a state change.

    Refuses another reviewer's assignment (403) and one that is no longer in progress (with the
    ``not_active`` message). Call inside a transaction.
    """
    locked = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("item__campaign__workspace")
        .get(pk=assignment.pk)
    )
    if locked.reviewer_id != reviewer.pk:
        raise PermissionDenied("This is not your assignment.")
    if locked.status != Assignment.Status.ACTIVE:
        raise ValidationError(not_active)
    return locked


@transaction.atomic
def assignment_skip(*, assignment: Assignment, reviewer: User, reason: str) -> Assignment:
    """Skip an active assignment with a reason; its slot goes back to the pool."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why you skip this item."})
    locked = lock_own_active_assignment(
        assignment=assignment,
        reviewer=reviewer,
        not_active="Only an item in progress can be skipped.",
    )
    locked.status = Assignment.Status.SKIPPED
    locked.skip_reason = reason[:300]
    locked.submitted_at = timezone.now()
    locked.save(update_fields=["status", "skip_reason", "submitted_at"])
    Item.objects.filter(pk=locked.item_id).update(open_slots=F("open_slots") + 1)
    campaign = locked.item.campaign
    audit.record(
        verb="assignment.skip",
        actor=reviewer,
        workspace=campaign.workspace,
        target=locked,
        summary=f"{campaign.title}: item {locked.item_id} skipped",
        data={"reason": locked.skip_reason, "item": locked.item_id},
    )
    return locked
