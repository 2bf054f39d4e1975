"""HTML views of adjudication: a campaign's queue of pairs needing a decision, an item's
adjudication page, recording gold and reopening it.

Access: ``workspace_member(permission="gold.adjudicate")`` resolves the workspace and the right
(404 for non-members, 403 below adjudicator), then the campaign and item are found inside that
workspace (404 otherwise). The gold services check the right again, refuse an adjudicator who
labeled the item (unless the campaign allows it) and refuse a stale decision: the page sends the
id of the decision it showed as current, and a decision made meanwhile answers 409 with the page
as it is now, the adjudicator's choice kept in the form, so nothing is overwritten unseen.
The page's script (``static/js/adjudication.js``) adds the keyboard; every form works without it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from clausebook.access import workspace_member
from reviews import access
from reviews import adjudication_presenters as presenters
from reviews.models import Item
from reviews.selectors import adjudication as selectors
from reviews.selectors import campaigns as campaign_selectors
from reviews.services import gold as gold_services
from reviews.services.labels.core import MAX_RATIONALE, MAX_VALUE, resolve_clauses

QUEUE_PAGE_SIZE = 50
MAX_REASON = 2_000


class DecisionForm(forms.Form):
    clause = forms.IntegerField(min_value=1)
    verdict = forms.CharField(max_length=MAX_VALUE)
    severity = forms.CharField(max_length=MAX_VALUE, required=False)
    rationale = forms.CharField(max_length=MAX_RATIONALE, strip=False)
    # Blank: the page showed no decision on the pair.
    expected_decision = forms.IntegerField(min_value=1, required=False)


class ReopenForm(forms.Form):
    clause = forms.IntegerField(min_value=1)
    reason = forms.CharField(max_length=MAX_REASON)
    expected_decision = forms.IntegerField(min_value=1)


@workspace_member(permission="gold.adjudicate")
@require_safe
def adjudication_queue(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_selectors.get_campaign(request.workspace, campaign_id)
    scope = campaign_selectors.clauses_of([campaign.pk])[campaign.pk]
    counts = selectors.queue_counts(campaign)
    key = request.GET.get("clause", "")
    chosen = next((clause for clause in scope if clause["key"] == key), None)
    status = 200
    if key and chosen is None:
        messages.error(request, f"No clause “{key[:120]}” in this campaign's scope.")
        status = 400
    pairs = selectors.adjudication_queue(
        campaign, clause_id=chosen["id"] if chosen is not None else None
    )
    page = Paginator(pairs, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "campaign": campaign,
        "clause_key": chosen["key"] if chosen is not None else "",
        "filters": [
            {"key": clause["key"], "title": clause["title"], "count": counts.get(clause["id"], 0)}
            for clause in scope
            if counts.get(clause["id"])
        ],
        "total": sum(counts.values()),
        "page": page,
        "rows": [
            presenters.queue_row(
                outcome, request.workspace.slug, verdict_scale=campaign.verdict_scale
            )
            for outcome in page
        ],
    }
    return render(request, "reviews/adjudication/queue.html", context, status=status)


@workspace_member(permission="gold.adjudicate")
@require_safe
def adjudication_item(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item = access.item_in_workspace(
        request.workspace, item_id, campaign_id=campaign_id, with_messages=True
    )
    return _item_page(request, item)


@workspace_member(permission="gold.adjudicate")
@require_POST
def adjudication_record(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item = access.item_in_workspace(
        request.workspace, item_id, campaign_id=campaign_id, with_messages=True
    )
    form = DecisionForm(request.POST)
    typed = _typed(request, ("verdict", "severity", "rationale"))
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        data = form.cleaned_data
        clause = resolve_clauses(item.campaign, [data["clause"]])[data["clause"]]
        decision = gold_services.decision_record(
            item=item,
            clause=clause,
            actor=request.user,
            verdict=data["verdict"],
            severity=data["severity"],
            rationale=data["rationale"],
            current_decision_id=data["expected_decision"],
        )
    except gold_services.DecisionConflict as conflict:
        return _conflict_page(request, item, form, typed, conflict)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _item_page(request, item, status=400, typed=typed)
    messages.success(request, f"Gold recorded on {clause.key}: {decision.verdict}.")
    return redirect(_after_decision(request, item))


@workspace_member(permission="gold.adjudicate")
@require_POST
def adjudication_reopen(request: HttpRequest, campaign_id: int, item_id: int) -> HttpResponse:
    item = access.item_in_workspace(
        request.workspace, item_id, campaign_id=campaign_id, with_messages=True
    )
    form = ReopenForm(request.POST)
    typed = _typed(request, ("reason",))
    try:
        if not form.is_valid():
            raise ValidationError(_form_errors(form))
        data = form.cleaned_data
        clause = resolve_clauses(item.campaign, [data["clause"]])[data["clause"]]
        gold_services.decision_reopen(
            item=item,
            clause=clause,
            actor=request.user,
            reason=data["reason"],
            current_decision_id=data["expected_decision"],
        )
    except gold_services.DecisionConflict as conflict:
        return _conflict_page(request, item, form, typed, conflict)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _item_page(request, item, status=400, typed=typed)
    messages.success(request, f"Reopened {clause.key}: it needs a decision again.")
    return redirect(_item_url(request, item) + f"#pair-{clause.key}")


# --------------------------------------------------------------------------------------------------


def _item_url(request: HttpRequest, item: Item) -> str:
    return reverse(
        "reviews:adjudication-item", args=(request.workspace.slug, item.campaign_id, item.pk)
    )


def _next_url(request: HttpRequest, item: Item) -> str:
    """The next item with a pair needing a decision, or the queue when there is none."""
    next_id = selectors.next_item_id(item.campaign, after=item)
    if next_id is None:
        return reverse(
            "reviews:adjudication-queue", args=(request.workspace.slug, item.campaign_id)
        )
    return reverse(
        "reviews:adjudication-item", args=(request.workspace.slug, item.campaign_id, next_id)
    )


def _after_decision(request: HttpRequest, item: Item) -> str:
    # Stay while this item has pairs to settle; then the next item; then the queue.
    if selectors.item_needs_adjudication(item):
        return _item_url(request, item)
    next_url = _next_url(request, item)
    if "/items/" not in next_url:
        messages.info(request, "Nothing left to adjudicate in this campaign.")
    return next_url


def _item_page(
    request: HttpRequest,
    item: Item,
    *,
    status: int = 200,
    typed: dict[int, dict[str, str]] | None = None,
    conflict: dict[str, Any] | None = None,
) -> HttpResponse:
    view = selectors.adjudication_item(item=item, membership=request.membership)
    context = presenters.item_context(
        view,
        request.workspace.slug,
        next_url=_next_url(request, item),
        typed=typed,
        conflict=conflict,
    )
    return render(request, "reviews/adjudication/item.html", context, status=status)


def _conflict_page(
    request: HttpRequest,
    item: Item,
    form: forms.Form,
    typed: dict[int, dict[str, str]],
    conflict: gold_services.DecisionConflict,
) -> HttpResponse:
    """409: the page as it is now, the other decision on the card, the adjudicator's input kept
    in its form (which now names the current decision, so sending it again replaces that one,
    knowingly)."""
    clause_id = form.cleaned_data["clause"]
    current = conflict.current
    return _item_page(
        request,
        item,
        status=409,
        typed=typed,
        conflict={
            "clause": clause_id,
            "current": current,
            "by": current.decided_by.short_name if current and current.decided_by else "",
        },
    )


def _typed(request: HttpRequest, fields: tuple[str, ...]) -> dict[int, dict[str, str]]:
    """What the adjudicator sent, by clause id, to show again in the form after a refusal."""
    raw = request.POST.get("clause", "")
    if not (raw.isascii() and raw.isdigit()):
        return {}
    return {int(raw): {name: request.POST.get(name, "")[:MAX_RATIONALE] for name in fields}}


def _form_errors(form: forms.Form) -> dict[str, list[str]]:
    return {field: list(errors) for field, errors in form.errors.items()}
