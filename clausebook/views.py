"""HTML views for the platform: home, members, invitations, API tokens (the workspace dashboard
shows every app, so it lives in ``reviews.views.dashboard``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.utils.formats import date_format
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clausebook import invitation_session, links, selectors, services
from clausebook.access import workspace_member
from clausebook.forms import (
    ApiTokenForm,
    InvitationForm,
    RemoveMemberForm,
    RoleForm,
    WorkspaceForm,
)
from clausebook.models import ApiToken, Membership, Role, Workspace


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send a member to the invitation they came with, else their first workspace; someone
    with none can create one."""
    invitation = invitation_session.pending(request)
    if invitation is not None:
        return redirect("invitation-detail", invitation_id=invitation.pk)
    first = Workspace.objects.for_user(request.user).first()
    if first is not None:
        return redirect("workspace-dashboard", workspace=first.slug)
    return redirect("workspace-create")


@login_required
@require_http_methods(["GET", "POST"])
def workspace_create(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = services.workspace_create(creator=request.user, **form.cleaned_data)
        messages.success(request, f"Workspace “{workspace.name}” created. You are its admin.")
        return redirect("workspace-dashboard", workspace=workspace.slug)
    return render(request, "clausebook/workspace_create.html", {"form": form})


@workspace_member(permission="members.manage")
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.invitation_create(
                workspace=request.workspace,
                invited_by=request.user,
                link_base=links.link_base(request),
                **form.cleaned_data,
            )
        except ValidationError as error:
            form.add_error("email", error)
        else:
            note = f"Invitation sent to {created.invitation.email}."
            if created.replaced is not None:
                # Inviting again used to replace the earlier invitation silently.
                old = created.replaced
                note += (
                    f" It replaced the earlier invitation sent on "
                    f"{date_format(old.sent_at or old.created_at, 'DATE_FORMAT')}"
                    f" (as {old.get_role_display().lower()}), whose link no longer works."
                )
            messages.success(request, note)
            return redirect("workspace-members", workspace=request.workspace.slug)
    context = {
        "form": form,
        "members": selectors.members_of(request.workspace),
        "invitations": selectors.pending_invitations(request.workspace),
        "roles": Role.choices,
    }
    return render(request, "clausebook/members.html", context)


@workspace_member(permission="workspace.manage")
@require_POST
def workspace_settings(request: HttpRequest) -> HttpResponse:
    raw = request.POST.get("amendment_approvals_required", "")
    try:
        wanted = int(raw)
    except ValueError:
        wanted = 0
    try:
        services.workspace_settings_update(
            workspace=request.workspace, actor=request.user, amendment_approvals_required=wanted
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("workspace-members", workspace=request.workspace.slug)
    messages.success(request, "Workspace settings saved.")
    return redirect("workspace-members", workspace=request.workspace.slug)


@workspace_member(permission="members.manage")
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=membership_id, workspace=request.workspace)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_set_role(
                membership=membership, role=form.cleaned_data["role"], actor=request.user
            )
            messages.success(
                request, f"{membership.user.email} is now {Role(form.cleaned_data['role']).label}."
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return redirect("workspace-members", workspace=request.workspace.slug)


@workspace_member(permission="members.manage")
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    """GET asks for confirmation, naming what happens to the member's work; POST with
    ``confirm`` removes. A POST without it (a stray or scripted click) shows the question."""
    membership = get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_id, workspace=request.workspace
    )
    form = RemoveMemberForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_remove(membership=membership, actor=request.user)
            messages.success(request, f"{membership.user.email} was removed from the workspace.")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("workspace-members", workspace=request.workspace.slug)
    context = {"membership": membership, "form": form}
    return render(request, "clausebook/member_remove.html", context)


@require_GET
def invitation_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link. Remembers the invitation by id in the session (proof this browser
    opened the link) and moves on to its page, so the token leaves the address bar, the
    history and any Referer at once; the access log redacts it (``clausebook.logfilters``)."""
    invitation = selectors.invitation_by_token(token)
    if invitation is None or not invitation.is_pending:
        return render(request, "clausebook/invitation_invalid.html", status=404)
    invitation_session.remember(request, invitation)
    return redirect("invitation-detail", invitation_id=invitation.pk)


@require_http_methods(["GET", "POST"])
def invitation_detail(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """Name the workspace and the role; signed in, accept; anonymous, sign in or sign up first
    (signup is open to someone holding an invitation, and lands back here)."""
    if not invitation_session.holds(request, invitation_id):
        raise Http404("No such invitation")  # only the browser that opened the link
    invitation = selectors.invitation_by_id(invitation_id)
    if invitation is None or not invitation.is_pending:
        invitation_session.forget(request)
        return render(request, "clausebook/invitation_invalid.html", status=404)
    context = {"invitation": invitation}
    if not request.user.is_authenticated:
        return render(request, "clausebook/invitation_anonymous.html", context)
    if request.method == "POST":
        try:
            membership = services.invitation_accept(invitation_id=invitation.pk, user=request.user)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, str(error.messages[0] if hasattr(error, "messages") else error))
            return redirect("invitation-detail", invitation_id=invitation.pk)
        invitation_session.forget(request)
        messages.success(
            request,
            f"Welcome to {membership.workspace.name}. You are "
            f"{Role(membership.role).label.lower()} here.",
        )
        return redirect("workspace-dashboard", workspace=membership.workspace.slug)
    context["email_matches"] = invitation.email.lower() == request.user.email.lower()
    return render(request, "clausebook/invitation_accept.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; a new token's secret is shown once, in the answer to the POST.

    The secret is rendered straight into that response and kept nowhere (it used to wait in
    the session for a redirect). The response is ``no-store``, so the browser keeps no copy
    either; loading the page again lists the token by its hint only.
    """
    form = ApiTokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        _token, new_secret = services.api_token_create(
            user=request.user, name=form.cleaned_data["name"]
        )
        form = ApiTokenForm()
    context = {
        "form": form,
        "tokens": selectors.api_tokens_of(request.user),
        "new_secret": new_secret,
    }
    response = render(request, "clausebook/api_tokens.html", context)
    patch_cache_control(response, no_store=True, private=True)
    return response


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api-tokens")


def healthz(request: HttpRequest) -> HttpResponse:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
