"""HTML views for campaigns and the reviewer's queue.

Access: every view resolves the workspace with ``workspace_member`` (404 for non-members, 403
for a role too low) and every object through a selector built from that workspace. The labeling
page and its endpoints additionally require the signed-in user's own assignment on the item,
except that adjudicators and above may open any item read-only.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clausebook.access import workspace_member
from clausebook.models import Role
from reviews.forms import CampaignForm
from reviews.models import Campaign
from reviews.selectors import campaigns as selectors
from reviews.services import campaigns as services


@workspace_member(Role.VIEWER)
@workspace_member(Role.VIEWER)
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaign_list(request.workspace)
    return render(request, "reviews/campaigns/list.html", {"campaigns": campaigns})


@workspace_member(Role.ADJUDICATOR)
@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, workspace=request.workspace)
    if request.htmx and "preview" in request.GET:
        form = CampaignForm(request.GET, workspace=request.workspace)
        form.is_valid()
        return render(request, "reviews/campaigns/create.html#preview", {"form": form})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(
                workspace=request.workspace,
                actor=request.user,
                **{k: data[k] for k in _CREATE_FIELDS},
                reviewers=list(data["reviewers"]),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, f"Campaign “{campaign.title}” opened.")
            return redirect("reviews:campaign-detail", request.workspace.slug, campaign.pk)
    return render(request, "reviews/campaigns/create.html", {"form": form})


_CREATE_FIELDS = (
    "title",
    "spec_version",
    "clauses",
    "transcript_ids",
    "reviewers_per_item",
    "blind",
    "instructions",
    "verdict_scale",
    "severity_scale",
    "scope_description",
)


def _add_errors(form: CampaignForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error)


@workspace_member(Role.VIEWER)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.get_campaign(request.workspace, campaign_id)
    progress = selectors.campaign_progress(campaign)
    return render(request, "reviews/campaigns/detail.html", {"p": progress, "campaign": campaign})


@workspace_member(Role.REVIEWER)
def queue(request: HttpRequest) -> HttpResponse:
    context = selectors.reviewer_queue(request.workspace, request.user)
    return render(request, "reviews/campaigns/queue.html", context)


@workspace_member(Role.REVIEWER)
@require_POST
def claim_next(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.get_campaign(request.workspace, campaign_id)
    try:
        assignment = services.item_claim_next(campaign=campaign, reviewer=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reviews:queue", request.workspace.slug)
    if assignment is None:
        messages.success(request, f"Nothing left for you in “{campaign.title}”. Thank you!")
        return redirect("reviews:queue", request.workspace.slug)
    return redirect("reviews:label-item", request.workspace.slug, campaign.pk, assignment.item_id)


def _claim_redirect(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    assignment = services.item_claim_next(campaign=campaign, reviewer=request.user)
    if assignment is None:
        messages.success(request, f"You are done with “{campaign.title}”.")
        return redirect("reviews:queue", request.workspace.slug)
    return redirect("reviews:label-item", request.workspace.slug, campaign.pk, assignment.item_id)
