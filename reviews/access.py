"""Object-level access for labeling: which item a member may open, which assignment they act
through, which labels they may read. One helper per object kind.

``clausebook.access`` has already resolved the workspace and checked the role (404 for a
non-member, 403 for a role too low); these helpers go one level down, to objects, and are called
first by the labeling page and the API alike. An object of another workspace (or campaign) is
404, as if it did not exist; an object the member may not act on is 403. The services check
again (the assignment's reviewer, the campaign's status) as a second line.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from clausebook.models import Membership, Role, Workspace
from reviews.models import Assignment, Item, Label, LabelSource


def item_in_workspace(
    workspace: Workspace,
    item_id: int,
    *,
    campaign_id: int | None = None,
    with_messages: bool = False,
) -> Item:
    """The item (with its campaign and transcript) if it belongs to ``workspace`` (and to
    ``campaign_id`` when given), else 404. Writes that only need the message count leave the
    messages unread."""
    items = Item.objects.select_related("campaign", "transcript").filter(
        campaign__workspace=workspace
    )
    if campaign_id is not None:
        items = items.filter(campaign_id=campaign_id)
    if not with_messages:
        items = items.defer("transcript__messages", "transcript__metadata")
    item = items.filter(pk=item_id).first()
    if item is None:
        raise Http404("No such item")
    item.campaign.workspace = workspace  # spares the services a query for audit events
    return item


def own_assignment(item: Item, membership: Membership) -> Assignment | None:
    """The member's assignment on ``item`` (any status), sharing the loaded item."""
    assignment = Assignment.objects.filter(item=item, reviewer=membership.user_id).first()
    if assignment is not None:
        assignment.item = item
    return assignment


def item_to_label(
    membership: Membership, item_id: int, *, campaign_id: int | None = None
) -> tuple[Item, Assignment]:
    """The item and this reviewer's assignment on it: what every labeling write acts through.
    404 outside the workspace, 403 without an assignment on the item."""
    # One query on the hot path (every autosave): the assignment with its item and campaign.
    assignments = Assignment.objects.select_related("item__campaign", "item__transcript").filter(
        item_id=item_id,
        reviewer=membership.user_id,
        item__campaign__workspace=membership.workspace,
    )
    if campaign_id is not None:
        assignments = assignments.filter(item__campaign_id=campaign_id)
    assignment = assignments.defer(
        "item__transcript__messages", "item__transcript__metadata"
    ).first()
    if assignment is None:
        item_in_workspace(membership.workspace, item_id, campaign_id=campaign_id)  # 404 first
        raise PermissionDenied("This item is not assigned to you.")
    item = assignment.item
    item.campaign.workspace = membership.workspace
    return item, assignment


def item_to_read(
    membership: Membership, item_id: int, *, campaign_id: int | None = None
) -> tuple[Item, Assignment | None]:
    """The item (with its messages) and the member's assignment on it, for the labeling page.
    Reviewers need an assignment on the item; adjudicators and above may open any item of the
    workspace read-only."""
    item = item_in_workspace(
        membership.workspace, item_id, campaign_id=campaign_id, with_messages=True
    )
    assignment = own_assignment(item, membership)
    if assignment is None and membership.role < Role.ADJUDICATOR:
        raise PermissionDenied("This item is not assigned to you.")
    return item, assignment


def labels_visible(membership: Membership) -> QuerySet[Label]:
    """The labels the member may read (blind labeling: ``LabelQuerySet.visible_to``)."""
    return Label.objects.visible_to(membership)


def own_label(membership: Membership, label_id: int) -> Label:
    """A label the member may change: their own, as a reviewer. 404 if they may not even read
    it, 403 if they may read it but it is someone else's (or a judge's)."""
    label = (
        labels_visible(membership)
        .select_related("assignment__item__campaign", "clause")
        .filter(pk=label_id)
        .first()
    )
    if label is None:
        raise Http404("No such label")
    if label.source != LabelSource.HUMAN or label.reviewer_id != membership.user_id:
        raise PermissionDenied("You can change only your own labels.")
    return label
