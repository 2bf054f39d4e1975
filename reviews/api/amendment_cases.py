"""REST API for the cases that motivated an amendment: list them, link one (a gold decision, or
an item and a clause key), unlink one. The same service as the amendment page's panel
(``reviews.services.amendment_cases``); errors take ``clausebook.api_errors``' shape: 400 naming
the field (a case of another workspace included), 403 without ``amendments.propose``, 404 for
another workspace's amendment or link.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from reviews.models import AmendmentCase
from reviews.services import amendment_cases as services
from specs import access
from specs.amendments.access import amendment_for
from specs.models import CLAUSE_KEY_MAX_LENGTH, Amendment


class CaseLinkInput(serializers.Serializer):
    decision = serializers.IntegerField(
        min_value=1, required=False, help_text="A current gold decision of this workspace."
    )
    item = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="Or an item id of a campaign of this workspace (with clause_key).",
    )
    clause_key = serializers.CharField(
        max_length=CLAUSE_KEY_MAX_LENGTH,
        required=False,
        help_text="The clause of the item's campaign (with item).",
    )


class CaseOutput(serializers.Serializer):
    id = serializers.IntegerField()
    amendment = serializers.IntegerField(source="amendment_id")
    campaign = serializers.IntegerField(source="item.campaign_id")
    campaign_title = serializers.CharField(source="item.campaign.title")
    item = serializers.IntegerField(source="item_id")
    item_number = serializers.SerializerMethodField(help_text="As the pages number items, from 1.")
    clause_key = serializers.CharField(source="clause.key")
    decision = serializers.IntegerField(source="decision_id", allow_null=True)
    linked_by = serializers.EmailField(source="linked_by.email")
    linked_at = serializers.DateTimeField()

    def get_item_number(self, case: AmendmentCase) -> int:
        return case.item.position + 1


class CaseListOutput(serializers.Serializer):
    results = CaseOutput(many=True)


class _AmendmentCasesMixin(WorkspaceAPIMixin):
    read_permission = "specs.read"
    write_permission = services.CASE_PERMISSION

    def amendment(self, spec: str, amendment_id: int) -> Amendment:
        return amendment_for(access.spec_for(self.workspace, spec), amendment_id)


class AmendmentCaseListView(_AmendmentCasesMixin, APIView):
    @extend_schema(
        responses=CaseListOutput, summary="The cases linked to an amendment as its motivation"
    )
    def get(self, request: Request, workspace: str, spec: str, amendment_id: int) -> Response:
        amendment = self.amendment(spec, amendment_id)
        cases = list(services.amendment_cases_of(amendment))
        return Response(CaseListOutput({"results": cases}).data)

    @extend_schema(
        request=CaseLinkInput,
        responses={201: CaseOutput, 200: CaseOutput},
        summary="Link a motivating case (201; 200 when it was already linked)",
    )
    def post(self, request: Request, workspace: str, spec: str, amendment_id: int) -> Response:
        amendment = self.amendment(spec, amendment_id)
        data = CaseLinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        case, created = services.amendment_case_link(
            amendment=amendment,
            actor=request.user,
            decision_id=data.validated_data.get("decision"),
            item_id=data.validated_data.get("item"),
            clause_key=data.validated_data.get("clause_key"),
        )
        case = services.amendment_cases_of(amendment).get(pk=case.pk)
        return Response(
            CaseOutput(case).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class AmendmentCaseDetailView(_AmendmentCasesMixin, APIView):
    @extend_schema(request=None, responses={204: None}, summary="Unlink a motivating case")
    def delete(
        self, request: Request, workspace: str, spec: str, amendment_id: int, case_id: int
    ) -> Response:
        amendment = self.amendment(spec, amendment_id)
        case = services.amendment_cases_of(amendment).filter(pk=case_id).first()
        if case is None:
            raise Http404("No such case linked to this amendment")
        services.amendment_case_unlink(amendment=amendment, case=case, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
