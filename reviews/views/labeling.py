"""HTML views of the labeling page: show an item, autosave labels, submit, skip.

Access: every view resolves the workspace with ``workspace_member`` (404 for non-members, 403
for a role too low) and every object through a selector built from that workspace. The labeling
page and its endpoints additionally require the signed-in user's own assignment on the item,
except that adjudicators and above may open any item read-only.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from clausebook.access import workspace_member
from clausebook.models import Role
from reviews import presenters
from reviews.forms import SkipForm
from reviews.models import Assignment, Campaign, Item
from reviews.selectors import campaigns as selectors
from reviews.selectors import labels as label_selectors
from reviews.services import campaigns as services
from reviews.services.labels import (
    LabelConflict,
    LabelInput,
    assignment_submit,
    label_save,
    label_state,
)
from reviews.views.campaigns import _claim_redirect


@workspace_member(Role.VIEWER)
def _resolve_item(
    request: HttpRequest, campaign_id: int, item_id: int, *, with_messages: bool = False
) -> tuple[Campaign, Item]:
    campaign = selectors.get_campaign(request.workspace, campaign_id)
    campaign.workspace = request.workspace  # spare the services a query for audit events
    item = selectors.get_item(campaign, item_id, with_messages=with_messages)
    item.campaign = campaign
    return campaign, item


@workspace_member(Role.REVIEWER)
def label_item(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    campaign, item = _resolve_item(request, campaign_id, item_id, with_messages=True)
    page = label_selectors.labeling_page(campaign, item, request.user, request.membership)
    if page.assignment is None and request.membership.role < Role.ADJUDICATOR:
        raise PermissionDenied("This item is not assigned to you.")
    context = presenters.labeling_context(page, request.workspace.slug)
    return render(request, "reviews/labeling/item.html", context)


@workspace_member(Role.REVIEWER)
@require_POST
def label_save_view(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    """Autosave one label (JSON in, JSON out): 200 with the label, 400, 403, or 409 + current."""
    campaign, item = _resolve_item(request, campaign_id, item_id)
    assignment = _own_assignment(request, item)
    try:
        body = json.loads(request.body or b"{}")
        data = LabelInput(
            clause_id=int(body["clause"]),
            verdict=str(body.get("verdict") or ""),
            severity=str(body.get("severity") or ""),
            rationale=str(body.get("rationale") or ""),
            spans=body.get("spans") or [],
        )
        revision = int(body["revision"]) if body.get("revision") else None
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"detail": "Send JSON with clause, verdict, revision…"}, status=400)
    try:
        label = label_save(
            assignment=assignment, reviewer=request.user, data=data, revision=revision
        )
    except LabelConflict as conflict:
        return JsonResponse(
            {"detail": str(conflict), "current": label_state(conflict.current)}, status=409
        )
    except ValidationError as error:
        return JsonResponse({"detail": " ".join(error.messages)}, status=400)
    return JsonResponse({"label": label_state(label)})


def _own_assignment(request: HttpRequest, item: Item) -> Assignment:
    assignment = Assignment.objects.filter(item=item, reviewer=request.user).first()
    if assignment is None:
        raise PermissionDenied("This item is not assigned to you.")
    assignment.item = item  # already loaded with its transcript and campaign
    return assignment


@workspace_member(Role.REVIEWER)
@require_POST
def submit(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    campaign, item = _resolve_item(request, campaign_id, item_id)
    assignment = _own_assignment(request, item)
    try:
        assignment_submit(assignment=assignment, reviewer=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reviews:label-item", request.workspace.slug, campaign.pk, item.pk)
    messages.success(request, "Submitted. Here is the next item.")
    return _claim_redirect(request, campaign)


@workspace_member(Role.REVIEWER)
@require_POST
def skip(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    campaign, item = _resolve_item(request, campaign_id, item_id)
    assignment = _own_assignment(request, item)
    form = SkipForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Say why you skip this item.")
        services.assignment_skip(
            assignment=assignment, reviewer=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reviews:label-item", request.workspace.slug, campaign.pk, item.pk)
    messages.info(request, "Skipped; someone else will take it.")
    return _claim_redirect(request, campaign)
