"""REST API for model endpoints (admins only): list, add, read, change, remove.

The secret is write-only: send ``secret`` to set it (``""`` removes it, leaving it out keeps
it); answers carry ``secret`` masked (``"********"`` when one is stored, ``""`` otherwise).
The same services as the pages; errors take ``clausebook.api_errors``' shape.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clausebook.access import WorkspaceAPIMixin
from clausebook.pagination import DefaultPagination
from clausebook.secrets import mask
from reviews.models import ModelEndpoint
from reviews.services import endpoints as services


class EndpointInput(serializers.Serializer):
    name = serializers.CharField(max_length=services.NAME_MAX)
    base_url = serializers.CharField(max_length=services.URL_MAX)
    model = serializers.CharField(max_length=services.MODEL_MAX)
    parameters = serializers.DictField(required=False, default=dict)
    timeout_seconds = serializers.IntegerField(
        required=False,
        default=60,
        min_value=services.TIMEOUT_RANGE[0],
        max_value=services.TIMEOUT_RANGE[1],
    )
    concurrency = serializers.IntegerField(
        required=False,
        default=8,
        min_value=services.CONCURRENCY_RANGE[0],
        max_value=services.CONCURRENCY_RANGE[1],
    )
    rate_limit_per_minute = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=services.RATE_LIMIT_MAX
    )
    secret = serializers.CharField(
        required=False,
        allow_blank=True,
        write_only=True,
        max_length=services.SECRET_MAX,
        trim_whitespace=False,
        help_text="Write-only. Omit to keep the stored secret; an empty string removes it.",
    )


class EndpointOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    base_url = serializers.CharField()
    model = serializers.CharField()
    parameters = serializers.DictField()
    timeout_seconds = serializers.IntegerField()
    concurrency = serializers.IntegerField()
    rate_limit_per_minute = serializers.IntegerField()
    secret = serializers.SerializerMethodField(help_text='"********" when a secret is stored.')
    created_at = serializers.DateTimeField()

    def get_secret(self, endpoint: ModelEndpoint) -> str:
        return mask(endpoint.secret_encrypted)


def _input(request: Request, current: ModelEndpoint | None = None) -> services.EndpointInput:
    partial = current is not None and request.method == "PATCH"
    data = EndpointInput(data=request.data, partial=partial)
    data.is_valid(raise_exception=True)
    values: dict[str, Any] = dict(data.validated_data)
    if partial:
        for name in (
            "name",
            "base_url",
            "model",
            "parameters",
            "timeout_seconds",
            "concurrency",
            "rate_limit_per_minute",
        ):
            if name not in request.data:
                values[name] = getattr(current, name)
    return services.EndpointInput(
        name=values["name"],
        base_url=values["base_url"],
        model=values["model"],
        parameters=values.get("parameters") or {},
        timeout_seconds=values.get("timeout_seconds", 60),
        concurrency=values.get("concurrency", 8),
        rate_limit_per_minute=values.get("rate_limit_per_minute", 0),
        secret=values.get("secret"),
    )


class EndpointListView(WorkspaceAPIMixin, APIView):
    read_permission = services.MANAGE_PERMISSION
    write_permission = services.MANAGE_PERMISSION
    pagination_class = DefaultPagination

    @extend_schema(responses=EndpointOutput(many=True), summary="The workspace's model endpoints")
    def get(self, request: Request, workspace: str) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            services.endpoints_in_workspace(self.workspace), request, view=self
        )
        return paginator.get_paginated_response(EndpointOutput(page, many=True).data)

    @extend_schema(
        request=EndpointInput,
        responses={201: EndpointOutput},
        summary="Add a model endpoint (the URL is checked against the SSRF guard)",
    )
    def post(self, request: Request, workspace: str) -> Response:
        endpoint = services.endpoint_create(
            workspace=self.workspace, actor=request.user, data=_input(request)
        )
        return Response(EndpointOutput(endpoint).data, status.HTTP_201_CREATED)


class EndpointDetailView(WorkspaceAPIMixin, APIView):
    read_permission = services.MANAGE_PERMISSION
    write_permission = services.MANAGE_PERMISSION

    @extend_schema(responses=EndpointOutput, summary="A model endpoint (secret masked)")
    def get(self, request: Request, workspace: str, endpoint_id: int) -> Response:
        endpoint = services.endpoint_in_workspace(self.workspace, endpoint_id)
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(request=EndpointInput, responses=EndpointOutput, summary="Replace an endpoint")
    def put(self, request: Request, workspace: str, endpoint_id: int) -> Response:
        endpoint = services.endpoint_in_workspace(self.workspace, endpoint_id)
        endpoint = services.endpoint_update(
            endpoint=endpoint, actor=request.user, data=_input(request, endpoint)
        )
        return Response(EndpointOutput(endpoint).data)

    @extend_schema(request=EndpointInput, responses=EndpointOutput, summary="Change an endpoint")
    def patch(self, request: Request, workspace: str, endpoint_id: int) -> Response:
        return self.put(request, workspace, endpoint_id)

    @extend_schema(responses={204: None}, summary="Remove an endpoint")
    def delete(self, request: Request, workspace: str, endpoint_id: int) -> Response:
        endpoint = services.endpoint_in_workspace(self.workspace, endpoint_id)
        services.endpoint_delete(endpoint=endpoint, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
