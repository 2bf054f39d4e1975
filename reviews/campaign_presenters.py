"""Presentation of campaigns for the pages and the API: lifecycle buttons, warnings, the item
list's rows, and the workspace dashboard's activity sentences.

No queries and no access checks here: the views resolve the campaign (with its seated-reviewer
count, see ``CampaignQuerySet.with_seat_count``) and the role first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from clausebook.models import AuditEvent, Role
from reviews import access
from reviews.models import Assignment, Campaign, OutcomeState
from reviews.selectors.campaigns import ItemPage

_BUTTONS = {
    "open": ("Open for labeling", ""),
    "pause": ("Pause", "secondary"),
    "resume": ("Resume", ""),
    "close": ("Close for good", "danger"),
}


@dataclass(frozen=True)
class LifecycleButton:
    action: str
    label: str
    url_name: str
    style: str
    disabled_reason: str = ""


def lifecycle_buttons(campaign: Campaign) -> list[LifecycleButton]:
    """The lifecycle actions the campaign's status allows, in a fixed order. Opening and resuming
    are shown but disabled, with the reason, while fewer than k reviewers are seated."""
    buttons = []
    for action, (label, style) in _BUTTONS.items():
        if not campaign.allows(action):
            continue
        reason = ""
        if action in Campaign.NEEDS_K_SEATED and campaign.short_of_reviewers:
            reason = f"Seat at least {campaign.reviewers_per_item} reviewers first."
        buttons.append(
            LifecycleButton(
                action=action,
                label=label,
                url_name=f"reviews:campaign-{action}",
                style=style,
                disabled_reason=reason,
            )
        )
    return buttons


def campaign_warnings(campaign: Campaign) -> list[str]:
    """What the campaign page and the API say about a campaign that cannot finish as it is."""
    warnings = []
    if campaign.short_of_reviewers and campaign.status != Campaign.Status.CLOSED:
        seated, k = campaign.seated_count, campaign.reviewers_per_item
        warnings.append(
            f"Short of reviewers: {seated} seated, and each item needs {k}. Items still waiting "
            f"for a reviewer cannot complete until at least {k} are seated."
        )
    return warnings


# --------------------------------------------------------------------------------------------------
# The new-campaign form and the campaign page's item list
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemPreview:
    """The form's live count: how many transcripts match and how many items that makes."""

    matching: int
    items: int

    @property
    def capped(self) -> bool:
        return self.items < self.matching


def item_preview(*, matching: int, limit: int | None) -> ItemPreview:
    """The limit caps the items, never the matches: "40 match; the first 25 become items"."""
    return ItemPreview(matching=matching, items=min(matching, limit) if limit else matching)


#: The badge style of each item state (classes of the site's stylesheet).
STATE_BADGES = {
    OutcomeState.OPEN: "badge-neutral",
    OutcomeState.AGREED: "badge-good",
    OutcomeState.DISPUTED: "badge-bad",
    OutcomeState.ADJUDICATED: "badge-published",
}


@dataclass(frozen=True)
class ItemRow:
    item_id: int
    number: int
    transcript: str
    #: The item's state, or "" when it is not shown to this member (blind labeling).
    state: str
    state_label: str
    state_badge: str
    submitted: int
    #: This member's assignment status on the item ("" for none) and its label.
    mine: str
    mine_label: str
    #: What the row links to: "view" (read the item), "continue" (your item in progress), "".
    link: str


@dataclass(frozen=True)
class ItemList:
    rows: list[ItemRow]
    page: Any
    state: str
    #: The state filters offered as (value, label, item count); none when the member may not
    #: see states.
    filters: list[tuple[str, str, int]]
    k: int
    #: The member holds a seat on the open campaign: the list offers "claim the next item".
    can_claim: bool


def item_list(
    items: ItemPage, campaign: Campaign, role: int, states: dict[str, int], *, seated: bool
) -> ItemList:
    """Rows for the campaign page's item list: position, state, submissions, and a link to the
    item for adjudicators (who may open any item) or to the reviewer's own item."""
    all_states = access.item_states_shown(campaign, role)
    rows = []
    for item in items.page:
        mine = items.mine.get(item.pk)
        submitted_by_me = mine is not None and mine.status == Assignment.Status.SUBMITTED
        shown = all_states or submitted_by_me
        if role >= Role.ADJUDICATOR:
            link = "continue" if mine and mine.status == Assignment.Status.ACTIVE else "view"
        elif mine is not None and mine.status in (
            Assignment.Status.ACTIVE,
            Assignment.Status.SUBMITTED,
        ):
            link = "continue" if mine.status == Assignment.Status.ACTIVE else "view"
        else:
            link = ""
        rows.append(
            ItemRow(
                item_id=item.pk,
                number=item.position + 1,
                transcript=item.transcript.external_id or f"#{item.transcript_id}",
                state=item.state if shown else "",
                state_label=OutcomeState(item.state).label if shown else "",
                state_badge=STATE_BADGES.get(item.state, "badge-neutral"),
                submitted=item.submitted_count,
                mine=mine.status if mine else "",
                mine_label=mine.get_status_display() if mine else "",
                link=link,
            )
        )
    filters = (
        [("", "All", campaign.item_count)]
        + [(value, label, states.get(value, 0)) for value, label in OutcomeState.choices]
        if all_states
        else []
    )
    return ItemList(
        rows=rows,
        page=items.page,
        state=items.state,
        filters=filters,
        k=campaign.reviewers_per_item,
        can_claim=seated and campaign.status == Campaign.Status.OPEN,
    )


# --------------------------------------------------------------------------------------------------
# The workspace dashboard's activity
# --------------------------------------------------------------------------------------------------

#: What each audit verb means, as the dashboard's activity says it. Every verb the code records
#: is here (a test reads the code's ``audit.record`` calls); verbs built at run time are listed
#: by each value they take.
ACTIVITY_SENTENCES: dict[str, str] = {
    # platform
    "workspace.create": "Created the workspace",
    "membership.create": "Added a member",
    "membership.role": "Changed a member's role",
    "membership.remove": "Removed a member",
    "invitation.create": "Invited someone to join",
    "invitation.accept": "Accepted an invitation",
    "api_token.create": "Created an API token",
    "api_token.revoke": "Revoked an API token",
    "user.create": "Created an account",
    "user.deactivate": "Deactivated an account",
    "user.delete": "Deleted an account",
    "workspace.settings": "Changed the workspace's settings",
    # specs
    "spec.create": "Created a spec",
    "spec_version.import": "Imported a spec version",
    "spec_version.publish": "Published a spec version",
    "spec_version.discard": "Discarded a draft version",
    "spec_version.draft_start": "Started a draft from a published version",
    "amendment.propose": "Proposed an amendment",
    "amendment.edit": "Edited an amendment",
    "amendment.change_add": "Added a change to an amendment",
    "amendment.change_edit": "Edited a change of an amendment",
    "amendment.change_remove": "Removed a change from an amendment",
    "amendment.approve": "Approved an amendment",
    "amendment.merge": "Merged an amendment into the draft",
    "amendment.rebase": "Rebased an amendment on the draft",
    "amendment.unmerge": "Returned an amendment from a discarded draft",
    "amendment.case_link": "Linked a motivating case to an amendment",
    "amendment.case_unlink": "Unlinked a case from an amendment",
    "clause_alias.confirm": "Confirmed a clause rename",
    "clause_alias.reject": "Rejected a clause rename",
    # transcripts
    "transcript_import.create": "Started a transcript import",
    "transcript_import.succeed": "Finished a transcript import",
    "transcript_import.fail": "A transcript import failed",
    "transcript_import.retry": "Retried a transcript import",
    "transcript_import.requeue": "Queued a stalled transcript import again",
    "transcript_import.upload_remove": "Removed a failed import's upload",
    # campaigns and labeling
    "campaign.create": "Created a campaign",
    "campaign.open": "Opened a campaign for labeling",
    "campaign.pause": "Paused a campaign",
    "campaign.resume": "Resumed a campaign",
    "campaign.close": "Closed a campaign",
    "campaign.reviewers_add": "Seated reviewers on a campaign",
    "campaign.reviewer_remove": "Removed a reviewer from a campaign",
    "campaign.items_add": "Added transcripts to a campaign",
    "assignment.claim": "Claimed an item",
    "assignment.submit": "Submitted an item",
    "assignment.skip": "Skipped an item",
    "label.save": "Saved a label",
    "label.conflict": "Met an edit conflict on a label",
    "label.judge": "A model judge labeled a clause",
    "label.import": "Imported a label",
    "labels.import": "Imported labels",
    "gold.adjudicated": "Adjudicated a clause",
    "gold.agreed": "Reviewers agreed on a clause",
    "gold.reopened": "Reopened a decision",
    "gold.withdrawn": "Withdrew a gold decision",
    "gold.export": "Exported gold",
    "gold.promote": "Promoted a gold case to a clause example",
    # models
    "endpoint.create": "Added a model endpoint",
    "endpoint.update": "Changed a model endpoint",
    "endpoint.delete": "Removed a model endpoint",
    "scenario.flag": "Flagged a scenario for a re-run",
    "scenario.from_spec": "Made scenarios from a spec's examples",
    "rerun.create": "Started a re-run job",
    "rerun.cancel": "Cancelled a re-run job",
    "judge_run.create": "Started a model judge run",
    "judge_run.cancel": "Cancelled a model judge run",
    # discussion
    "comment.post": "Commented on a disagreement",
    "comment.edit": "Edited a comment",
}


def activity_sentence(verb: str) -> str:
    """The verb as a short sentence. A verb missing from the table still reads as words
    ("Campaign: archive"), never as a code."""
    known = ACTIVITY_SENTENCES.get(verb)
    if known is not None:
        return known
    noun, _, action = verb.partition(".")
    words = noun.replace("_", " ").capitalize()
    return f"{words}: {action.replace('_', ' ')}" if action else words


@dataclass(frozen=True)
class ActivityRow:
    event: AuditEvent
    sentence: str


def activity_rows(events: Iterable[AuditEvent]) -> list[ActivityRow]:
    """The dashboard's activity: each event with its sentence."""
    return [ActivityRow(event=event, sentence=activity_sentence(event.verb)) for event in events]
