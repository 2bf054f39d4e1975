"""HTML views for re-run jobs: list, start (flagged scenarios × endpoints × samples), the job
page with its live progress, cancel, and the comparison of two jobs.

Access: ``workspace_member(permission="reruns.run")`` resolves the workspace (404 for
non-members, 403 below adjudicator); a job is found inside the member's workspace only (404
otherwise). The services check the right again.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clausebook.access import workspace_member
from clausebook.models import Workspace
from reviews.models import Campaign, ModelEndpoint
from reviews.selectors import reruns as selectors
from reviews.services import reruns as services
from transcripts.models import Scenario

PERMISSION = services.RUN_PERMISSION


class RerunForm(forms.Form):
    scenarios = forms.ModelMultipleChoiceField(
        queryset=Scenario.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Scenarios reviewers flagged for a re-run.",
    )
    endpoints = forms.ModelMultipleChoiceField(
        queryset=ModelEndpoint.objects.none(), widget=forms.CheckboxSelectMultiple
    )
    samples = forms.IntegerField(min_value=1, max_value=services.MAX_SAMPLES, initial=1)
    temperature = forms.FloatField(
        required=False,
        min_value=services.NUMBER_PARAMETERS["temperature"][0],
        max_value=services.NUMBER_PARAMETERS["temperature"][1],
        help_text="Leave empty for the endpoint's default.",
    )
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        required=False,
        empty_label="Don't add the results to a campaign",
        label="Add results to campaign",
    )

    def __init__(self, *args: object, workspace: Workspace, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["scenarios"].queryset = (  # type: ignore[attr-defined]
            Scenario.objects.filter(workspace=workspace, flags__resolved_at__isnull=True)
            .distinct()
            .order_by("-pk")
        )
        self.fields["endpoints"].queryset = ModelEndpoint.objects.filter(  # type: ignore[attr-defined]
            workspace=workspace
        ).order_by("name")
        self.fields["campaign"].queryset = Campaign.objects.filter(  # type: ignore[attr-defined]
            workspace=workspace,
            status__in=[Campaign.Status.DRAFT, Campaign.Status.OPEN, Campaign.Status.PAUSED],
        ).order_by("-pk")

    def add_service_errors(self, error: ValidationError) -> None:
        names = {
            "scenario_ids": "scenarios",
            "endpoint_ids": "endpoints",
            "campaign_id": "campaign",
        }
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for field, problems in error.message_dict.items():
            name = names.get(field, field)
            self.add_error(name if name in self.fields else None, problems)


@require_safe
@workspace_member(permission=PERMISSION)
def rerun_list(request: HttpRequest) -> HttpResponse:
    jobs = selectors.rerun_jobs_in_workspace(request.workspace)  # type: ignore[attr-defined]
    return render(request, "reviews/reruns/list.html", {"jobs": jobs})


@require_http_methods(["GET", "HEAD", "POST"])
@workspace_member(permission=PERMISSION)
def rerun_create(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = RerunForm(request.POST or None, workspace=workspace)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        temperature = data.get("temperature")
        try:
            job = services.rerun_job_create(
                workspace=workspace,
                actor=request.user,  # type: ignore[arg-type]
                scenario_ids=[s.pk for s in data["scenarios"]],
                endpoint_ids=[e.pk for e in data["endpoints"]],
                samples=data["samples"],
                parameters={} if temperature is None else {"temperature": temperature},
                campaign_id=data["campaign"].pk if data.get("campaign") else None,
            )
        except ValidationError as error:
            form.add_service_errors(error)
        else:
            messages.success(request, f"Queued re-run job #{job.pk}.")
            return redirect("reviews:rerun-detail", workspace.slug, job.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "reviews/reruns/form.html", {"form": form}, status=status)


@require_safe
@workspace_member(permission=PERMISSION)
def rerun_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.rerun_job_in_workspace(request.workspace, job_id)  # type: ignore[attr-defined]
    template = "reviews/reruns/detail.html"
    if request.htmx:  # type: ignore[attr-defined]
        # The progress region polls itself; authorized above, like the page.
        template += "#progress"
    return render(request, template, {"progress": selectors.rerun_job_progress(job=job)})


@require_POST
@workspace_member(permission=PERMISSION)
def rerun_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.rerun_job_in_workspace(request.workspace, job_id)  # type: ignore[attr-defined]
    if services.rerun_job_cancel(job=job, actor=request.user):  # type: ignore[arg-type]
        messages.success(request, f"Cancelled re-run job #{job.pk}; calls in flight finish.")
    else:
        messages.info(request, f"Re-run job #{job.pk} had already finished.")
    return redirect("reviews:rerun-detail", request.workspace.slug, job.pk)  # type: ignore[attr-defined]


class CompareForm(forms.Form):
    before = forms.IntegerField(min_value=1)
    after = forms.IntegerField(min_value=1)


@require_safe
@workspace_member(permission=PERMISSION)
def rerun_compare(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = CompareForm(request.GET or None)
    comparison = None
    if form.is_valid():
        comparison = selectors.rerun_jobs_compare(
            before=selectors.rerun_job_in_workspace(workspace, form.cleaned_data["before"]),
            after=selectors.rerun_job_in_workspace(workspace, form.cleaned_data["after"]),
        )
    status = 400 if request.GET and not form.is_valid() else 200
    context = {
        "form": form,
        "comparison": comparison,
        "jobs": selectors.rerun_jobs_in_workspace(workspace),
    }
    return render(request, "reviews/reruns/compare.html", context, status=status)
