"""HTML view for flagging an item's transcript (or one of its (item, clause) pairs) for a re-run,
from the labeling, disagreement and adjudication pages.

Access: ``workspace_member(permission="scenarios.flag")`` resolves the workspace (404 for
non-members, 403 below reviewer), then ``reviews.access.item_to_read`` the item: a reviewer may
flag only an item they were assigned, adjudicators any item of the workspace (404 outside it).
The service (``transcripts.services.flags``) checks the right again.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from clausebook.access import workspace_member
from reviews import access
from reviews.models import CampaignClause, Item
from specs.models import Clause
from transcripts.services import flags as services


class FlagForm(forms.Form):
    reason = forms.CharField(max_length=services.MAX_REASON_CHARS)
    clause = forms.CharField(required=False, max_length=200)
    next = forms.CharField(required=False, max_length=2000)


@workspace_member(permission=services.FLAG_PERMISSION)
@require_POST
def scenario_flag(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item, _ = access.item_to_read(request.membership, item_id, campaign_id=campaign_id)
    form = FlagForm(request.POST)
    back = _back_url(request, item, request.POST.get("next", ""))
    errors: list[str] = []
    clause = None
    if not form.is_valid():
        errors = [f"{name}: {' '.join(problems)}" for name, problems in form.errors.items()]
    elif (
        form.cleaned_data["clause"]
        and (clause := _in_scope(item, form.cleaned_data["clause"])) is None
    ):
        errors = [f"clause: {form.cleaned_data['clause']!r} is not a clause of this campaign."]
    else:
        try:
            result = services.scenario_flag_create(
                membership=request.membership,
                transcript=item.transcript,
                reason=form.cleaned_data["reason"],
                clause=clause,
            )
        except ValidationError as error:
            errors = [f"{name}: {' '.join(p)}" for name, p in error.message_dict.items()]
        else:
            about = f" (about clause {clause.key})" if clause is not None else ""
            messages.success(
                request,
                f"Flagged for a re-run as scenario #{result.scenario.pk}{about}. Thank you.",
            )
            return redirect(back)
    context = {"errors": errors, "back": back, "clause_key": form.data.get("clause", "")}
    return render(request, "reviews/flag_refused.html", context, status=400)


def _in_scope(item: Item, clause_key: str) -> Clause | None:
    """The campaign's clause of that key (with its version and spec, for the service's check)."""
    found = (
        CampaignClause.objects.filter(campaign=item.campaign, clause__key=clause_key)
        .select_related("clause__version__spec")
        .first()
    )
    return found.clause if found is not None else None


def _back_url(request: HttpRequest, item: Item, wanted: str) -> str:
    """Where the form came from, if it is a page of this workspace; else the item's page."""
    prefix = f"/w/{request.workspace.slug}/"
    if wanted.startswith(prefix) and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}
    ):
        return wanted
    return reverse("reviews:label-item", args=(request.workspace.slug, item.campaign_id, item.pk))
