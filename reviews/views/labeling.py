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
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from clausebook.access import workspace_member
from clausebook.models import Role
from reviews import access, presenters
from reviews.forms import SkipForm
from reviews.models import Assignment
from reviews.selectors import labels as label_selectors
from reviews.services import campaigns as campaign_services
from reviews.services.labels.next import LabelsSubmittedNext
from reviews.services.labels.submit import MISSING, assignment_submit
from reviews.views.campaigns import claim_redirect


@workspace_member(Role.REVIEWER)
@require_safe
def label_item(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item, assignment = access.item_to_read(request.membership, item_id, campaign_id=campaign_id)
    page = label_selectors.labeling_page(
        item=item, assignment=assignment, membership=request.membership
    )
    context = presenters.labeling_context(
        page, request.workspace.slug, confirm_partial=request.GET.get("confirm") == "partial"
    )
    return render(request, "reviews/labeling/item.html", context)


@workspace_member(Role.REVIEWER)
@require_POST
def submit(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item, assignment = access.item_to_label(request.membership, item_id, campaign_id=campaign_id)
    page_url = reverse("reviews:label-item", args=(request.workspace.slug, campaign_id, item.pk))
    if not item.campaign.require_every_clause and request.POST.get("confirm_partial") != "1":
        # The campaign accepts partial submissions, but never silently: the reviewer confirms
        # first. (The page's script asks in a dialog; this is the page without script.)
        blank = label_selectors.blank_clause_keys(assignment)
        if blank and assignment.status == Assignment.Status.ACTIVE:
            messages.warning(
                request,
                f"{len(blank)} clause{pluralize(len(blank))} {pluralize(len(blank), 'has,have')} "
                f"no verdict: {_listed(blank)}. Submit again to confirm, or label them first.",
            )
            return redirect(f"{page_url}?confirm=partial")
    try:
        assignment_submit(assignment=assignment, reviewer=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(_submit_messages(error)))
        return redirect(page_url)
    messages.success(request, "Submitted. Here is the next item.")
    return claim_redirect(request, item.campaign)


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
    return claim_redirect(request, item.campaign)


#: Where the page goes after a Submit-and-next: the next item's page (its part is the body, to
#: swap in and push onto the history), or the queue when nothing is left (an empty body).
NEXT_LOCATION = "X-Next-Location"


def next_item_page(request: HttpRequest, step: LabelsSubmittedNext) -> HttpResponse:
    """The answer to the labeling page's Submit-and-next (one request, see
    ``reviews.api.labels.ItemLabelsView``): the next item's page part, rendered from the same
    template part the labeling page renders, or, when nothing is handed out, a pointer to the
    queue with the reason as a message there. ``request`` carries the workspace and membership
    the API view resolved."""
    workspace = request.workspace
    campaign = step.saved.assignment.item.campaign
    if step.next is None:
        if step.next_refused:
            messages.error(request, f"Submitted. {step.next_refused}")
        else:
            messages.success(request, f"You are done with “{campaign.title}”. Thank you!")
        response = HttpResponse(b"", content_type="text/html; charset=utf-8")
        response[NEXT_LOCATION] = reverse("reviews:queue", args=(workspace.slug,))
        return response
    page = label_selectors.labeling_page_of(
        request.membership, item_id=step.next.item_id, campaign_id=campaign.pk
    )
    context = presenters.labeling_context(page, workspace.slug)
    response = render(request, "reviews/labeling/item.html#labeling", context)
    response[NEXT_LOCATION] = context["page_url"]
    return response


def _listed(keys: list[str], shown: int = 10) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def _submit_messages(error: ValidationError) -> list[str]:
    # A refused submit names the missing clauses twice: in words, and as a list for scripts.
    if hasattr(error, "error_dict"):
        return [m for field, ms in error.message_dict.items() if field != MISSING for m in ms]
    return error.messages
