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
* ``campaign_transcripts_add`` adds transcripts to a campaign that is not closed, chosen as at
  creation (the same resolver); ones already in it are skipped and counted. New items get
  ``open_slots = k``, so they are claimable at once; the row lock on the campaign makes
  concurrent adds queue, and the unique (campaign, transcript) constraint is the backstop.
* ``assignment_skip`` gives the slot back (``open_slots + 1``) so another reviewer takes it; the
  skipper keeps the skipped assignment row, so the claim query never offers them that item again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
# Lock the next item, take one of its slots and insert the assignment: one statement (a data-
# modifying WITH runs all three; the insert sees the updated row), so the hot path pays one round
# trip. A parallel claim of the reviewer's that committed first makes the insert break the
# one-active index, which fails the whole statement (caught by the caller).
_CLAIM_SQL = f"""
    WITH next AS (
        SELECT id {_OPEN_TO_REVIEWER} ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED
    ), slot AS (
        UPDATE reviews_item SET open_slots = reviews_item.open_slots - 1
        FROM next WHERE reviews_item.id = next.id
        RETURNING reviews_item.id
    )
    INSERT INTO reviews_assignment
        (campaign_id, item_id, reviewer_id, status, skip_reason, claimed_at, submitted_at)
    SELECT %(campaign)s, slot.id, %(reviewer)s, %(active)s, '', %(now)s, NULL FROM slot
    RETURNING id, item_id
"""  # noqa: S608 - the predicate is a constant of this code
# The reviewer's seat, locked (see ``item_claim_next``), with the campaign's status.
_SEAT_SQL = """
    SELECT c.status FROM reviews_campaignreviewer s
    JOIN reviews_campaign c ON c.id = s.campaign_id
    WHERE s.campaign_id = %s AND s.user_id = %s AND s.removed_at IS NULL
    LIMIT 1
    FOR NO KEY UPDATE OF s
"""
_ANY_LEFT_SQL = f"SELECT EXISTS (SELECT 1 {_OPEN_TO_REVIEWER})"
#: How long a claim waits, in all, for items that other claims hold for a moment.
_CLAIM_PATIENCE_S = 5.0
_ONE_ACTIVE = "assignment_one_active_per_campaign"


def _claim_next_item(campaign_id: int, reviewer: User) -> Assignment | None:
    """Lock the next item this reviewer may take, take one of its slots and hand it to them (an
    active assignment), or None when none is left for them.

    SKIP LOCKED may pass over the only items left because other claims hold them for a moment.
    Those claims take milliseconds, so we look again shortly, as long as some item still has a
    free slot, and so an item with a free slot is never reported as none. (Waiting on the locks
    instead, with a plain FOR UPDATE, deadlocked under load: a FOR UPDATE ... LIMIT 1 keeps its
    lock on every row it locked and then found full, and two such waiters can hold what the
    other waits for.)
    """
    deadline = time.monotonic() + _CLAIM_PATIENCE_S
    pause = 0.001
    params = {"campaign": campaign_id, "reviewer": reviewer.pk, "active": Assignment.Status.ACTIVE}
    with connection.cursor() as cursor:
        while True:
            now = params["now"] = timezone.now()
            cursor.execute(_CLAIM_SQL, params)
            row = cursor.fetchone()
            if row is not None:
                assignment = Assignment(
                    pk=row[0],
                    campaign_id=campaign_id,
                    item_id=row[1],
                    reviewer=reviewer,
                    status=Assignment.Status.ACTIVE,
                    skip_reason="",
                    claimed_at=now,
                    submitted_at=None,
                )
                assignment._state.adding = False
                assignment._state.db = connection.alias
                return assignment
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
            # Raw SQL: every claim runs it, and the ORM's compile step cost more than the query.
            with connection.cursor() as cursor:
                cursor.execute(_SEAT_SQL, [campaign.pk, reviewer.pk])
                seat = cursor.fetchone()
            if seat is None:
                status = Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk)
                _refuse_unless_open(status)
                raise PermissionDenied("You are not a reviewer on this campaign.")
            # Not locked: a claim racing a pause may still complete, exactly as if it had come
            # a moment earlier. Locking the campaign row would serialise every reviewer's claim.
            _refuse_unless_open(seat[0])
            # A parallel claim by this reviewer that queued on the seat ahead of us may have
            # committed an active assignment since our first look: the partial unique index
            # then refuses the insert (caught below). No extra query on the usual path.
            assignment = _claim_next_item(campaign.pk, reviewer)
            if assignment is not None:
                item_id = assignment.item_id
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


class CampaignClosed(Exception):
    """A closed campaign takes no more items; ``current`` is the campaign as it is now."""

    def __init__(self, current: Campaign) -> None:
        super().__init__("This campaign is closed: it takes no more transcripts.")
        self.current = current


@dataclass(frozen=True)
class ItemsAdded:
    """What an add did: items created, transcripts skipped because the campaign had them, and
    the campaign's item count afterwards."""

    added: int
    already: int
    item_count: int


def _lock_for_adding(campaign: Campaign) -> Campaign:
    # NO KEY UPDATE: two adds (and an add and a lifecycle write) queue on the row, so positions
    # never collide and a close either comes first or waits; claims, whose assignment inserts
    # take KEY SHARE on the campaign, are not held up.
    return Campaign.objects.select_for_update(no_key=True).get(pk=campaign.pk)


def _add_items(locked: Campaign, transcript_ids: Sequence[int]) -> ItemsAdded:
    """Append the transcripts the campaign lacks, in the order given, after its last item, each
    with k open slots (claimable at once); the item count follows. Call with the campaign
    locked (``_lock_for_adding``); ids must already be the workspace's."""
    wanted = list(dict.fromkeys(transcript_ids))
    present = set(
        Item.objects.filter(campaign=locked, transcript_id__in=wanted).values_list(
            "transcript_id", flat=True
        )
    )
    new = [pk for pk in wanted if pk not in present]
    start = (Item.objects.filter(campaign=locked).aggregate(last=Max("position"))["last"] or -1) + 1
    # The unique (campaign, transcript) constraint backs the lock: a duplicate would fail here.
    Item.objects.bulk_create(
        [
            Item(
                campaign=locked,
                transcript_id=pk,
                position=start + i,
                open_slots=locked.reviewers_per_item,
            )
            for i, pk in enumerate(new)
        ],
        batch_size=5000,
    )
    if new:
        Campaign.objects.filter(pk=locked.pk).update(item_count=F("item_count") + len(new))
    return ItemsAdded(added=len(new), already=len(present), item_count=locked.item_count + len(new))


@transaction.atomic
def campaign_items_add(*, campaign: Campaign, transcript_ids: Iterable[int]) -> int:
    """Add transcripts of the campaign's workspace to a campaign that is not closed, after its
    last item; the number added (ones already in it, and ids of other workspaces, are skipped).
    The campaign's item count follows, as the queue's progress reads it. The re-run job's
    path (results go straight into a campaign); people add through ``campaign_transcripts_add``."""
    locked = _lock_for_adding(campaign)
    if locked.status == Campaign.Status.CLOSED:
        raise ValidationError({"campaign_id": "This campaign is closed; choose an open one."})
    wanted = sorted(set(transcript_ids))
    valid = set(
        Transcript.objects.filter(workspace_id=locked.workspace_id, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    return _add_items(locked, [pk for pk in wanted if pk in valid]).added


@transaction.atomic
def campaign_transcripts_add(
    *, campaign: Campaign, actor: User, transcripts: TranscriptChoice
) -> ItemsAdded:
    """Add the transcripts ``transcripts`` picks to a campaign that is not closed (draft, open
    or paused), from the page and the API alike.

    The choice is resolved by ``transcript_ids_matching``, the resolver ``campaign_create``
    uses, so it picks exactly what it would pick for a new campaign: a listed id that is not a
    transcript of the workspace, or a choice that picks nothing, is a ValidationError naming
    ``transcripts``. Transcripts already in the campaign are skipped and counted, so repeating
    an add changes nothing. Raises ``CampaignClosed`` for a closed campaign. Audited.
    """
    locked = _lock_for_adding(campaign)
    if locked.status == Campaign.Status.CLOSED:
        raise CampaignClosed(locked)
    ids = transcript_ids_matching(locked.workspace, transcripts)
    done = _add_items(locked, ids)
    audit.record(
        verb="campaign.items_add",
        actor=actor,
        workspace=locked.workspace,
        target=locked,
        summary=(
            f"{locked.title}: {done.added} item{pluralize(done.added)} added"
            + (f", {done.already} already in it" if done.already else "")
        ),
        data={
            "source": transcripts.source,
            "added": done.added,
            "already": done.already,
            "item_count": done.item_count,
        },
    )
    return done
