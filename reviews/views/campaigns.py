"""HTML views for campaigns (list, create, detail, lifecycle, seats) and the reviewer's queue.

Access: every view resolves the workspace with ``workspace_member`` (404 for non-members, 403
for a role too low) and every object through a selector built from that workspace. Creating a
campaign, changing its lifecycle or seats and adding transcripts to it need ``campaigns.create``
(the adjudicator role).
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods, require_POST

from clausebook import permissions
from clausebook.access import workspace_member
from reviews import access, campaign_presenters
from reviews.forms import (
    CampaignForm,
    CampaignItemsAddForm,
    CampaignLifecycleForm,
    ReviewerAddForm,
    ReviewerRemoveForm,
)
from reviews.models import Campaign
from reviews.selectors import campaigns as selectors
from reviews.services import campaign_lifecycle as lifecycle
from reviews.services import campaigns as services


@workspace_member(permission="campaigns.read")
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = selectors.campaign_list(request.workspace)
    return render(request, "reviews/campaigns/list.html", {"campaigns": campaigns})


@workspace_member(permission="campaigns.create")
@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    if request.htmx and request.GET.get("partial") in _CREATE_PARTIALS:
        # The form as typed so far (never saved): the live transcript count, or the clause
        # pickers of a newly chosen spec version.
        form = CampaignForm(request.GET, workspace=request.workspace)
        form.is_valid()
        partial = _CREATE_PARTIALS[request.GET["partial"]]
        return render(request, f"reviews/campaigns/create.html#{partial}", _form_context(form))
    form = CampaignForm(request.POST or None, workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(
                workspace=request.workspace,
                actor=request.user,
                title=data["title"],
                spec_version=data["spec_version"],
                scope=form.scope_choice(),
                transcripts=form.transcript_choice(),
                reviewers=data["reviewers"],
                reviewers_per_item=data["reviewers_per_item"],
                blind=data["blind"],
                gold_from_agreement=data["gold_from_agreement"],
                adjudicator_may_have_labeled=data["adjudicator_may_have_labeled"],
                instructions=data["instructions"],
                verdict_scale=form.verdict_scale(),
                severity_scale=form.severity_scale(),
                open_now=data["open_now"],
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            done = "opened" if campaign.status == Campaign.Status.OPEN else "saved as a draft"
            messages.success(request, f"Campaign “{campaign.title}” {done}.")
            return redirect("reviews:campaign-detail", request.workspace.slug, campaign.pk)
    return render(request, "reviews/campaigns/create.html", _form_context(form))


_CREATE_PARTIALS = {"preview": "preview", "clauses": "clause-picker"}


def _form_context(form: CampaignForm) -> dict[str, object]:
    """The form, with how many items its transcript choice makes (the limit applied)."""
    matching = selectors.transcripts_matching(form.workspace, form.transcript_choice()).count()
    limit = form.cleaned_data.get("limit") if hasattr(form, "cleaned_data") else None
    return {
        "form": form,
        "preview": campaign_presenters.item_preview(matching=matching, limit=limit),
    }


# Service errors that name no form field still belong next to the input that caused them.
_FIELD_FOR = {"transcripts": "source", "clauses": "scope", "verdict_scale": "verdict_custom"}


def _add_errors(form: Form, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, errors in error.message_dict.items():
        name = _FIELD_FOR.get(name, name)
        form.add_error(name if name in form.fields else None, errors)


@workspace_member(permission="campaigns.read")
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.get_campaign(request.workspace, campaign_id)
    return _detail(request, campaign)


def _detail(
    request: HttpRequest,
    campaign: Campaign,
    *,
    status: int = 200,
    error: str = "",
) -> HttpResponse:
    """The campaign page; lifecycle views render it too, with the error and a 400 or 409."""
    campaign.workspace = request.workspace
    role = request.membership.role
    manage = permissions.can(request.membership, "campaigns.create")
    progress = selectors.campaign_progress(campaign)
    states_shown = access.item_states_shown(campaign, role)
    items = selectors.campaign_item_page(
        campaign,
        request.user,
        states=progress.states,
        page=request.GET.get("page"),
        # A state filter would tell a blind reviewer which items are disputed.
        state=request.GET.get("state", "") if states_shown else "",
    )
    context = {
        "campaign": campaign,
        "p": progress,
        "items": campaign_presenters.item_list(
            items, campaign, role, progress.states, seated=progress.has_seated(request.user)
        ),
        "warnings": campaign_presenters.campaign_warnings(campaign),
        "error": error,
        "manage": manage,
        "buttons": campaign_presenters.lifecycle_buttons(campaign) if manage else [],
        "add_form": (
            ReviewerAddForm(campaign=campaign, initial={"revision": campaign.revision})
            if manage and campaign.status in Campaign.SEATS_CHANGE_IN
            else None
        ),
    }
    return render(request, "reviews/campaigns/detail.html", context, status=status)


def _lifecycle_write(
    request: HttpRequest,
    campaign_id: int,
    form_class: Callable[..., Form],
    write: Callable[[Campaign, dict], Campaign],
    done: str,
) -> HttpResponse:
    """Validate the posted form, call the lifecycle service, and answer like the API: a redirect
    on success, the page as it is now with 409 when the revision was stale, 400 when refused."""
    campaign = selectors.get_campaign(request.workspace, campaign_id)
    campaign.workspace = request.workspace
    form = form_class(request.POST, campaign=campaign)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(e)}" for name, e in form.errors.items())
        return _detail(request, campaign, status=400, error=f"Nothing changed ({errors}).")
    try:
        write(campaign, form.cleaned_data)
    except lifecycle.CampaignConflict as conflict:
        current = selectors.get_campaign(request.workspace, campaign_id)
        return _detail(request, current, status=409, error=str(conflict))
    except ValidationError as refused:
        return _detail(request, campaign, status=400, error=" ".join(refused.messages))
    messages.success(request, done)
    return redirect("reviews:campaign-detail", request.workspace.slug, campaign.pk)


def _transition(
    request: HttpRequest, campaign_id: int, service: Callable[..., Campaign], done: str
) -> HttpResponse:
    return _lifecycle_write(
        request,
        campaign_id,
        CampaignLifecycleForm,
        lambda campaign, data: service(
            campaign=campaign, actor=request.user, revision=data["revision"]
        ),
        done,
    )


@workspace_member(permission="campaigns.create")
@require_POST
def campaign_open(request: HttpRequest, campaign_id: int) -> HttpResponse:
    done = "Campaign opened: reviewers can claim items."
    return _transition(request, campaign_id, lifecycle.campaign_open, done)


@workspace_member(permission="campaigns.create")
@require_POST
def campaign_pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    done = "Campaign paused: no new items are handed out."
    return _transition(request, campaign_id, lifecycle.campaign_pause, done)


@workspace_member(permission="campaigns.create")
@require_POST
def campaign_resume(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _transition(request, campaign_id, lifecycle.campaign_resume, "Campaign resumed.")


@workspace_member(permission="campaigns.create")
@require_POST
def campaign_close(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _transition(request, campaign_id, lifecycle.campaign_close, "Campaign closed.")


@workspace_member(permission="campaigns.create")
@require_POST
def campaign_reviewers_add(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _lifecycle_write(
        request,
        campaign_id,
        ReviewerAddForm,
        lambda campaign, data: lifecycle.campaign_reviewers_add(
            campaign=campaign,
            actor=request.user,
            reviewers=list(data["reviewers"]),
            revision=data["revision"],
        ),
        "Reviewers seated.",
    )


@workspace_member(permission="campaigns.create")
@require_POST
def campaign_reviewer_remove(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _lifecycle_write(
        request,
        campaign_id,
        ReviewerRemoveForm,
        lambda campaign, data: lifecycle.campaign_reviewer_remove(
            campaign=campaign,
            actor=request.user,
            reviewer=data["reviewer"],
            revision=data["revision"],
        ),
        "Reviewer removed: their item in progress went back to the pool; their work stays.",
    )


# Where the add page shows "nothing matches" or "not this workspace's": next to the input of
# the source chosen.
_ADD_FIELD_FOR_SOURCE = {
    "import": "import_run",
    "tag": "tag",
    "search": "search",
    "ids": "ids",
    "rerun": "rerun_job",
}


@workspace_member(permission="campaigns.create")
@require_http_methods(["GET", "POST"])
def campaign_items_add(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Add transcripts to a campaign that is not closed: the form previews how many would be
    added (live through htmx, or with the Preview button), then the service adds them."""
    campaign = selectors.get_campaign(request.workspace, campaign_id)
    campaign.workspace = request.workspace
    if request.htmx and request.GET.get("partial") == "preview":
        form = CampaignItemsAddForm(request.GET, campaign=campaign)
        context = _items_add_context(form)
        return render(request, "reviews/campaigns/items_add.html#preview", context)
    form = CampaignItemsAddForm(request.POST or None, campaign=campaign)
    closed = campaign.status == Campaign.Status.CLOSED
    if request.method == "POST" and closed:
        return _items_add_page(request, form, status=409)
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        try:
            done = services.campaign_transcripts_add(
                campaign=campaign, actor=request.user, transcripts=form.transcript_choice()
            )
        except services.CampaignClosed as refused:
            campaign.status = refused.current.status
            return _items_add_page(request, form, status=409)
        except ValidationError as error:
            field = _ADD_FIELD_FOR_SOURCE.get(form.cleaned_data["source"], "source")
            if hasattr(error, "error_dict") and "transcripts" in error.error_dict:
                error = ValidationError({field: error.error_dict["transcripts"]})
            _add_errors(form, error)
            return _items_add_page(request, form, status=400)
        messages.success(request, _added_message(done))
        return redirect("reviews:campaign-detail", request.workspace.slug, campaign.pk)
    return _items_add_page(request, form, status=400 if form.errors else 200)


def _added_message(done: services.ItemsAdded) -> str:
    added = f"Added {done.added} transcript{pluralize(done.added)}"
    already = f"; {done.already} {pluralize(done.already, 'was,were')} already in the campaign"
    return f"{added}{already if done.already else ''}. It now has {done.item_count} items."


def _items_add_context(form: CampaignItemsAddForm) -> dict[str, object]:
    """The form, with its preview once it has a valid choice to count."""
    preview = None
    if form.is_bound and form.is_valid():
        try:
            preview = selectors.items_add_preview(form.campaign, form.transcript_choice())
        except ValidationError:
            preview = None  # an unknown source: the form already says so
    return {"form": form, "campaign": form.campaign, "preview": preview}


def _items_add_page(
    request: HttpRequest, form: CampaignItemsAddForm, *, status: int
) -> HttpResponse:
    context = _items_add_context(form)
    context["closed"] = form.campaign.status == Campaign.Status.CLOSED
    return render(request, "reviews/campaigns/items_add.html", context, status=status)


@workspace_member(permission="queue.view")
def queue(request: HttpRequest) -> HttpResponse:
    context = selectors.reviewer_queue(request.workspace, request.user)
    return render(request, "reviews/campaigns/queue.html", context)


@workspace_member(permission="queue.view")
@require_POST
def claim_next(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.get_campaign(request.workspace, campaign_id)
    campaign.workspace = request.workspace
    return claim_redirect(request, campaign, done=f"Nothing left for you in “{campaign.title}”.")


def claim_redirect(request: HttpRequest, campaign: Campaign, *, done: str = "") -> HttpResponse:
    """Claim (or resume) the reviewer's next item and go to it; back to the queue, with a
    message, when nothing is left or the campaign is not open."""
    try:
        assignment = services.item_claim_next(campaign=campaign, reviewer=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("reviews:queue", request.workspace.slug)
    if assignment is None:
        messages.success(request, done or f"You are done with “{campaign.title}”. Thank you!")
        return redirect("reviews:queue", request.workspace.slug)
    return redirect("reviews:label-item", request.workspace.slug, campaign.pk, assignment.item_id)
