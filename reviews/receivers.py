"""Reviews' answers to the platform's signals (connected in ``ReviewsConfig.ready``).

The platform cannot call reviews (dependencies run one way), so it announces that a member was
removed or a user deactivated, and this module frees what they held: each seat they still have
in a campaign that can change ends through ``campaign_reviewer_remove``, which releases their
active assignment (the item's slot goes back to the queue), keeps their submitted and skipped
work, and re-evaluates the campaign's outcomes. A closed campaign keeps its seats as history.

Receivers run inside the platform service's transaction: the seats end if and only if the
membership (or the account's access) does.
"""

from __future__ import annotations

from typing import Any

from clausebook.models import User, Workspace
from reviews.models import Campaign, CampaignReviewer
from reviews.services.campaign_lifecycle import CampaignConflict, campaign_reviewer_remove

# A concurrent lifecycle change (someone pausing the campaign) bumps its revision between our
# read and our write; read again and retry, a few times.
_ATTEMPTS = 5


def release_seats(*, user: User, actor: User | None, workspace: Workspace | None = None) -> int:
    """End every seat ``user`` holds in campaigns (of ``workspace``, if given) that can still
    change; return how many ended."""
    seats = CampaignReviewer.objects.seated().filter(
        user=user, campaign__status__in=Campaign.SEATS_CHANGE_IN
    )
    if workspace is not None:
        seats = seats.filter(campaign__workspace=workspace)
    ended = 0
    for campaign_id in sorted(set(seats.values_list("campaign_id", flat=True))):
        for attempt in range(_ATTEMPTS):
            campaign = Campaign.objects.get(pk=campaign_id)
            if campaign.status not in Campaign.SEATS_CHANGE_IN:
                break  # closed meanwhile: its seats are history now
            try:
                campaign_reviewer_remove(
                    campaign=campaign,
                    actor=actor,  # type: ignore[arg-type]  # None: the system acts
                    reviewer=user,
                    revision=campaign.revision,
                )
            except CampaignConflict:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            ended += 1
            break
    return ended


def on_member_removed(
    sender: Any, *, workspace: Workspace, user: User, actor: User | None, **kwargs: Any
) -> None:
    release_seats(user=user, actor=actor, workspace=workspace)


def on_user_deactivated(sender: Any, *, user: User, actor: User | None, **kwargs: Any) -> None:
    release_seats(user=user, actor=actor)
