"""HTML views of the labeling page: show an item, submit it, skip it.

Access: ``workspace_member`` resolves the workspace and the role (404 for non-members, 403 for a
role too low), then ``reviews.access`` the item and the member's assignment on it (404 outside
the workspace or campaign, 403 without an assignment; adjudicators may open any item read-only).
Labels are saved by the page's script through the API's one label contract
(``reviews.api.labels.ItemLabelsView``), the same endpoint and service every client uses.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from clausebook.access import workspace_member
from clausebook.models import Role
from reviews import access, presenters
from reviews.forms import SkipForm
from reviews.selectors import labels as label_selectors
from reviews.services import campaigns as campaign_services
from reviews.services.labels.submit import assignment_submit
from reviews.views.campaigns import _claim_redirect


@workspace_member(Role.REVIEWER)
@require_safe
def label_item(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item, assignment = access.item_to_read(request.membership, item_id, campaign_id=campaign_id)
    page = label_selectors.labeling_page(
        item=item, assignment=assignment, membership=request.membership
    )
    context = presenters.labeling_context(page, request.workspace.slug)
    return render(request, "reviews/labeling/item.html", context)


@workspace_member(Role.REVIEWER)
@require_POST
def submit(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item, assignment = access.item_to_label(request.membership, item_id, campaign_id=campaign_id)
    try:
        assignment_submit(assignment=assignment, reviewer=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reviews:label-item", request.workspace.slug, campaign_id, item.pk)
    messages.success(request, "Submitted. Here is the next item.")
    return _claim_redirect(request, item.campaign)


@workspace_member(Role.REVIEWER)
@require_POST
def skip(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item, assignment = access.item_to_label(request.membership, item_id, campaign_id=campaign_id)
    form = SkipForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Say why you skip this item.")
        campaign_services.assignment_skip(
            assignment=assignment, reviewer=request.user, reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reviews:label-item", request.workspace.slug, campaign_id, item.pk)
    messages.info(request, "Skipped; someone else will take it.")
    return _claim_redirect(request, item.campaign)
