"""Linking the cases that motivated an amendment to it, without promoting them.

Contract
--------
* A case is a gold decision (``decision_id``: any current gold of the workspace) or an
  (item, clause) pair of a campaign of the same workspace (``item_id`` + ``clause_key``, the
  clause one of the campaign's). A pair linked while it has gold is linked with that decision.
  A case of another workspace, or none, is a ValidationError naming the field (400) and saying
  it is not in this workspace, without telling whether it exists elsewhere.
* Whoever may edit amendments (``amendments.propose``: adjudicators, editors, admins) links and
  unlinks, while the amendment is open or approved; a merged or closed amendment's cases stay as
  they are (the published changelog lists them). Cases are motivation, not content: linking
  does not raise the amendment's revision, so approvals keep counting.
* Linking the same case twice keeps one link (the ``amendment_case_once`` constraint) and writes
  one audit event (``amendment.case_link``); unlinking writes ``amendment.case_unlink``.
* Links survive the amendment's merge and the draft's publishing (they point at the amendment).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from clausebook import audit
from clausebook.models import User, Workspace
from reviews.models import AmendmentCase, CampaignClause, GoldDecision, Item
from reviews.models.gold import GOLD_KINDS
from specs.amendments.rights import require
from specs.amendments.services import OPEN_STATES
from specs.models import Amendment, Clause

#: Who may link and unlink cases: whoever may edit an amendment.
CASE_PERMISSION = "amendments.propose"


def amendment_cases_of(amendment: Amendment) -> QuerySet[AmendmentCase]:
    """The amendment's linked cases in the order they were linked, with what a line shows
    (campaign, item, clause, decision, who linked it)."""
    return (
        AmendmentCase.objects.filter(amendment=amendment)
        .select_related("item__campaign", "clause", "decision__campaign", "linked_by")
        .order_by("linked_at", "pk")
    )


def item_by_number(*, workspace: Workspace, campaign_id: int, number: int) -> int:
    """The id of item ``number`` (numbered from 1, as the pages show it) of a campaign of the
    workspace; ValidationError ``{"item": …}`` if there is none."""
    found = (
        Item.objects.filter(
            campaign_id=campaign_id, campaign__workspace=workspace, position=number - 1
        )
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise ValidationError({"item": [f"That campaign has no item {number} in this workspace."]})
    return found


def _case(
    *,
    workspace: Workspace,
    decision_id: int | None,
    item_id: int | None,
    clause_key: str | None,
) -> tuple[Item, Clause, GoldDecision | None]:
    """The case the arguments name, inside ``workspace`` (see the module contract)."""
    if decision_id is not None and (item_id is not None or clause_key):
        raise ValidationError(
            "Name a case one way: a gold decision, or an item and a clause key, not both."
        )
    if decision_id is not None:
        decision = (
            GoldDecision.objects.filter(pk=decision_id, workspace=workspace)
            .select_related("item__campaign", "clause")
            .first()
        )
        if decision is None:
            raise ValidationError(
                {"decision": [f"No gold decision #{decision_id} in this workspace."]}
            )
        if not decision.is_current or decision.kind not in GOLD_KINDS:
            raise ValidationError(
                {
                    "decision": [
                        f"Decision #{decision_id} is not current gold (it was superseded, "
                        "reopened or withdrawn): link the pair's current decision, or the "
                        "item and clause."
                    ]
                }
            )
        return decision.item, decision.clause, decision
    if item_id is None or not clause_key:
        raise ValidationError(
            "Name a case: a gold decision (decision), or an item and a clause key "
            "(item, clause_key)."
        )
    item = (
        Item.objects.filter(pk=item_id, campaign__workspace=workspace)
        .select_related("campaign")
        .first()
    )
    if item is None:
        raise ValidationError({"item": [f"No item {item_id} in this workspace."]})
    clause = (
        CampaignClause.objects.filter(campaign=item.campaign, clause__key=clause_key)
        .select_related("clause")
        .first()
    )
    if clause is None:
        raise ValidationError(
            {
                "clause_key": [
                    f"Campaign “{item.campaign.title}” does not review clause “{clause_key}”."
                ]
            }
        )
    decision = GoldDecision.objects.gold().filter(item=item, clause=clause.clause).first()
    return item, clause.clause, decision


def _editable(amendment: Amendment, actor: User) -> Amendment:
    require(actor, amendment.spec, CASE_PERMISSION)
    locked = (
        Amendment.objects.select_for_update().select_related("spec__workspace").get(pk=amendment.pk)
    )
    if locked.state not in OPEN_STATES:
        raise ValidationError(
            f"Amendment #{locked.pk} is {locked.state}: the cases linked to it can no longer "
            "change."
        )
    return locked


def _describe(case: AmendmentCase) -> str:
    return (
        f"campaign {case.item.campaign_id} item {case.item.position + 1} clause {case.clause.key}"
    )


@transaction.atomic
def amendment_case_link(
    *,
    amendment: Amendment,
    actor: User,
    decision_id: int | None = None,
    item_id: int | None = None,
    clause_key: str | None = None,
) -> tuple[AmendmentCase, bool]:
    """Link a case to ``amendment`` (see the module contract); returns the link and whether it
    is new. PermissionDenied without the right, ValidationError for a bad case or a closed
    amendment."""
    locked = _editable(amendment, actor)
    workspace = locked.spec.workspace
    item, clause, decision = _case(
        workspace=workspace, decision_id=decision_id, item_id=item_id, clause_key=clause_key
    )
    case, created = AmendmentCase.objects.get_or_create(
        amendment=locked,
        item=item,
        clause=clause,
        defaults={"workspace": workspace, "decision": decision, "linked_by": actor},
    )
    if created:
        audit.record(
            verb="amendment.case_link",
            actor=actor,
            workspace=workspace,
            target=locked,
            summary=f"{locked.title}: {_describe(case)}",
            data={
                "case": case.pk,
                "item": item.pk,
                "clause": clause.pk,
                "decision": decision.pk if decision is not None else None,
            },
        )
    return case, created


@transaction.atomic
def amendment_case_unlink(*, amendment: Amendment, case: AmendmentCase, actor: User) -> None:
    """Remove one linked case of ``amendment`` (the caller found it among its cases)."""
    locked = _editable(amendment, actor)
    if case.amendment_id != locked.pk:
        raise ValidationError({"case": ["This case is not linked to this amendment."]})
    audit.record(
        verb="amendment.case_unlink",
        actor=actor,
        workspace=locked.spec.workspace,
        target=locked,
        summary=f"{locked.title}: {_describe(case)}",
        data={"case": case.pk, "item": case.item_id, "clause": case.clause_id},
    )
    AmendmentCase.objects.filter(pk=case.pk).delete()
