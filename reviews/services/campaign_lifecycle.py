"""The campaign lifecycle: open, pause, resume, close, and seating or removing reviewers.

Every write here takes the ``revision`` the client saw and is one conditional
``UPDATE ... WHERE revision = :seen AND status IN (...)`` that bumps the revision: a stale
revision raises ``CampaignConflict`` with the campaign as it is now (the API answers 409), an
action the status does not allow raises ``ValidationError``. The UPDATE holds the campaign row
until commit, which also serialises seat changes against opening, so "at least k seated
reviewers" cannot be raced. Which action starts from which status is ``Campaign.TRANSITIONS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.template.defaultfilters import pluralize
from django.utils import timezone

from clausebook import audit
from clausebook.models import Membership, Role, User, Workspace
from reviews.models import Assignment, Campaign, CampaignReviewer, Item
from reviews.outcomes import outcomes_refresh_campaign
from reviews.selectors.campaigns import named_list


class CampaignConflict(Exception):
    """The client's copy of the campaign is stale; ``current`` is the campaign as it is now."""

    def __init__(self, current: Campaign) -> None:
        super().__init__(
            f"This campaign changed since you loaded it (it is now {current.get_status_display()}"
            f" at revision {current.revision}). Reload and try again."
        )
        self.current = current


def eligible_reviewer_ids(workspace: Workspace, reviewers: Sequence[User]) -> list[int]:
    """The users' ids, sorted; ValidationError unless each has the reviewer role or higher.

    The second line behind ``members_by_email`` (which pages and the API call first, and which
    names non-members without saying whether they have an account): a user who is no member at
    all gets the same "Not members of this workspace" answer here, never a different one.
    """
    by_id = {user.pk: user for user in reviewers}
    roles = dict(
        Membership.objects.filter(workspace=workspace, user_id__in=list(by_id)).values_list(
            "user_id", "role"
        )
    )
    strangers = [user.email for pk, user in sorted(by_id.items()) if pk not in roles]
    if strangers:
        raise ValidationError(
            {"reviewers": f"Not members of this workspace: {named_list(strangers)}."}
        )
    too_low = [user.email for pk, user in sorted(by_id.items()) if roles[pk] < Role.REVIEWER]
    if too_low:
        raise ValidationError(
            {
                "reviewers": "These members need the reviewer role (or higher) to review: "
                f"{named_list(too_low)}."
            }
        )
    return sorted(by_id)


def _advance(
    *, campaign: Campaign, seen: int, allowed: frozenset[str], refusal: str, **changes: Any
) -> Campaign:
    """Bump the revision (and apply ``changes``) if the client saw the current revision and the
    status is one of ``allowed``; return the campaign as it is now, its row locked until commit.

    Call inside a transaction. One conditional UPDATE: two admins pressing buttons at once
    cannot both win, and the loser hears what the campaign became.
    """
    updated = Campaign.objects.filter(pk=campaign.pk, revision=seen, status__in=allowed).update(
        revision=F("revision") + 1, **changes
    )
    current = (
        Campaign.objects.with_seat_count()
        .select_related("workspace", "spec_version__spec")
        .get(pk=campaign.pk)
    )
    if updated:
        return current
    if current.revision != seen:
        raise CampaignConflict(current)
    raise ValidationError(refusal.format(status=current.get_status_display().lower()))


_PAST = {"open": "opened", "pause": "paused", "resume": "resumed", "close": "closed"}


def _transition(*, campaign: Campaign, actor: User, revision: int, action: str) -> Campaign:
    allowed, target = Campaign.TRANSITIONS[action]
    now = timezone.now()
    changes: dict[str, Any] = {"status": target}
    if target == Campaign.Status.OPEN:  # the first opening is kept
        changes["opened_at"] = Coalesce(F("opened_at"), Value(now))
    if target == Campaign.Status.CLOSED:
        changes["closed_at"] = now
    current = _advance(
        campaign=campaign,
        seen=revision,
        allowed=allowed,
        refusal="This campaign is {status}: it cannot be " + _PAST[action] + ".",
        **changes,
    )
    if action in Campaign.NEEDS_K_SEATED and current.short_of_reviewers:
        # Raising rolls the UPDATE back: a campaign short of reviewers never opens.
        raise ValidationError(
            {
                "reviewers": (
                    f"{current.seated_count} reviewer{pluralize(current.seated_count)}"
                    f" seated, and each item needs {current.reviewers_per_item}: seat at least"
                    f" {current.reviewers_per_item} reviewers before the campaign can {action}."
                )
            }
        )
    audit.record(
        verb=f"campaign.{action}",
        actor=actor,
        workspace=current.workspace,
        target=current,
        summary=f"{current.title}: {current.get_status_display().lower()}",
        data={"revision": current.revision, "seated_reviewers": current.seated_count},
    )
    return current


@transaction.atomic
def campaign_open(*, campaign: Campaign, actor: User, revision: int) -> Campaign:
    """Open a draft for claiming; needs at least k seated reviewers."""
    return _transition(campaign=campaign, actor=actor, revision=revision, action="open")


@transaction.atomic
def campaign_pause(*, campaign: Campaign, actor: User, revision: int) -> Campaign:
    """Stop handing out work; assignments in progress stay with their reviewers."""
    return _transition(campaign=campaign, actor=actor, revision=revision, action="pause")


@transaction.atomic
def campaign_resume(*, campaign: Campaign, actor: User, revision: int) -> Campaign:
    """Hand out work again after a pause; needs at least k seated reviewers."""
    return _transition(campaign=campaign, actor=actor, revision=revision, action="resume")


@transaction.atomic
def campaign_close(*, campaign: Campaign, actor: User, revision: int) -> Campaign:
    """End the campaign for good: no more claims, reviewers no longer change. Work in progress
    and every label stay as they are."""
    return _transition(campaign=campaign, actor=actor, revision=revision, action="close")


_SEATS_REFUSAL = "This campaign is {status}: its reviewers can no longer change."


@transaction.atomic
def campaign_reviewers_add(
    *, campaign: Campaign, actor: User, reviewers: Sequence[User], revision: int
) -> Campaign:
    """Seat members (reviewer role or higher); a removed reviewer takes their seat back.

    Reviewers already seated are left as they are.
    """
    if not reviewers:
        raise ValidationError({"reviewers": "Choose at least one reviewer to add."})
    ids = eligible_reviewer_ids(campaign.workspace, reviewers)
    _advance(
        campaign=campaign, seen=revision, allowed=Campaign.SEATS_CHANGE_IN, refusal=_SEATS_REFUSAL
    )
    seats = {seat.user_id: seat for seat in CampaignReviewer.objects.filter(campaign=campaign)}
    now = timezone.now()
    returning = [pk for pk in ids if pk in seats and seats[pk].removed_at is not None]
    new = [pk for pk in ids if pk not in seats]
    CampaignReviewer.objects.filter(campaign=campaign, user_id__in=returning).update(
        removed_at=None, added_at=now
    )
    CampaignReviewer.objects.bulk_create(
        CampaignReviewer(campaign=campaign, user_id=pk, added_at=now) for pk in new
    )
    current = Campaign.objects.with_seat_count().select_related("workspace").get(pk=campaign.pk)
    seated = len(new) + len(returning)
    audit.record(
        verb="campaign.reviewers_add",
        actor=actor,
        workspace=current.workspace,
        target=current,
        summary=f"{current.title}: {seated} reviewer{pluralize(seated)} seated",
        data={
            "added": new,
            "returned": returning,
            "revision": current.revision,
            "seated_reviewers": current.seated_count,
        },
    )
    return current


def campaign_reviewer_remove(
    *, campaign: Campaign, actor: User, reviewer: User, revision: int
) -> Campaign:
    """End a reviewer's seat. Their active assignment is released and its slot goes back to the
    item; their submitted and skipped work stays; the campaign's outcomes are re-evaluated.

    The campaign may fall below k seated reviewers: it stays as it is and says so
    (``short_of_reviewers``); a paused one cannot resume until the seats are filled again.

    The removal commits first; the outcomes are then recomputed batch by batch (see
    ``outcomes_refresh_campaign``), so a large campaign is never locked whole. Recomputing is
    idempotent: if it fails part way, running it again finishes the job.
    """
    with transaction.atomic():
        current = _remove_seat(campaign=campaign, actor=actor, reviewer=reviewer, revision=revision)
    outcomes_refresh_campaign(campaign=current, actor=actor)
    return current


def _remove_seat(*, campaign: Campaign, actor: User, reviewer: User, revision: int) -> Campaign:
    _advance(
        campaign=campaign, seen=revision, allowed=Campaign.SEATS_CHANGE_IN, refusal=_SEATS_REFUSAL
    )
    now = timezone.now()
    ended = (
        CampaignReviewer.objects.seated()
        .filter(campaign=campaign, user=reviewer)
        .update(removed_at=now)
    )
    if not ended:
        raise ValidationError({"reviewer": f"{reviewer.email} is not seated on this campaign."})
    # The assignment rows are locked before the items, the order label saves and submits use.
    released = list(
        Assignment.objects.select_for_update()
        .filter(campaign=campaign, reviewer=reviewer, status=Assignment.Status.ACTIVE)
        .values_list("id", "item_id")
    )
    if released:
        Assignment.objects.filter(pk__in=[pk for pk, _ in released]).update(
            status=Assignment.Status.RELEASED
        )
        for _, item_id in released:  # one per campaign in practice: the database sees to it
            Item.objects.filter(pk=item_id).update(open_slots=F("open_slots") + 1)
    current = Campaign.objects.with_seat_count().select_related("workspace").get(pk=campaign.pk)
    audit.record(
        verb="campaign.reviewer_remove",
        actor=actor,
        workspace=current.workspace,
        target=current,
        summary=f"{current.title}: {reviewer.email} removed"
        + (" (now short of reviewers)" if current.short_of_reviewers else ""),
        data={
            "reviewer": reviewer.pk,
            "released_items": [item_id for _, item_id in released],
            "revision": current.revision,
            "seated_reviewers": current.seated_count,
        },
    )
    return current
