"""HTML views of disagreements: a campaign's dispute queue, one (item, clause) thread with the
labels side by side, comments and their edits, revising one's own label, and notifications.

Access: ``workspace_member`` resolves the workspace and the ``threads.comment`` right (404 for
non-members, 403 below reviewer), then ``reviews.access.thread_to_read`` the pair (404 outside
the workspace, campaign or scope; 403 while blind labeling keeps the thread closed to the
member). The API (``reviews.api.disputes``) calls the same helpers, selectors and services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from clausebook.access import workspace_member
from reviews import access, presenters
from reviews.models import Assignment
from reviews.models.threads import COMMENT_MAX_LENGTH
from reviews.selectors import campaigns as campaign_selectors
from reviews.selectors import disputes as selectors
from reviews.services import threads as services
from reviews.services.labels.core import MAX_RATIONALE, MAX_VALUE, LabelConflict
from reviews.services.labels.revise import label_revise, revise_refusal

_RIGHT = "threads.comment"


class CommentForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=COMMENT_MAX_LENGTH, strip=False
    )


class CommentEditForm(CommentForm):
    revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class ReviseForm(forms.Form):
    verdict = forms.CharField(max_length=MAX_VALUE)
    severity = forms.CharField(max_length=MAX_VALUE, required=False)
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_RATIONALE,
        required=False,
        strip=False,
    )
    revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


@workspace_member(permission=_RIGHT)
@require_safe
def dispute_list(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_selectors.get_campaign(request.workspace, campaign_id)
    campaign.workspace = request.workspace
    try:
        filters = selectors.queue_filters(campaign, request.GET)
    except ValidationError as error:
        filters, errors, status = selectors.QueueFilters(), error.messages, 400
    else:
        errors, status = [], 200
    queue = selectors.dispute_queue(
        request.membership, campaign, filters, page=request.GET.get("page")
    )
    context = {
        "campaign": campaign,
        "queue": queue,
        "rows": presenters.dispute_queue_rows(queue.rows, campaign),
        "errors": errors,
        "sorts": selectors.QUEUE_SORTS,
    }
    template = "reviews/disputes/queue.html"
    if request.htmx:
        template += "#queue"
    return render(request, template, context, status=status)


def _thread(request: HttpRequest, campaign_id: int, item_id: int, clause_key: str):  # type: ignore[no-untyped-def]
    return access.thread_to_read(
        request.membership, campaign_id=campaign_id, item_id=item_id, clause_key=clause_key
    )


def _render_thread(
    request: HttpRequest,
    ref: access.ThreadRef,
    *,
    status: int = 200,
    comment_form: forms.Form | None = None,
    revise_form: forms.Form | None = None,
    error: str = "",
) -> HttpResponse:
    page = selectors.thread_page(request.membership, ref)
    refusal = revise_refusal(page.mine, page.state) if page.mine is not None else ""
    if (
        page.mine is not None
        and ref.assignment is not None
        and ref.assignment.status != Assignment.Status.SUBMITTED
    ):
        refusal = "Submit the item before revising its labels."
    campaign = ref.item.campaign
    context: dict[str, Any] = {
        "campaign": campaign,
        "thread": page,
        "thread_labels": presenters.labels_in_words(page.labels, campaign),
        "comment_form": comment_form or CommentForm(),
        "revise_form": revise_form,
        "revise_refusal": refusal,
        "error": error,
        "max_length": COMMENT_MAX_LENGTH,
        "verdict_scale": campaign.verdict_scale,
        "severity_scale": campaign.severity_scale,
    }
    return render(request, "reviews/disputes/thread.html", context, status=status)


def _thread_url(request: HttpRequest, ref: access.ThreadRef) -> str:
    return services.thread_path(
        workspace_slug=request.workspace.slug,
        campaign_id=ref.item.campaign_id,
        item_id=ref.item.pk,
        clause_key=ref.clause.key,
    )


@workspace_member(permission=_RIGHT)
@require_safe
def thread_detail(
    request: HttpRequest, campaign_id: int, item_id: int, clause_key: str
) -> HttpResponse:
    return _render_thread(request, _thread(request, campaign_id, item_id, clause_key))


@workspace_member(permission=_RIGHT)
@require_POST
def comment_create(
    request: HttpRequest, campaign_id: int, item_id: int, clause_key: str
) -> HttpResponse:
    ref = _thread(request, campaign_id, item_id, clause_key)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            comment = services.comment_post(
                ref=ref, author=request.user, body=form.cleaned_data["body"]
            )
        except ValidationError as error:
            form.add_error(None, error)  # a dict of field errors lands on its fields
        else:
            return redirect(f"{_thread_url(request, ref)}#comment-{comment.pk}")
    return _render_thread(request, ref, status=400, comment_form=form)


@workspace_member(permission=_RIGHT)
@require_POST
def comment_edit(
    request: HttpRequest, campaign_id: int, item_id: int, clause_key: str, comment_id: int
) -> HttpResponse:
    ref = _thread(request, campaign_id, item_id, clause_key)
    comment = selectors.comment_in_thread(ref, comment_id)
    if comment.author_id != request.user.pk:
        raise PermissionDenied("Only the author can edit a comment.")
    form = CommentEditForm(request.POST)
    if not form.is_valid():
        return _render_thread(request, ref, status=400, error=_form_errors(form))
    try:
        services.comment_edit(
            ref=ref,
            comment=comment,
            editor=request.user,
            body=form.cleaned_data["body"],
            revision=form.cleaned_data["revision"],
        )
    except services.CommentConflict as conflict:
        return _render_thread(
            request,
            ref,
            status=409,
            error="This comment changed since you opened it (now at revision "
            f"{conflict.current.revision}); your edit was not saved. The current text is shown.",
        )
    except ValidationError as error:
        return _render_thread(request, ref, status=400, error=" ".join(error.messages))
    messages.success(request, "Comment edited; the earlier version is kept in its history.")
    return redirect(f"{_thread_url(request, ref)}#comment-{comment.pk}")


@workspace_member(permission="labels.write")
@require_POST
def label_revise_view(
    request: HttpRequest, campaign_id: int, item_id: int, clause_key: str
) -> HttpResponse:
    ref = _thread(request, campaign_id, item_id, clause_key)
    page = selectors.thread_page(request.membership, ref)
    if page.mine is None:
        raise PermissionDenied("You have no label on this pair to revise.")
    form = ReviseForm(request.POST)
    if not form.is_valid():
        return _render_thread(request, ref, status=400, revise_form=form, error=_form_errors(form))
    data = form.cleaned_data
    try:
        revised = label_revise(
            label=page.mine,
            reviewer=request.user,
            revision=data["revision"],
            verdict=data["verdict"],
            severity=data["severity"],
            rationale=data["rationale"],
        )
    except LabelConflict:
        return _render_thread(
            request,
            ref,
            status=409,
            error="Your label changed since you opened this page (another tab?); nothing was "
            "saved. Its current state is shown.",
        )
    except ValidationError as error:
        return _render_thread(request, ref, status=400, error=" ".join(error.messages))
    messages.success(request, f"Label revised. This pair is now {revised.outcome_state}.")
    return redirect(_thread_url(request, ref))


def _form_errors(form: forms.Form) -> str:
    return " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


@workspace_member(permission=_RIGHT)
@require_safe
def notification_list(request: HttpRequest) -> HttpResponse:
    from django.core.paginator import Paginator

    notifications = Paginator(
        selectors.notifications_of(request.membership), selectors.NOTIFICATION_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    for notification in notifications:
        notification.about, notification.url = services.notification_target(
            notification, request.workspace.slug
        )
    context = {
        "notifications": notifications,
        "unread": selectors.unread_count(request.user, request.workspace.pk),
    }
    return render(request, "reviews/disputes/notifications.html", context)


@workspace_member(permission=_RIGHT)
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    services.notifications_mark_read(recipient=request.user, workspace=request.workspace)
    return redirect(reverse("reviews:notification-list", args=[request.workspace.slug]))
