"""HTML views for model endpoints: list, add, change, remove (admins only).

Access: ``workspace_member(permission="endpoints.manage")`` resolves the workspace (404 for
non-members, 403 below admin); an endpoint is found inside the member's workspace only (404
otherwise). The services check the right again. The secret is write-only: the form's secret
field starts empty, and leaving it empty keeps the stored one.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clausebook.access import workspace_member
from clausebook.secrets import mask
from reviews.models import ModelEndpoint
from reviews.services import endpoints as services


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=services.NAME_MAX)
    base_url = forms.CharField(
        max_length=services.URL_MAX,
        label="Base URL",
        help_text="The OpenAI-compatible API root, e.g. https://api.example.com/v1.",
    )
    model = forms.CharField(max_length=services.MODEL_MAX)
    parameters = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Default parameters as a JSON object, e.g. {"temperature": 0.7}.',
    )
    timeout_seconds = forms.IntegerField(
        min_value=services.TIMEOUT_RANGE[0], max_value=services.TIMEOUT_RANGE[1], initial=60
    )
    concurrency = forms.IntegerField(
        min_value=services.CONCURRENCY_RANGE[0],
        max_value=services.CONCURRENCY_RANGE[1],
        initial=8,
        help_text="Calls in flight at once, across all workers.",
    )
    rate_limit_per_minute = forms.IntegerField(
        min_value=0,
        max_value=services.RATE_LIMIT_MAX,
        initial=0,
        help_text="Calls started per minute; 0 for no limit.",
    )
    secret = forms.CharField(
        required=False,
        max_length=services.SECRET_MAX,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only. Leave empty to keep the stored secret.",
    )
    clear_secret = forms.BooleanField(required=False, label="Remove the stored secret")

    def clean_parameters(self) -> dict[str, Any]:
        raw = (self.cleaned_data.get("parameters") or "").strip()
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ValidationError(f"Not JSON: {exc.args[0][:120]}") from None
        if not isinstance(value, dict):
            raise ValidationError("Parameters are a JSON object.")
        return value

    def to_input(self) -> services.EndpointInput:
        data = self.cleaned_data
        secret: str | None = data.get("secret") or None
        if data.get("clear_secret"):
            secret = ""
        return services.EndpointInput(
            name=data["name"],
            base_url=data["base_url"],
            model=data["model"],
            parameters=data["parameters"],
            timeout_seconds=data["timeout_seconds"],
            concurrency=data["concurrency"],
            rate_limit_per_minute=data["rate_limit_per_minute"],
            secret=secret,
        )

    def add_service_errors(self, error: ValidationError) -> None:
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, problems in error.message_dict.items():
            self.add_error(field if field in self.fields else None, problems)


def _initial(endpoint: ModelEndpoint) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "base_url": endpoint.base_url,
        "model": endpoint.model,
        "parameters": json.dumps(endpoint.parameters) if endpoint.parameters else "",
        "timeout_seconds": endpoint.timeout_seconds,
        "concurrency": endpoint.concurrency,
        "rate_limit_per_minute": endpoint.rate_limit_per_minute,
    }


@require_safe
@workspace_member(permission=services.MANAGE_PERMISSION)
def endpoint_list(request: HttpRequest) -> HttpResponse:
    endpoints = services.endpoints_in_workspace(request.workspace)  # type: ignore[attr-defined]
    rows = [
        {"endpoint": endpoint, "secret": mask(endpoint.secret_encrypted)} for endpoint in endpoints
    ]
    return render(request, "reviews/endpoints/list.html", {"rows": rows})


@require_http_methods(["GET", "HEAD", "POST"])
@workspace_member(permission=services.MANAGE_PERMISSION)
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.endpoint_create(
                workspace=request.workspace,  # type: ignore[attr-defined]
                actor=request.user,  # type: ignore[arg-type]
                data=form.to_input(),
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"Added the endpoint {endpoint.name}.")
            return redirect("reviews:endpoint-list", request.workspace.slug)  # type: ignore[attr-defined]
    status = 400 if request.method == "POST" else 200
    return render(
        request, "reviews/endpoints/form.html", {"form": form, "endpoint": None}, status=status
    )


@require_http_methods(["GET", "HEAD", "POST"])
@workspace_member(permission=services.MANAGE_PERMISSION)
def endpoint_update(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = services.endpoint_in_workspace(request.workspace, endpoint_id)  # type: ignore[attr-defined]
    form = EndpointForm(request.POST or None, initial=_initial(endpoint))
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                endpoint=endpoint,
                actor=request.user,  # type: ignore[arg-type]
                data=form.to_input(),
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"Saved the endpoint {endpoint.name}.")
            return redirect("reviews:endpoint-list", request.workspace.slug)  # type: ignore[attr-defined]
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "endpoint": endpoint, "secret": mask(endpoint.secret_encrypted)}
    return render(request, "reviews/endpoints/form.html", context, status=status)


@require_POST
@workspace_member(permission=services.MANAGE_PERMISSION)
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = services.endpoint_in_workspace(request.workspace, endpoint_id)  # type: ignore[attr-defined]
    name = endpoint.name
    try:
        services.endpoint_delete(endpoint=endpoint, actor=request.user)  # type: ignore[arg-type]
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Removed the endpoint {name}.")
    return redirect("reviews:endpoint-list", request.workspace.slug)  # type: ignore[attr-defined]
