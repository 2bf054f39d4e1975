"""HTML views for the platform: home, members, invitations, API tokens (the workspace dashboard
shows every app, so it lives in ``reviews.views.dashboard``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clausebook import selectors, services
from clausebook.access import workspace_member
from clausebook.forms import ApiTokenForm, InvitationForm, RoleForm, WorkspaceForm
from clausebook.models import ApiToken, Membership, Role, Workspace


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send a member to their first workspace; someone with none can create one."""
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


@workspace_member(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation, raw = services.invitation_create(
                workspace=request.workspace, invited_by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error("email", error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("workspace-members", workspace=request.workspace.slug)
    context = {
        "form": form,
        "members": selectors.members_of(request.workspace),
        "invitations": selectors.pending_invitations(request.workspace),
        "roles": Role.choices,
    }
    return render(request, "clausebook/members.html", context)


@workspace_member(Role.ADMIN)
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


@workspace_member(Role.ADMIN)
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=membership_id, workspace=request.workspace)
    try:
        services.membership_remove(membership=membership, actor=request.user)
        messages.success(request, f"{membership.user.email} was removed from the workspace.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("workspace-members", workspace=request.workspace.slug)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Anonymous visitors are sent to sign up (allowed by the invitation) or sign in first."""
    if not request.user.is_authenticated:
        request.session["invitation_token"] = token
        return render(request, "clausebook/invitation_anonymous.html", {"token": token})
    if request.method == "POST":
        try:
            membership = services.invitation_accept(raw_token=token, user=request.user)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, str(error.messages[0] if hasattr(error, "messages") else error))
            return redirect("home")
        request.session.pop("invitation_token", None)
        messages.success(request, f"Welcome to {membership.workspace.name}.")
        return redirect("workspace-dashboard", workspace=membership.workspace.slug)
    return render(request, "clausebook/invitation_accept.html", {"token": token})


NEW_TOKEN_SESSION_KEY = "clausebook.new_api_token"  # noqa: S105 - a session key name


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; a new token's secret is shown on the next page load only.

    Post/redirect/get, so reloading the page neither shows the secret again nor creates a
    second token. The secret waits in the session for that one redirect and is popped.
    """
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _token, secret = services.api_token_create(
            user=request.user, name=form.cleaned_data["name"]
        )
        request.session[NEW_TOKEN_SESSION_KEY] = secret
        return redirect("api-tokens")
    context = {
        "form": form,
        "tokens": selectors.api_tokens_of(request.user),
        "new_secret": request.session.pop(NEW_TOKEN_SESSION_KEY, None),
    }
    return render(request, "clausebook/api_tokens.html", context)


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
