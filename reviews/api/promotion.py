"""REST API for feeding review results back into the spec: promote a gold case to an example of
its clause (an ``add_example`` change of an amendment), a clause's agreement across versions and
the items whose clause changed, and queueing those for re-review.

The same services and selectors as the pages; errors take ``clausebook.api_errors``' shape.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from reviews import access
from reviews.selectors import clause_history as history
from reviews.services import promotion as services
from specs.access import version_for
from specs.models import SpecVersion


class PromoteInput(serializers.Serializer):
    version = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Id of the published version whose clause gets the example; default newest.",
    )


class PromotionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    decision = serializers.IntegerField(source="decision_id")
    amendment = serializers.IntegerField(source="change.amendment_id")
    amendment_revision = serializers.IntegerField(source="change.amendment.revision")
    change = serializers.IntegerField(source="change_id")
    base_version = serializers.CharField(source="change.amendment.base_version.label")
    clause_key = serializers.CharField(source="change.clause_key")
    grade = serializers.SerializerMethodField()
    example = serializers.IntegerField(source="example_id", allow_null=True)
    promoted_by = serializers.EmailField(source="promoted_by.email")
    promoted_at = serializers.DateTimeField()

    def get_grade(self, promotion: Any) -> str:
        return promotion.change.payload["turns"][-1]["comparison"][0]["grade"]


class CampaignAgreementOutput(serializers.Serializer):
    campaign = serializers.IntegerField(source="campaign.pk")
    campaign_title = serializers.CharField(source="campaign.title")
    clause_key = serializers.CharField()
    alpha = serializers.FloatField(allow_null=True)
    n_items = serializers.IntegerField()
    n_labels = serializers.IntegerField()


class VersionAgreementOutput(serializers.Serializer):
    version = serializers.CharField(source="version.label")
    campaigns = CampaignAgreementOutput(many=True)


class ChangedSinceOutput(serializers.Serializer):
    version = serializers.CharField(source="version.label")
    clause_key = serializers.CharField()
    removed = serializers.BooleanField()
    item_count = serializers.IntegerField()
    transcript_ids = serializers.ListField(child=serializers.IntegerField())


class ClauseHistoryOutput(serializers.Serializer):
    agreement = VersionAgreementOutput(many=True)
    changed_since = ChangedSinceOutput(many=True)


class RereviewOutput(serializers.Serializer):
    campaign = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    item_count = serializers.IntegerField()
    status = serializers.CharField()


class GoldPromoteView(WorkspaceAPIMixin, APIView):
    write_permission = services.PROPOSE_PERMISSION

    @extend_schema(
        request=PromoteInput,
        responses={201: PromotionOutput},
        summary="Promote a gold case to an example of its clause (an amendment change)",
    )
    def post(self, request: Request, workspace: str, decision_id: int) -> Response:
        decision = access.decision_in_workspace(self.workspace.pk, decision_id)
        data = PromoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        version_id = data.validated_data.get("version")
        version = None
        if version_id is not None:
            version = SpecVersion.objects.filter(
                pk=version_id, spec_id=decision.spec_version.spec_id
            ).first()
            if version is None:
                raise serializers.ValidationError({"version": ["No such version of this spec."]})
        promotion = services.gold_promote(decision=decision, actor=request.user, version=version)
        return Response(PromotionOutput(promotion).data, status=status.HTTP_201_CREATED)


class ClauseHistoryView(WorkspaceAPIMixin, APIView):
    read_permission = "campaigns.read"

    @extend_schema(
        responses=ClauseHistoryOutput,
        summary="A clause's agreement across versions and the items labeled before it changed",
    )
    def get(self, request: Request, workspace: str, spec: str, label: str, key: str) -> Response:
        version = version_for(self.workspace, spec, label)
        body = {
            "agreement": history.clause_agreement_history(version, key),
            "changed_since": history.changed_since(version, key),
        }
        return Response(ClauseHistoryOutput(body).data)


class ClauseRereviewView(WorkspaceAPIMixin, APIView):
    write_permission = "campaigns.create"

    @extend_schema(
        request=None,
        responses={201: RereviewOutput},
        summary="Queue items labeled against an earlier form of the clause for re-review",
    )
    def post(self, request: Request, workspace: str, spec: str, label: str, key: str) -> Response:
        version = version_for(self.workspace, spec, label)
        campaign = services.rereview_campaign_create(
            version=version, clause_key=key, actor=request.user
        )
        return Response(RereviewOutput(campaign).data, status=status.HTTP_201_CREATED)
