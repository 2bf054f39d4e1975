"""API for the platform: the current user, workspaces, members."""

from __future__ import annotations

import threading

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook import selectors, services
from clausebook.access import WorkspaceAPIMixin
from clausebook.models import Membership, Role, Workspace


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()


class WorkspaceOutput(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = [
            "id",
            "slug",
            "name",
            "description",
            "created_at",
            "role",
            "amendment_approvals_required",
        ]

    def get_role(self, workspace: Workspace) -> str:
        roles = self.context.get("roles", {})
        return Role(roles[workspace.pk]).name.lower() if workspace.pk in roles else ""


class MeView(APIView):
    @extend_schema(responses=UserOutput, summary="The signed-in user")
    def get(self, request: Request) -> Response:
        return Response(UserOutput(request.user).data)


class WorkspaceListView(generics.ListAPIView):
    serializer_class = WorkspaceOutput

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return Workspace.objects.for_user(self.request.user)

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        context["roles"] = dict(
            Membership.objects.filter(user=self.request.user).values_list("workspace_id", "role")
        )
        return context


class WorkspaceSettingsInput(serializers.Serializer):
    amendment_approvals_required = serializers.IntegerField(
        help_text="Approvals an amendment needs before it merges (1 to 10)."
    )


class WorkspaceDetailView(WorkspaceAPIMixin, APIView):
    write_permission = "workspace.manage"

    def _output(self) -> Response:
        return Response(
            WorkspaceOutput(
                self.workspace, context={"roles": {self.workspace.pk: self.membership.role}}
            ).data
        )

    @extend_schema(responses=WorkspaceOutput, summary="One workspace")
    def get(self, request: Request, workspace: str) -> Response:
        return self._output()

    @extend_schema(
        request=WorkspaceSettingsInput,
        responses=WorkspaceOutput,
        summary="Change the workspace's settings (admins)",
    )
    def patch(self, request: Request, workspace: str) -> Response:
        data = WorkspaceSettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.workspace_settings_update(
            workspace=self.workspace, actor=request.user, **data.validated_data
        )
        return self._output()


class MemberOutput(serializers.ModelSerializer):
    user = UserOutput()
    role = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "user", "role", "created_at"]

    def get_role(self, membership: Membership) -> str:
        return Role(membership.role).name.lower()


class MemberListView(WorkspaceAPIMixin, generics.ListAPIView):
    """Every member with their user's id and email (what scripts seat on campaigns)."""

    serializer_class = MemberOutput
    read_permission = "members.read"

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.members_of(self.workspace)


class MemberRoleInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=[r.name.lower() for r in Role])


class MemberDetailView(WorkspaceAPIMixin, APIView):
    read_permission = "members.read"
    write_permission = "members.manage"

    @extend_schema(responses=MemberOutput, summary="One member")
    def get(self, request: Request, workspace: str, membership_id: int) -> Response:
        membership = get_object_or_404(selectors.members_of(self.workspace), pk=membership_id)
        return Response(MemberOutput(membership).data)

    @extend_schema(
        request=MemberRoleInput, responses=MemberOutput, summary="Change a member's role (admin)"
    )
    def patch(self, request: Request, workspace: str, membership_id: int) -> Response:
        membership = get_object_or_404(selectors.members_of(self.workspace), pk=membership_id)
        data = MemberRoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_set_role(
            membership=membership,
            role=Role[data.validated_data["role"].upper()],
            actor=request.user,
        )
        return Response(MemberOutput(membership).data)

    @extend_schema(
        responses={204: None},
        summary="Remove a member (admin); their labels, assignments and decisions stay",
    )
    def delete(self, request: Request, workspace: str, membership_id: int) -> Response:
        membership = get_object_or_404(selectors.members_of(self.workspace), pk=membership_id)
        services.membership_remove(membership=membership, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema, generated one request at a time.

    drf-spectacular loads its extension classes lazily, on the first generation in a process, and
    a failed optional import marks a class ``None`` while another thread may be reading it: two
    first requests at once under gunicorn's threads gave a 500. Generation is rare (clients and
    the docs page fetch it once), so serializing it costs nothing a user notices."""

    _generating = threading.Lock()

    def _get_schema_response(self, request: Request) -> Response:
        with self._generating:
            return super()._get_schema_response(request)
