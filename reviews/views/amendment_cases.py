"""The cases that motivated an amendment: the panel the specs app's amendment page loads
(``settings.AMENDMENT_PAGE_PANELS``), linking a case and unlinking one.

Access: ``workspace_member`` resolves the workspace (404 for non-members) and the right
(``specs.read`` to read, ``amendments.propose`` to link or unlink: 403 without); the amendment
is found inside the member's workspace only (404 otherwise). The service checks the right again.
A write redirects to the amendment page; a refused one answers the panel on its own page with
the reason (400).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from clausebook import permissions
from clausebook.access import workspace_member
from reviews.models import AmendmentCase, Campaign
from reviews.services import amendment_cases as services
from reviews.views.amendment_threads import _amendment, _amendment_url
from specs.amendments.services import OPEN_STATES
from specs.models import Amendment

_TEMPLATE = "reviews/amendments/cases_panel.html"


class CaseForm(forms.Form):
    """A gold decision by number, or a campaign's item (numbered as the pages show it) and a
    clause key."""

    decision = forms.IntegerField(min_value=1, required=False, label="Gold decision #")
    campaign = forms.IntegerField(min_value=1, required=False)
    item = forms.IntegerField(min_value=1, required=False, label="Item #")
    clause_key = forms.CharField(max_length=200, required=False, strip=True)


def _render(
    request: HttpRequest,
    amendment: Amendment,
    *,
    status: int = 200,
    form: CaseForm | None = None,
    error: str = "",
) -> HttpResponse:
    can_link = amendment.state in OPEN_STATES and permissions.can(
        request.membership,  # type: ignore[attr-defined]
        services.CASE_PERMISSION,
    )
    context: dict[str, Any] = {
        "amendment": amendment,
        "amendment_url": _amendment_url(request, amendment),
        "cases": list(services.amendment_cases_of(amendment)),
        "form": form or CaseForm(),
        "can_link": can_link,
        "campaigns": (
            list(
                Campaign.objects.filter(workspace=request.workspace)  # type: ignore[attr-defined]
                .order_by("-pk")
                .values("pk", "title")
            )
            if can_link
            else []
        ),
        "error": error,
    }
    template = f"{_TEMPLATE}#panel" if request.htmx and status == 200 else _TEMPLATE  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


@workspace_member(permission="specs.read")
@require_safe
def amendment_cases_panel(request: HttpRequest, amendment_id: int) -> HttpResponse:
    return _render(request, _amendment(request, amendment_id))


def _errors(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(
            f"{field}: {' '.join(messages_)}" if field != "__all__" else " ".join(messages_)
            for field, messages_ in error.message_dict.items()
        )
    return " ".join(error.messages)


@workspace_member(permission=services.CASE_PERMISSION)
@require_POST
def amendment_case_link(request: HttpRequest, amendment_id: int) -> HttpResponse:
    amendment = _amendment(request, amendment_id)
    form = CaseForm(request.POST)
    if not form.is_valid():
        error = " ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        return _render(request, amendment, status=400, form=form, error=error)
    data = form.cleaned_data
    try:
        item_id = None
        if data["decision"] is None and (data["campaign"] or data["item"]):
            if not (data["campaign"] and data["item"]):
                raise ValidationError("Choose the campaign and give the item number.")
            item_id = services.item_by_number(
                workspace=request.workspace,  # type: ignore[attr-defined]
                campaign_id=data["campaign"],
                number=data["item"],
            )
        case, created = services.amendment_case_link(
            amendment=amendment,
            actor=request.user,  # type: ignore[arg-type]
            decision_id=data["decision"],
            item_id=item_id,
            clause_key=data["clause_key"] or None,
        )
    except ValidationError as error:
        return _render(request, amendment, status=400, form=form, error=_errors(error))
    messages.success(
        request, "Case linked." if created else "That case was already linked; nothing changed."
    )
    return redirect(f"{_amendment_url(request, amendment)}#case-{case.pk}")


@workspace_member(permission=services.CASE_PERMISSION)
@require_POST
def amendment_case_unlink(request: HttpRequest, amendment_id: int, case_id: int) -> HttpResponse:
    amendment = _amendment(request, amendment_id)
    case = (
        AmendmentCase.objects.select_related("item", "clause")
        .filter(pk=case_id, amendment=amendment)
        .first()
    )
    if case is None:
        raise Http404("No such case linked to this amendment")
    try:
        services.amendment_case_unlink(
            amendment=amendment,
            case=case,
            actor=request.user,  # type: ignore[arg-type]
        )
    except ValidationError as error:
        return _render(request, amendment, status=400, error=_errors(error))
    messages.success(request, "Case unlinked.")
    return redirect(f"{_amendment_url(request, amendment)}#amendment-cases")
