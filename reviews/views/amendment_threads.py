"""The discussion of an amendment: the panel the specs app's amendment page loads
(``settings.AMENDMENT_PAGE_PANELS``), posting a comment and editing one's own.

Access: ``workspace_member`` resolves the workspace (404 for non-members) and the right
(``specs.read`` to read the discussion, ``amendments.propose`` to write in it: 403 without);
the amendment is found inside the member's workspace only (404 otherwise). The services check
the right again. A write redirects to the amendment page; a refused one answers the
discussion on its own page with the reason (400, or 409 for a stale edit).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from clausebook import permissions
from clausebook.access import workspace_member
from reviews.models import Comment, CommentRevision
from reviews.models.threads import COMMENT_MAX_LENGTH
from reviews.services import threads as services
from specs.models import Amendment

_TEMPLATE = "reviews/amendment_thread/panel.html"


class CommentForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=COMMENT_MAX_LENGTH, strip=False
    )


class CommentEditForm(CommentForm):
    revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


def _amendment(request: HttpRequest, amendment_id: int) -> Amendment:
    amendment = (
        Amendment.objects.select_related("spec", "base_version")
        .filter(spec__workspace=request.workspace, pk=amendment_id)  # type: ignore[attr-defined]
        .first()
    )
    if amendment is None:
        raise Http404("No such amendment")
    return amendment


def amendment_comments(amendment: Amendment) -> QuerySet[Comment]:
    """The amendment's comments, oldest first, with their authors and earlier versions."""
    return (
        Comment.objects.filter(amendment=amendment)
        .select_related("author")
        .prefetch_related(
            Prefetch(
                "history",
                queryset=CommentRevision.objects.select_related("edited_by").order_by("revision"),
            )
        )
        .order_by("created_at", "pk")
    )


def _amendment_url(request: HttpRequest, amendment: Amendment) -> str:
    return reverse(
        "specs:amendment-detail",
        args=[request.workspace.slug, amendment.spec.slug, amendment.pk],  # type: ignore[attr-defined]
    )


def _render(
    request: HttpRequest,
    amendment: Amendment,
    *,
    status: int = 200,
    comment_form: forms.Form | None = None,
    error: str = "",
) -> HttpResponse:
    context: dict[str, Any] = {
        "amendment": amendment,
        "amendment_url": _amendment_url(request, amendment),
        "comments": list(amendment_comments(amendment)),
        "comment_form": comment_form or CommentForm(),
        "can_comment": permissions.can(
            request.membership,  # type: ignore[attr-defined]
            services.AMENDMENT_COMMENT_PERMISSION,
        ),
        "error": error,
        "max_length": COMMENT_MAX_LENGTH,
    }
    # The amendment page loads the panel alone; opened directly (or after a refused write) it
    # is a page of its own.
    template = f"{_TEMPLATE}#panel" if request.htmx and status == 200 else _TEMPLATE  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


@workspace_member(permission="specs.read")
@require_safe
def amendment_thread_panel(request: HttpRequest, amendment_id: int) -> HttpResponse:
    return _render(request, _amendment(request, amendment_id))


@workspace_member(permission=services.AMENDMENT_COMMENT_PERMISSION)
@require_POST
def amendment_comment_create(request: HttpRequest, amendment_id: int) -> HttpResponse:
    amendment = _amendment(request, amendment_id)
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            comment = services.amendment_comment_post(
                amendment=amendment, author=request.user, body=form.cleaned_data["body"]
            )
        except ValidationError as error:
            form.add_error(None, error)  # a dict of errors lands on its fields
        else:
            messages.success(request, "Comment posted.")
            return redirect(f"{_amendment_url(request, amendment)}#comment-{comment.pk}")
    return _render(request, amendment, status=400, comment_form=form)


@workspace_member(permission=services.AMENDMENT_COMMENT_PERMISSION)
@require_POST
def amendment_comment_edit(
    request: HttpRequest, amendment_id: int, comment_id: int
) -> HttpResponse:
    amendment = _amendment(request, amendment_id)
    comment = Comment.objects.filter(pk=comment_id, amendment=amendment).first()
    if comment is None:
        raise Http404("No such comment in this discussion")
    if comment.author_id != request.user.pk:
        raise PermissionDenied("Only the author can edit a comment.")
    form = CommentEditForm(request.POST)
    if not form.is_valid():
        error = " ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        return _render(request, amendment, status=400, error=error)
    try:
        services.amendment_comment_edit(
            amendment=amendment,
            comment=comment,
            editor=request.user,
            body=form.cleaned_data["body"],
            revision=form.cleaned_data["revision"],
        )
    except services.CommentConflict as conflict:
        return _render(
            request,
            amendment,
            status=409,
            error="This comment changed since you opened it (now at revision "
            f"{conflict.current.revision}); your edit was not saved. The current text is shown.",
        )
    except ValidationError as error:
        return _render(request, amendment, status=400, error=" ".join(error.messages))
    messages.success(request, "Comment edited; the earlier version is kept in its history.")
    return redirect(f"{_amendment_url(request, amendment)}#comment-{comment.pk}")
