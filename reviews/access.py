"""Object-level access for labeling: which item a member may open, which assignment they act
through, which labels they may read. One helper per object kind.

``clausebook.access`` has already resolved the workspace and checked the role (404 for a
non-member, 403 for a role too low); these helpers go one level down, to objects, and are called
first by the labeling page and the API alike. An object of another workspace (or campaign) is
404, as if it did not exist; an object the member may not act on is 403. The services check
again (the assignment's reviewer, the campaign's status) as a second line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from clausebook import permissions
from clausebook.joined_reads import JoinedReader, model_columns, table
from clausebook.models import Membership, Role, Workspace
from reviews.models import (
    Assignment,
    Campaign,
    CampaignClause,
    GoldDecision,
    GoldExport,
    Item,
    Label,
    LabelSource,
)
from specs.models import Clause
from transcripts.models import Transcript


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


def _own_assignment_with_item(
    membership: Membership, item_id: int, *, campaign_id: int | None, with_messages: bool
) -> Assignment | None:
    """The member's assignment on the item with its item, campaign and transcript, in one
    query, or None (no such item in the workspace or campaign, or no assignment on it)."""
    # Every autosave and every labeling page runs this: the statement is built once per process
    # (the ORM's select_related compile cost more than the query), the rows become model
    # instances exactly as the ORM makes them (deferred fields load on access).
    found = _assignment_reader(with_messages).one(
        [item_id, membership.user_id, membership.workspace_id, campaign_id, campaign_id]
    )
    if found is None:
        return None
    assignment, item, campaign, transcript = found
    item.campaign = campaign
    item.transcript = transcript
    assignment.item = item
    campaign.workspace = membership.workspace
    return assignment


@cache
def _assignment_reader(with_messages: bool) -> JoinedReader:
    skip = () if with_messages else ("messages", "metadata")
    parts = (
        model_columns(Assignment, "a"),
        model_columns(Item, "i"),
        model_columns(Campaign, "c"),
        model_columns(Transcript, "t", skip=skip),
    )
    sql = f"""
        SELECT {", ".join(part.select for part in parts)}
        FROM {table(Assignment)} a
        JOIN {table(Item)} i ON i.id = a.item_id
        JOIN {table(Campaign)} c ON c.id = i.campaign_id
        JOIN {table(Transcript)} t ON t.id = i.transcript_id
        WHERE a.item_id = %s AND a.reviewer_id = %s AND c.workspace_id = %s
          AND (%s::bigint IS NULL OR i.campaign_id = %s)
    """  # noqa: S608 - table and column names are the models' own
    return JoinedReader(sql, parts)


def item_to_label(
    membership: Membership, item_id: int, *, campaign_id: int | None = None
) -> tuple[Item, Assignment]:
    """The item and this reviewer's assignment on it: what every labeling write acts through.
    404 outside the workspace, 403 without an assignment on the item."""
    # One query on the hot path (every autosave): the assignment with its item and campaign.
    assignment = _own_assignment_with_item(
        membership, item_id, campaign_id=campaign_id, with_messages=False
    )
    if assignment is None:
        item_in_workspace(membership.workspace, item_id, campaign_id=campaign_id)  # 404 first
        raise PermissionDenied("This item is not assigned to you.")
    return assignment.item, assignment


def item_to_read(
    membership: Membership, item_id: int, *, campaign_id: int | None = None
) -> tuple[Item, Assignment | None]:
    """The item (with its messages) and the member's assignment on it, for the labeling page.
    Reviewers need an assignment on the item; adjudicators and above may open any item of the
    workspace read-only."""
    # One query on the common path (a reviewer opening their item); the item alone otherwise.
    assignment = _own_assignment_with_item(
        membership, item_id, campaign_id=campaign_id, with_messages=True
    )
    if assignment is not None:
        return assignment.item, assignment
    item = item_in_workspace(
        membership.workspace, item_id, campaign_id=campaign_id, with_messages=True
    )
    if membership.role < Role.ADJUDICATOR:
        raise PermissionDenied("This item is not assigned to you.")
    return item, None


def labels_visible(membership: Membership) -> QuerySet[Label]:
    """The labels the member may read (blind labeling: ``LabelQuerySet.visible_to``)."""
    return Label.objects.visible_to(membership)


def others_labels_open(
    membership: Membership, campaign: Campaign, assignment: Assignment | None
) -> bool:
    """Whether others' work on an item is open to the member, given their assignment on it (or
    None): blind labeling's rule, as ``LabelQuerySet.visible_to`` states it per row in SQL,
    decided here for one item whose facts the caller already holds (a test keeps the two
    equal). Not blind, or: a reviewer who has submitted; an adjudicator with nothing
    unfinished on the item."""
    if not campaign.blind:
        return True
    submitted = assignment is not None and assignment.status == Assignment.Status.SUBMITTED
    if membership.role >= Role.ADJUDICATOR:
        return assignment is None or submitted
    return submitted


def labels_on_item(
    membership: Membership, item: Item, assignment: Assignment | None
) -> QuerySet[Label]:
    """The labels on ``item`` the member may read: exactly ``labels_visible(membership)`` on
    that item, for the labeling page. The item (with its campaign) and the member's assignment
    are already loaded, so the rule is decided in Python and the query is a plain index read
    (no EXISTS per row, no join): a reviewer's own page, the most viewed page, reads only
    their own labels."""
    mine = Q(source=LabelSource.HUMAN, reviewer=membership.user_id)
    labels = Label.objects.filter(item=item)
    if not others_labels_open(membership, item.campaign, assignment):
        return labels.filter(mine)
    shown = Q(source=LabelSource.HUMAN, status=Label.Status.SUBMITTED)
    if membership.role >= Role.ADJUDICATOR or not item.campaign.blind:
        shown |= Q(source=LabelSource.JUDGE)
    return labels.filter(mine | shown)


@cache
def _own_labels_reader() -> JoinedReader:
    label = model_columns(Label, "l")
    sql = f"""
        SELECT {label.select} FROM {table(Label)} l
        WHERE l.item_id = %s AND l.source = %s AND l.reviewer_id = %s
    """  # noqa: S608 - the model's own table and columns
    return JoinedReader(sql, (label,))


def own_labels_on_item(membership: Membership, item: Item) -> list[Label]:
    """The member's own labels on ``item``: the rows :func:`labels_on_item` reads while
    others' work is closed to them, in one statement built once per process (every labeling
    page and every label-and-next answer reads them)."""
    rows = _own_labels_reader().all([item.pk, LabelSource.HUMAN, membership.user_id])
    return [label for (label,) in rows]


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


def item_states_shown(campaign: Campaign, role: int) -> bool:
    """Whether the member sees every item's state. In a blind campaign, a member below
    adjudicator sees the state only of items they have submitted themselves: "disputed" on an
    item still to label would tell them how others voted."""
    return not campaign.blind or role >= Role.ADJUDICATOR


# --- Discussion threads (issue 11) ------------------------------------------------------------


@dataclass
class ThreadRef:
    """One (item, clause) thread as a member reaches it: the item (with its campaign), the
    clause (in the campaign's scope) and the member's assignment on the item, if any."""

    item: Item
    clause: Clause
    assignment: Assignment | None


def thread_to_read(
    membership: Membership, *, campaign_id: int, item_id: int, clause_key: str
) -> ThreadRef:
    """The thread on (item, clause) if the member may read it: what the thread page, its API and
    every thread write call first. 404 for an item outside the workspace or campaign, or a
    clause outside the campaign's scope; 403 below the ``threads.comment`` right, or while
    blind labeling keeps others' work closed to the member on that item
    (:func:`others_labels_open`): the thread shows others' verdicts, so a reviewer reads it
    only after submitting their own."""
    item = item_in_workspace(membership.workspace, item_id, campaign_id=campaign_id)
    clause = (
        Clause.objects.filter(
            key=clause_key,
            pk__in=CampaignClause.objects.filter(campaign=item.campaign_id).values("clause_id"),
        )
        .only("pk", "key", "title", "body", "position", "version_id")
        .first()
    )
    if clause is None:
        raise Http404("No such clause in this campaign")
    permissions.require(membership, "threads.comment")
    assignment = own_assignment(item, membership)
    if not others_labels_open(membership, item.campaign, assignment):
        raise PermissionDenied(
            "This campaign is blind: submit your own labels on this item to see the others' "
            "labels and the discussion."
        )
    return ThreadRef(item=item, clause=clause, assignment=assignment)


def thread_open_to(user_membership: Membership, item: Item) -> bool:
    """Whether the thread on ``item`` is open to another member (someone a comment mentions):
    the same rule as :func:`thread_to_read`, for a member who is not the one asking."""
    if not permissions.can(user_membership, "threads.comment"):
        return False
    return others_labels_open(user_membership, item.campaign, own_assignment(item, user_membership))


def decision_in_workspace(workspace_id: int, decision_id: int) -> GoldDecision:
    """The workspace's gold decision with this id, or 404 (another workspace's is not there)."""
    decision = (
        GoldDecision.objects.filter(workspace_id=workspace_id, pk=decision_id)
        .select_related("campaign", "clause", "spec_version__spec", "transcript")
        .first()
    )
    if decision is None:
        raise Http404("No such gold decision")
    return decision


def gold_export_of_member(membership: Membership, export_id: int) -> GoldExport:
    """The export if it belongs to the member's workspace, else 404; 403 without the right."""
    export = (
        GoldExport.objects.select_related("created_by")
        .filter(workspace=membership.workspace, pk=export_id)
        .first()
    )
    if export is None:
        raise Http404("No such export")
    permissions.require(membership, "gold.export")
    export.workspace = membership.workspace
    return export
