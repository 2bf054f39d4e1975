"""REST API for amendments and drafts, mirroring ``specs.amendments.services``.

Reads need ``specs.read``; writes the right of their service (``amendments.propose``,
``.approve``, ``.merge``), checked here and again by the service. Writes carry the ``revision``
the client read: a stale one is a 409 ``{"detail", "current": {amendment}}``; a merge the draft
moved under, or a rebase with overlapping edits, is a 409 whose ``current`` lists the conflicts.
Bad input is a 400 naming the field; another workspace's ids are a 404.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.api_errors import Conflict
from specs import access
from specs.amendments import presenters, selectors, services
from specs.amendments.access import amendment_for, change_for
from specs.api import VersionOutput
from specs.models import (
    AMENDMENT_TITLE_MAX_LENGTH,
    CLAUSE_KEY_MAX_LENGTH,
    VERSION_LABEL_MAX_LENGTH,
    Amendment,
    AmendmentChange,
    AmendmentState,
)

# --------------------------------------------------------------------------------------------
# Serializers (shapes come from specs.amendments.presenters)


class AmendmentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    rationale = serializers.CharField()
    state = serializers.ChoiceField(choices=AmendmentState.choices)
    revision = serializers.IntegerField()
    author = serializers.EmailField()
    base_version = serializers.CharField()
    merged_into = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AmendmentChangeOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AmendmentChange.Kind.choices)
    clause_key = serializers.CharField()
    summary = serializers.CharField()
    base = serializers.JSONField(help_text="The clause as the change found it.")
    payload = serializers.JSONField()
    position = serializers.IntegerField()


class AmendmentApprovalOutput(serializers.Serializer):
    user = serializers.EmailField()
    revision = serializers.IntegerField()
    counts = serializers.BooleanField(help_text="Of the current revision, by a current approver.")
    created_at = serializers.DateTimeField()


class AmendmentDetailOutput(AmendmentOutput):
    changes = AmendmentChangeOutput(many=True)
    approvals = AmendmentApprovalOutput(many=True)
    approvals_counted = serializers.IntegerField()
    approvals_required = serializers.IntegerField()
    draft = serializers.CharField(allow_null=True)
    conflicts = serializers.JSONField(
        allow_null=True,
        help_text="What a merge into the draft would refuse now ([]: it applies; null: no draft).",
    )
    preview = serializers.JSONField(help_text="The diff of the touched clauses, as version diffs.")


class AmendmentConflictOutput(serializers.Serializer):
    detail = serializers.CharField()
    current = serializers.JSONField()


class AmendmentProposeInput(serializers.Serializer):
    base_version = serializers.CharField(max_length=VERSION_LABEL_MAX_LENGTH)
    title = serializers.CharField(max_length=AMENDMENT_TITLE_MAX_LENGTH)
    rationale = serializers.CharField(required=False, allow_blank=True, default="")


class AmendmentEditInput(serializers.Serializer):
    revision = serializers.IntegerField()
    title = serializers.CharField(max_length=AMENDMENT_TITLE_MAX_LENGTH)
    rationale = serializers.CharField(required=False, allow_blank=True, default="")


class AmendmentRevisionInput(serializers.Serializer):
    revision = serializers.IntegerField(help_text="The revision the client read.")


class AmendmentChangeInput(AmendmentRevisionInput):
    kind = serializers.ChoiceField(choices=AmendmentChange.Kind.choices)
    clause_key = serializers.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    payload = serializers.JSONField(
        help_text="By kind; see specs.amendments.services.amendment_change_add."
    )


class AmendmentChangeEditInput(AmendmentRevisionInput):
    payload = serializers.JSONField()


class AmendmentRebaseInput(AmendmentRevisionInput):
    resolutions = serializers.DictField(
        child=serializers.DictField(),
        required=False,
        default=dict,
        help_text="{clause key: {field: value to keep}} for each conflict a rebase reported.",
    )


class AmendmentCloseInput(AmendmentRevisionInput):
    state = serializers.ChoiceField(
        choices=[AmendmentState.WITHDRAWN.value, AmendmentState.REJECTED.value]
    )


class DraftStartInput(serializers.Serializer):
    label = serializers.CharField(
        max_length=VERSION_LABEL_MAX_LENGTH, required=False, allow_blank=True, default=""
    )


# --------------------------------------------------------------------------------------------
# Views


def _valid(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class AmendmentScopedMixin(WorkspaceAPIMixin):
    """The spec and amendment named by the URL, inside the workspace, or 404."""

    read_permission = "specs.read"
    kwargs: dict[str, Any]

    def get_amendment(self) -> Amendment:
        spec = access.spec_for(self.workspace, self.kwargs["spec"])
        return amendment_for(spec, self.kwargs["amendment_id"])

    def run(self, call: Any) -> Any:
        """Run a service; a stale revision or a conflict becomes a 409 with the current state."""
        try:
            return call()
        except services.AmendmentConflict as conflict:
            current = presenters.amendment_output(
                amendment_for(conflict.amendment.spec, conflict.amendment.pk)
            )
            raise Conflict(str(conflict), current=current) from conflict
        except (services.MergeBlocked, services.RebaseConflict) as error:
            raise Conflict(error.messages[0], current={"conflicts": error.conflicts}) from error


_CONFLICT = OpenApiResponse(AmendmentConflictOutput, description="Stale revision, or conflicts")


class AmendmentListView(AmendmentScopedMixin, generics.GenericAPIView):
    write_permission = "amendments.propose"
    serializer_class = AmendmentOutput

    @extend_schema(
        responses=AmendmentOutput(many=True),
        summary="Amendments of a spec, newest first (?state= filters)",
    )
    def get(self, request: Request, workspace: str, spec: str) -> Response:
        spec_obj = access.spec_for(self.workspace, spec)
        state = request.query_params.get("state", "")
        if state and state not in AmendmentState.values:
            raise serializers.ValidationError(
                {"state": [f"One of {', '.join(AmendmentState.values)}."]}
            )
        page = self.paginate_queryset(selectors.amendments_of(spec_obj, state=state))
        return self.get_paginated_response([presenters.amendment_output(a) for a in page or []])

    @extend_schema(
        request=AmendmentProposeInput,
        responses={201: AmendmentOutput},
        summary="Propose an amendment against a published version",
    )
    def post(self, request: Request, workspace: str, spec: str) -> Response:
        data = _valid(AmendmentProposeInput, request.data)
        spec_obj = access.spec_for(self.workspace, spec)
        amendment = services.amendment_propose(
            spec=spec_obj,
            base_version=access.version_for(self.workspace, spec, data["base_version"]),
            title=data["title"],
            rationale=data["rationale"],
            actor=request.user,
        )
        return Response(presenters.amendment_output(amendment), status=status.HTTP_201_CREATED)


class AmendmentDetailView(AmendmentScopedMixin, APIView):
    write_permission = "amendments.propose"

    @extend_schema(responses=AmendmentDetailOutput, summary="One amendment with its changes")
    def get(self, request: Request, **kwargs: Any) -> Response:
        detail = selectors.amendment_detail(self.get_amendment())
        return Response(presenters.detail_output(detail))

    @extend_schema(
        request=AmendmentEditInput,
        responses={200: AmendmentOutput, 409: _CONFLICT},
        summary="Edit the title and rationale (a new revision: approvals are asked again)",
    )
    def patch(self, request: Request, **kwargs: Any) -> Response:
        data = _valid(AmendmentEditInput, request.data)
        amendment = self.run(
            lambda: services.amendment_edit(
                amendment=self.get_amendment(),
                title=data["title"],
                rationale=data["rationale"],
                actor=request.user,
                expected_revision=data["revision"],
            )
        )
        return Response(presenters.amendment_output(amendment))


class AmendmentChangeListView(AmendmentScopedMixin, APIView):
    write_permission = "amendments.propose"

    @extend_schema(
        request=AmendmentChangeInput,
        responses={201: AmendmentChangeOutput, 409: _CONFLICT},
        summary="Add a change (records the clause as it is in the base version)",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = _valid(AmendmentChangeInput, request.data)
        change = self.run(
            lambda: services.amendment_change_add(
                amendment=self.get_amendment(),
                kind=data["kind"],
                clause_key=data["clause_key"],
                payload=data["payload"],
                actor=request.user,
                expected_revision=data["revision"],
            )
        )
        return Response(presenters.change_output(change), status=status.HTTP_201_CREATED)


class AmendmentChangeDetailView(AmendmentScopedMixin, APIView):
    write_permission = "amendments.propose"

    def get_change(self) -> AmendmentChange:
        return change_for(self.get_amendment(), self.kwargs["change_id"])

    @extend_schema(
        request=AmendmentChangeEditInput, responses={200: AmendmentChangeOutput, 409: _CONFLICT}
    )
    def patch(self, request: Request, **kwargs: Any) -> Response:
        data = _valid(AmendmentChangeEditInput, request.data)
        change = self.run(
            lambda: services.amendment_change_edit(
                change=self.get_change(),
                payload=data["payload"],
                actor=request.user,
                expected_revision=data["revision"],
            )
        )
        return Response(presenters.change_output(change))

    @extend_schema(request=AmendmentRevisionInput, responses={200: AmendmentOutput, 409: _CONFLICT})
    def delete(self, request: Request, **kwargs: Any) -> Response:
        data = _valid(AmendmentRevisionInput, request.data)
        amendment = self.run(
            lambda: services.amendment_change_remove(
                change=self.get_change(), actor=request.user, expected_revision=data["revision"]
            )
        )
        return Response(presenters.amendment_output(amendment))


class AmendmentApproveView(AmendmentScopedMixin, APIView):
    write_permission = "amendments.approve"

    @extend_schema(
        request=AmendmentRevisionInput,
        responses={
            200: AmendmentOutput,
            403: OpenApiResponse(description="Own amendment"),
            409: _CONFLICT,
        },
        summary="Approve the revision read (editors and admins; not the author)",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = _valid(AmendmentRevisionInput, request.data)
        amendment = self.get_amendment()
        self.run(
            lambda: services.amendment_approve(
                amendment=amendment, actor=request.user, expected_revision=data["revision"]
            )
        )
        amendment.refresh_from_db()
        return Response(presenters.amendment_output(amendment))


class AmendmentMergeView(AmendmentScopedMixin, APIView):
    write_permission = "amendments.merge"

    @extend_schema(
        request=AmendmentRevisionInput,
        responses={200: VersionOutput, 409: _CONFLICT},
        summary="Merge an approved amendment into the spec's draft (409 lists the conflicts)",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = _valid(AmendmentRevisionInput, request.data)
        draft = self.run(
            lambda: services.amendment_merge(
                amendment=self.get_amendment(),
                actor=request.user,
                expected_revision=data["revision"],
            )
        )
        draft.refresh_from_db()
        return Response(VersionOutput(draft).data)


class AmendmentRebaseView(AmendmentScopedMixin, APIView):
    write_permission = "amendments.propose"

    @extend_schema(
        request=AmendmentRebaseInput,
        responses={200: AmendmentOutput, 409: _CONFLICT},
        summary="Rebase on the draft (three-way); overlapping edits need a resolution",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = _valid(AmendmentRebaseInput, request.data)
        amendment = self.run(
            lambda: services.amendment_rebase(
                amendment=self.get_amendment(),
                actor=request.user,
                expected_revision=data["revision"],
                resolutions=data["resolutions"],
            )
        )
        return Response(presenters.amendment_output(amendment))


class AmendmentCloseView(AmendmentScopedMixin, APIView):
    write_permission = "amendments.propose"

    @extend_schema(
        request=AmendmentCloseInput,
        responses={200: AmendmentOutput, 409: _CONFLICT},
        summary="Withdraw (author or merger) or reject (approver) an amendment",
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        data = _valid(AmendmentCloseInput, request.data)
        amendment = self.run(
            lambda: services.amendment_close(
                amendment=self.get_amendment(),
                state=data["state"],
                actor=request.user,
                expected_revision=data["revision"],
            )
        )
        return Response(presenters.amendment_output(amendment))


class DraftStartView(WorkspaceAPIMixin, APIView):
    read_permission = "specs.read"
    write_permission = "amendments.merge"

    @extend_schema(
        request=DraftStartInput,
        responses={201: VersionOutput},
        summary="Start the spec's one draft as a copy of this published version",
    )
    def post(self, request: Request, workspace: str, spec: str, label: str) -> Response:
        data = _valid(DraftStartInput, request.data)
        version = access.version_for(self.workspace, spec, label)
        draft = services.draft_start_from(version=version, label=data["label"], actor=request.user)
        return Response(VersionOutput(draft).data, status=status.HTTP_201_CREATED)
