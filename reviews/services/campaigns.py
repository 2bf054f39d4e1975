"""Writes for campaigns: creation, claiming and skipping work (the lifecycle and seats are in
``reviews.services.campaign_lifecycle``).

Contracts
---------
* ``campaign_create`` is the one entrance for a new campaign, from the form and the API alike: it
  takes the raw choices (scope, transcript selection, scales) and resolves them through
  ``reviews.selectors.campaigns``. It pins a *published* spec version of the same workspace and
  seats members with the reviewer role or higher. Items are bulk-inserted with
  ``open_slots = k``. A campaign starts as a draft, or open when asked and at least k reviewers
  are seated.
* ``item_claim_next`` hands out work only in an open campaign and only to a seated reviewer: an
  item goes to exactly ``k`` distinct reviewers, never more (``open_slots`` is decremented under a
  row lock and has a ``>= 0`` check constraint; the unique ``(item, reviewer)`` constraint is the
  backstop), no item with an open slot is passed over, and a reviewer holds at most one active
  assignment per campaign (a partial unique index; parallel claims by one reviewer all answer
  with the same assignment).
* ``assignment_skip`` gives the slot back (``open_slots + 1``) so another reviewer takes it; the
  skipper keeps the skipped assignment row, so the claim query never offers them that item again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.template.defaultfilters import pluralize
from django.utils import timezone

from clausebook import audit
from clausebook.models import User, Workspace
from reviews.models import Assignment, Campaign, CampaignClause, CampaignReviewer, Item
from reviews.selectors.campaigns import (
    CLAIMABLE_BY_REVIEWER_SQL,
    ScopeChoice,
    TranscriptChoice,
    describe_scope,
    scope_clauses,
    transcript_ids_matching,
)
from reviews.services.campaign_lifecycle import campaign_open, eligible_reviewer_ids
from specs.models import SpecVersion, VersionStatus
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
#: Named verdict scales a form can offer instead of a custom one.
VERDICT_PRESETS: dict[str, Scale] = {
    "default": DEFAULT_VERDICT_SCALE,
    "xstest": XSTEST_VERDICT_SCALE,
}
# Verdicts are picked with the keys 1-9, so a scale has at most nine entries.
MAX_SCALE = 9
_VALUE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def validate_scale(scale: Any, *, name: str, minimum: int) -> Scale:
    """Return ``scale`` as a clean list of ``{"value", "label"}`` (plus ``"grade"`` where an
    entry gives one: good, bad or ok) or raise ValidationError.

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
        cleaned = {"value": value, "label": label}
        # An optional example grade (``reviews.services.promotion.verdict_grade``) for scales
        # whose verdicts the default mapping does not know or would grade the other way.
        grade = entry.get("grade")
        if grade not in (None, ""):
            if grade not in ("good", "bad", "ok"):
                raise ValidationError(
                    {name: f"Entry {index}: grade {str(grade)[:20]!r} must be good, bad or ok."}
                )
            cleaned["grade"] = grade
        clean.append(cleaned)
    return clean


@transaction.atomic
def campaign_create(
    *,
    workspace: Workspace,
    actor: User,
    title: str,
    spec_version: SpecVersion,
    scope: ScopeChoice,
    transcripts: TranscriptChoice,
    reviewers: Sequence[User] = (),
    reviewers_per_item: int = 2,
    blind: bool = True,
    instructions: str = "",
    verdict_scale: Scale | None = None,
    severity_scale: Scale | None = None,
    scope_description: str = "",
    gold_from_agreement: bool = True,
    adjudicator_may_have_labeled: bool = False,
    open_now: bool = False,
) -> Campaign:
    """Create a campaign with one item per chosen transcript, as a draft or (``open_now``) open.

    Raises ValidationError naming the field at fault; with ``open_now`` and fewer than k
    reviewers, nothing is created.
    """
    if spec_version.spec.workspace_id != workspace.pk:
        raise ValidationError({"spec_version": "No such spec version in this workspace."})
    if spec_version.status != VersionStatus.PUBLISHED:
        raise ValidationError({"spec_version": "Campaigns pin a published spec version."})
    if not 1 <= reviewers_per_item <= 20:
        raise ValidationError({"reviewers_per_item": "Reviewers per item must be 1 to 20."})
    title = title.strip()
    if not title:
        raise ValidationError({"title": "Give the campaign a title."})
    clauses = scope_clauses(spec_version, scope)
    if not clauses:
        raise ValidationError({"clauses": "Choose at least one clause."})
    transcript_ids = transcript_ids_matching(workspace, transcripts)
    reviewer_ids = eligible_reviewer_ids(workspace, reviewers)
    verdicts = validate_scale(
        verdict_scale or DEFAULT_VERDICT_SCALE, name="verdict_scale", minimum=2
    )
    severities = validate_scale(
        severity_scale or DEFAULT_SEVERITY_SCALE, name="severity_scale", minimum=1
    )
    campaign = Campaign.objects.create(
        workspace=workspace,
        title=title[:200],
        spec_version=spec_version,
        scope_description=(scope_description or describe_scope(spec_version, scope, clauses))[:300],
        reviewers_per_item=reviewers_per_item,
        blind=blind,
        instructions=instructions,
        verdict_scale=verdicts,
        severity_scale=severities,
        gold_from_agreement=gold_from_agreement,
        adjudicator_may_have_labeled=adjudicator_may_have_labeled,
        created_by=actor,
        item_count=len(transcript_ids),
    )
    CampaignClause.objects.bulk_create(
        CampaignClause(campaign=campaign, clause_id=clause.pk, position=i)
        for i, clause in enumerate(clauses)
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
        summary=(
            f"{campaign.title}: {len(transcript_ids)} item{pluralize(len(transcript_ids))}, "
            f"{len(clauses)} clause{pluralize(len(clauses))}"
        ),
        data={
            "spec_version": spec_version.pk,
            "clauses": len(clauses),
            "items": len(transcript_ids),
            "k": reviewers_per_item,
            "blind": blind,
            "gold_from_agreement": gold_from_agreement,
            "adjudicator_may_have_labeled": adjudicator_may_have_labeled,
            "reviewers": reviewer_ids,
        },
    )
    if open_now:
        campaign = campaign_open(campaign=campaign, actor=actor, revision=campaign.revision)
    return campaign


# --------------------------------------------------------------------------------------------------
# Claiming and skipping
# --------------------------------------------------------------------------------------------------

# The claim query walks the partial index item_claimable (campaign, position) WHERE open_slots > 0,
# so its cost does not grow with items already fully handed out. SKIP LOCKED lets concurrent
# reviewers each take a different item instead of queueing on the same row. Which items a
# reviewer may take is the one predicate the counts shown to reviewers use too.
_OPEN_TO_REVIEWER = (
    f"FROM reviews_item WHERE campaign_id = %(campaign)s AND {CLAIMABLE_BY_REVIEWER_SQL}"
)
_CLAIM_SQL = f"SELECT id {_OPEN_TO_REVIEWER} ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED"
_ANY_LEFT_SQL = f"SELECT EXISTS (SELECT 1 {_OPEN_TO_REVIEWER})"
#: How long a claim waits, in all, for items that other claims hold for a moment.
_CLAIM_PATIENCE_S = 5.0
_ONE_ACTIVE = "assignment_one_active_per_campaign"


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
    params = {"campaign": campaign_id, "reviewer": reviewer_id}
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_CLAIM_SQL, params)
            row = cursor.fetchone()
            if row is not None:
                return row[0]
            cursor.execute(_ANY_LEFT_SQL, params)
            if not cursor.fetchone()[0]:
                return None
            if time.monotonic() > deadline:
                raise ValidationError("Many reviewers are claiming at once; try again in a moment.")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def _active_assignment(campaign_id: int, reviewer: User) -> Assignment | None:
    return (
        Assignment.objects.filter(
            campaign_id=campaign_id, reviewer=reviewer, status=Assignment.Status.ACTIVE
        )
        .select_related("campaign")
        .first()
    )


def _refuse_unless_open(status: str) -> None:
    if status != Campaign.Status.OPEN:
        label = Campaign.Status(status).label.lower()
        raise ValidationError(f"This campaign is {label}: no work is handed out.")


def _is_violation_of(error: IntegrityError, constraint: str) -> bool:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == constraint


def item_claim_next(
    *, campaign: Campaign, reviewer: User, after_submit: bool = False
) -> Assignment | None:
    """The reviewer's next assignment in ``campaign``, or None when nothing is left for them.

    The assignment in progress is resumed first (a reviewer works one item at a time per
    campaign). Otherwise one item with an open slot that the reviewer has never held is locked,
    its ``open_slots`` decremented and an assignment inserted, all in one transaction.
    Raises ValidationError unless the campaign is open, PermissionDenied unless the reviewer is
    seated on it.

    ``after_submit``: the caller has just submitted the reviewer's assignment in this campaign,
    so there is none to resume; the first look is skipped (a parallel claim of theirs is still
    caught by the one-active index, below).
    """
    # The usual "continue" needs one query. An active assignment implies a seat: removing a
    # reviewer releases theirs in the same transaction.
    active = None if after_submit else _active_assignment(campaign.pk, reviewer)
    if active is not None:
        _refuse_unless_open(active.campaign.status)
        return active
    try:
        with transaction.atomic():
            # Lock the reviewer's own seat. A removal (which updates the seat) then either waits
            # for this claim and releases what it hands out, or goes first and this claim finds
            # no seat. Parallel claims by one reviewer (two tabs, a retried request) queue here
            # too; other reviewers lock other seats, so they never queue on each other.
            seat = (
                CampaignReviewer.objects.seated()
                .select_for_update(of=("self",), no_key=True)
                .select_related("campaign")
                .filter(campaign_id=campaign.pk, user=reviewer)
                .only("id", "campaign", "campaign__status")
                .first()
            )
            if seat is None:
                status = Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk)
                _refuse_unless_open(status)
                raise PermissionDenied("You are not a reviewer on this campaign.")
            # Not locked: a claim racing a pause may still complete, exactly as if it had come
            # a moment earlier. Locking the campaign row would serialise every reviewer's claim.
            _refuse_unless_open(seat.campaign.status)
            item_id = _lock_next_item(campaign.pk, reviewer.pk)
            if item_id is None:
                assignment = None
            else:
                Item.objects.filter(pk=item_id).update(open_slots=F("open_slots") - 1)
                # A parallel claim by this reviewer that queued on the seat ahead of us may have
                # committed an active assignment since our first look: the partial unique index
                # then refuses this insert (caught below). No extra query on the usual path.
                assignment = Assignment.objects.create(
                    campaign_id=campaign.pk, item_id=item_id, reviewer=reviewer
                )
                audit.record(
                    verb="assignment.claim",
                    actor=reviewer,
                    workspace=campaign.workspace,
                    target=assignment,
                    summary=f"{campaign.title}: item {item_id}",
                )
    except IntegrityError as error:
        if not _is_violation_of(error, _ONE_ACTIVE):
            raise
        assignment = None  # leaving the block rolled our slot decrement back
    if assignment is None:
        # Nothing left for this reviewer, or a parallel claim of theirs won: either way the
        # answer is their assignment in progress, if they now have one.
        return _active_assignment(campaign.pk, reviewer)
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


@transaction.atomic
def campaign_items_add(*, campaign: Campaign, transcript_ids: Iterable[int]) -> int:
    """Add transcripts of the campaign's workspace to a campaign that is not closed, after its
    last item; the number added (ones already in it are skipped). The campaign's item count
    follows, as the queue's progress reads it."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.status == Campaign.Status.CLOSED:
        raise ValidationError({"campaign_id": "This campaign is closed; choose an open one."})
    wanted = sorted(set(transcript_ids))
    valid = set(
        Transcript.objects.filter(workspace_id=locked.workspace_id, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    present = set(
        Item.objects.filter(campaign=locked, transcript_id__in=wanted).values_list(
            "transcript_id", flat=True
        )
    )
    new = [pk for pk in wanted if pk in valid and pk not in present]
    start = (Item.objects.filter(campaign=locked).aggregate(last=Max("position"))["last"] or -1) + 1
    Item.objects.bulk_create(
        [
            Item(
                campaign=locked,
                transcript_id=pk,
                position=start + i,
                open_slots=locked.reviewers_per_item,
            )
            for i, pk in enumerate(new)
        ]
    )
    if new:
        Campaign.objects.filter(pk=locked.pk).update(item_count=F("item_count") + len(new))
    return len(new)
