"""HTML views for amendments and drafts: list, propose, the amendment page (changes, diff
preview, approvals, merge and rebase with the conflicts shown), and starting a draft.

Every write posts the revision the member read: a stale one answers 409 with the page as it is
now, a refused one 400 with the reason, a missing right 403 (the decorator, and the service
again). Success redirects to the amendment page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clausebook import permissions
from clausebook.access import workspace_member
from specs import access
from specs.amendments import forms, presenters, selectors, services
from specs.amendments.access import amendment_for, change_for
from specs.models import Amendment, AmendmentState, VersionStatus


@workspace_member(permission="specs.read")
@require_GET
def amendment_list(request: HttpRequest, spec: str) -> HttpResponse:
    """The spec's amendments (``?state=`` filters), newest first, and its draft."""
    spec_obj = access.spec_for(request.workspace, spec)
    state = request.GET.get("state", "")
    state = state if state in AmendmentState.values else ""
    context = {
        "spec": spec_obj,
        "amendments": selectors.amendments_of(spec_obj, state=state),
        "draft": selectors.draft_of(spec_obj),
        "state": state,
        "states": AmendmentState.choices,
        "can_propose": permissions.can(request.membership, "amendments.propose"),
    }
    return render(request, "specs/amendments/list.html", context)


@workspace_member(permission="amendments.propose")
@require_http_methods(["GET", "POST"])
def amendment_propose(request: HttpRequest, spec: str) -> HttpResponse:
    """Open an amendment against a published version; its changes are added on its page."""
    spec_obj = access.spec_for(request.workspace, spec)
    labels = list(
        spec_obj.versions.exclude(status=VersionStatus.DRAFT)
        .order_by("-label")
        .values_list("label", flat=True)
    )
    initial = {"base_version": request.GET.get("from", labels[0] if labels else "")}
    form = forms.ProposeForm(request.POST or None, labels=labels, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            amendment = services.amendment_propose(
                spec=spec_obj,
                base_version=access.version_for(request.workspace, spec, data["base_version"]),
                title=data["title"],
                rationale=data["rationale"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Amendment opened. Add its changes below.")
            return redirect(_detail_url(request, amendment))
    status = 400 if request.method == "POST" else 200
    context = {"spec": spec_obj, "form": form}
    return render(request, "specs/amendments/propose.html", context, status=status)


def _detail_url(request: HttpRequest, amendment: Amendment) -> str:
    return reverse(
        "specs:amendment-detail",
        args=[request.workspace.slug, amendment.spec.slug, amendment.pk],  # type: ignore[attr-defined]
    )


def _page(
    request: HttpRequest,
    amendment: Amendment,
    *,
    status: int = 200,
    error: str = "",
    conflicts: list[dict[str, Any]] | None = None,
    change_form: forms.ChangeForm | None = None,
) -> HttpResponse:
    amendment.refresh_from_db()
    detail = selectors.amendment_detail(amendment)
    context = presenters.detail_context(detail, request.workspace.slug)  # type: ignore[attr-defined]
    membership = request.membership  # type: ignore[attr-defined]
    context.update(
        error=error,
        rebase_conflicts=presenters.conflict_rows(conflicts),
        merge_conflicts=presenters.conflict_rows(detail.conflicts),
        change_form=change_form or forms.ChangeForm(initial={"revision": amendment.revision}),
        can_propose=permissions.can(membership, "amendments.propose"),
        can_approve=permissions.can(membership, "amendments.approve")
        and amendment.author_id != request.user.pk,
        can_merge=permissions.can(membership, "amendments.merge"),
    )
    return render(request, "specs/amendments/detail.html", context, status=status)


@workspace_member(permission="specs.read")
@require_GET
def amendment_detail(request: HttpRequest, spec: str, amendment_id: int) -> HttpResponse:
    amendment = amendment_for(access.spec_for(request.workspace, spec), amendment_id)
    return _page(request, amendment)


def _write(
    request: HttpRequest,
    spec: str,
    amendment_id: int,
    form_class: type,
    action: Callable[[Amendment, Any], object],
    done: str,
) -> HttpResponse:
    """Validate the form, run one service, answer: redirect, 400, 409 (with the current page)."""
    amendment = amendment_for(access.spec_for(request.workspace, spec), amendment_id)
    form = form_class(request.POST)
    if not form.is_valid():
        return _page(request, amendment, status=400, error=_form_errors(form))
    try:
        action(amendment, form)
    except services.AmendmentConflict as conflict:
        return _page(request, amendment, status=409, error=str(conflict))
    except services.RebaseConflict as error:
        return _page(
            request, amendment, status=409, error=error.messages[0], conflicts=error.conflicts
        )
    except services.MergeBlocked as error:
        return _page(request, amendment, status=409, error=error.messages[0])
    except ValidationError as error:
        return _page(request, amendment, status=400, error=" ".join(error.messages))
    messages.success(request, done)
    return redirect(_detail_url(request, amendment))


def _form_errors(form: Any) -> str:
    return " ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


@workspace_member(permission="amendments.propose")
@require_POST
def amendment_edit(request: HttpRequest, spec: str, amendment_id: int) -> HttpResponse:
    def action(amendment: Amendment, form: forms.EditForm) -> object:
        return services.amendment_edit(
            amendment=amendment,
            title=form.cleaned_data["title"],
            rationale=form.cleaned_data["rationale"],
            actor=request.user,  # type: ignore[arg-type]
            expected_revision=form.cleaned_data["revision"],
        )

    return _write(request, spec, amendment_id, forms.EditForm, action, "Amendment updated.")


@workspace_member(permission="amendments.propose")
@require_POST
def change_add(request: HttpRequest, spec: str, amendment_id: int) -> HttpResponse:
    def action(amendment: Amendment, form: forms.ChangeForm) -> object:
        return services.amendment_change_add(
            amendment=amendment,
            kind=form.cleaned_data["kind"],
            clause_key=form.cleaned_data["clause_key"],
            payload=form.payload(),
            actor=request.user,  # type: ignore[arg-type]
            expected_revision=form.cleaned_data["revision"],
        )

    return _write(request, spec, amendment_id, forms.ChangeForm, action, "Change added.")


@workspace_member(permission="amendments.propose")
@require_POST
def change_remove(
    request: HttpRequest, spec: str, amendment_id: int, change_id: int
) -> HttpResponse:
    def action(amendment: Amendment, form: forms.RevisionForm) -> object:
        return services.amendment_change_remove(
            change=change_for(amendment, change_id),
            actor=request.user,  # type: ignore[arg-type]
            expected_revision=form.cleaned_data["revision"],
        )

    return _write(request, spec, amendment_id, forms.RevisionForm, action, "Change removed.")


@workspace_member(permission="amendments.approve")
@require_POST
def amendment_approve(request: HttpRequest, spec: str, amendment_id: int) -> HttpResponse:
    def action(amendment: Amendment, form: forms.RevisionForm) -> object:
        return services.amendment_approve(
            amendment=amendment,
            actor=request.user,  # type: ignore[arg-type]
            expected_revision=form.cleaned_data["revision"],
        )

    return _write(request, spec, amendment_id, forms.RevisionForm, action, "Approved.")


@workspace_member(permission="amendments.merge")
@require_POST
def amendment_merge(request: HttpRequest, spec: str, amendment_id: int) -> HttpResponse:
    def action(amendment: Amendment, form: forms.RevisionForm) -> object:
        return services.amendment_merge(
            amendment=amendment,
            actor=request.user,  # type: ignore[arg-type]
            expected_revision=form.cleaned_data["revision"],
        )

    return _write(request, spec, amendment_id, forms.RevisionForm, action, "Merged into the draft.")


@workspace_member(permission="amendments.propose")
@require_POST
def amendment_rebase(request: HttpRequest, spec: str, amendment_id: int) -> HttpResponse:
    """Rebase on the draft; posted again with a ``resolve:<key>:<field>`` box per conflict."""

    def action(amendment: Amendment, form: forms.RevisionForm) -> object:
        return services.amendment_rebase(
            amendment=amendment,
            actor=request.user,  # type: ignore[arg-type]
            expected_revision=form.cleaned_data["revision"],
            resolutions=forms.resolutions_from(request.POST),
        )

    done = "Rebased on the draft: it needs approval again."
    return _write(request, spec, amendment_id, forms.RevisionForm, action, done)


@workspace_member(permission="amendments.propose")
@require_POST
def amendment_close(request: HttpRequest, spec: str, amendment_id: int) -> HttpResponse:
    """Withdraw (author, or who may merge) or reject (who may approve); the service decides."""

    def action(amendment: Amendment, form: forms.CloseForm) -> object:
        return services.amendment_close(
            amendment=amendment,
            state=form.cleaned_data["state"],
            actor=request.user,  # type: ignore[arg-type]
            expected_revision=form.cleaned_data["revision"],
        )

    return _write(request, spec, amendment_id, forms.CloseForm, action, "Amendment closed.")


@workspace_member(permission="amendments.merge")
@require_POST
def draft_start(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """Start the spec's draft from this published version (the button on its page)."""
    version = access.version_for(request.workspace, spec, label)
    try:
        draft = services.draft_start_from(
            version=version,
            label=request.POST.get("label", ""),
            actor=request.user,  # type: ignore[arg-type]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("specs:version-detail", request.workspace.slug, spec, label)  # type: ignore[attr-defined]
    messages.success(request, f"Draft {draft.label} started from {label}.")
    return redirect("specs:version-detail", request.workspace.slug, spec, draft.label)  # type: ignore[attr-defined]
