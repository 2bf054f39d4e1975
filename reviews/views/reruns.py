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
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from clausebook.access import workspace_member
from clausebook.models import Membership, Workspace
from clausebook.queueing import QueueUnavailable
from reviews.charts import SplitRow, split_bars
from reviews.models import Campaign, ModelEndpoint
from reviews.selectors import reruns as selectors
from reviews.services import reruns as services
from specs.models import SpecVersion
from transcripts.models import Scenario, ScenarioFlag, TranscriptImport
from transcripts.services import spec_scenarios

PERMISSION = services.RUN_PERMISSION
#: Flags named per scenario in the form's picker, and how much of each reason.
FLAGS_SHOWN = 3
FLAG_REASON_SHOWN = 120


class FlaggedScenarioField(forms.ModelMultipleChoiceField):
    """Each choice says what the scenario is and who flagged it, about which clause, and why."""

    def label_from_instance(self, obj: Scenario) -> str:  # type: ignore[override]
        flags = list(obj.flags.all())
        about = "; ".join(
            f"{flag.flagged_by.short_name}"
            + (f" on clause {flag.clause.key}" if flag.clause_id else "")
            + f": {flag.reason[:FLAG_REASON_SHOWN]}"
            for flag in flags[:FLAGS_SHOWN]
        )
        more = f" (+{len(flags) - FLAGS_SHOWN} more)" if len(flags) > FLAGS_SHOWN else ""
        return f"#{obj.pk} {obj.title[:80] or '(untitled)'} — flagged by {about}{more}"


class ImportChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: TranscriptImport) -> str:  # type: ignore[override]
        name = obj.filename or obj.source or "import"
        return f"#{obj.pk} {name} ({obj.scenario_count} prompts)"


class SpecVersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: SpecVersion) -> str:  # type: ignore[override]
        return (
            f"{obj.spec.title} {obj.label} ({obj.eval_prompt_count} eval prompts, "
            f"{obj.example_count} examples)"
        )


class RerunForm(forms.Form):
    scenarios = FlaggedScenarioField(
        queryset=Scenario.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Flagged scenarios",
        help_text="Scenarios reviewers flagged for a re-run, with who flagged them and why.",
    )
    import_run = ImportChoiceField(
        queryset=TranscriptImport.objects.none(),
        required=False,
        empty_label="None",
        label="Every prompt of an imported set",
        help_text="E.g. MT-Bench or SimpleSafetyTests, imported on the transcripts page.",
    )
    spec_version = SpecVersionChoiceField(
        queryset=SpecVersion.objects.none(),
        required=False,
        empty_label="None",
        label="Every prompt a spec version cites",
        help_text="Its eval prompts and its examples' prompts (each made a scenario once).",
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
        open_flags = ScenarioFlag.objects.filter(resolved_at__isnull=True).select_related(
            "flagged_by", "clause"
        )
        # From the flags' side: "flags__resolved_at__isnull=True" on scenarios would also match
        # every scenario never flagged (the outer join's empty row).
        flagged = ScenarioFlag.objects.filter(
            scenario__workspace=workspace, resolved_at__isnull=True
        ).values("scenario_id")
        self.fields["scenarios"].queryset = (  # type: ignore[attr-defined]
            Scenario.objects.filter(workspace=workspace, pk__in=flagged)
            .order_by("-pk")
            .prefetch_related(Prefetch("flags", queryset=open_flags.order_by("pk")))
        )
        self.fields["import_run"].queryset = TranscriptImport.objects.filter(  # type: ignore[attr-defined]
            workspace=workspace, scenario_count__gt=0
        ).order_by("-pk")
        self.fields["spec_version"].queryset = (  # type: ignore[attr-defined]
            SpecVersion.objects.filter(spec__workspace=workspace)
            .published()
            .select_related("spec")
            .order_by("spec__title", "-published_at")
        )
        self.fields["endpoints"].queryset = ModelEndpoint.objects.filter(  # type: ignore[attr-defined]
            workspace=workspace
        ).order_by("name")
        self.fields["campaign"].queryset = Campaign.objects.filter(  # type: ignore[attr-defined]
            workspace=workspace,
            status__in=[Campaign.Status.DRAFT, Campaign.Status.OPEN, Campaign.Status.PAUSED],
        ).order_by("-pk")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not (data.get("scenarios") or data.get("import_run") or data.get("spec_version")):
            self.add_error(
                "scenarios",
                "Choose flagged scenarios, an imported prompt set or a spec version's prompts.",
            )
        return data

    def scenario_ids(self, membership: Membership) -> list[int]:
        """The chosen scenarios: flagged ones, an import's, and a spec version's (made now)."""
        data = self.cleaned_data
        ids = [s.pk for s in data.get("scenarios") or []]
        if data.get("import_run"):
            ids += Scenario.objects.filter(
                workspace_id=membership.workspace_id, import_run=data["import_run"]
            ).values_list("pk", flat=True)
        if data.get("spec_version"):
            made = spec_scenarios.scenarios_from_spec_version(
                membership=membership, version=data["spec_version"]
            )
            ids += made.scenario_ids
        return list(dict.fromkeys(ids))

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
                scenario_ids=form.scenario_ids(request.membership),  # type: ignore[attr-defined]
                endpoint_ids=[e.pk for e in data["endpoints"]],
                samples=data["samples"],
                parameters={} if temperature is None else {"temperature": temperature},
                campaign_id=data["campaign"].pk if data.get("campaign") else None,
            )
        except ValidationError as error:
            form.add_service_errors(error)
        except QueueUnavailable as error:
            # The job was kept, failed, saying why (see the service); nothing runs.
            form.add_error(None, str(error.detail))
            return render(request, "reviews/reruns/form.html", {"form": form}, status=503)
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
    before = forms.IntegerField(min_value=1, error_messages={"required": "Choose a job."})
    after = forms.IntegerField(min_value=1, error_messages={"required": "Choose a job."})

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("before") is not None and data.get("before") == data.get("after"):
            self.add_error("after", "Choose a different job from the one before.")
        return data


def compare_chart(comparison: selectors.JobComparison) -> str:
    """Each clause's verdict split, the earlier job's bar above the later one's (safe SVG)."""
    rows = []
    for clause in comparison.clauses:
        rows.append(SplitRow(f"{clause.clause_key} #{comparison.before.pk}", clause.before))
        rows.append(SplitRow(f"{clause.clause_key} #{comparison.after.pk}", clause.after))
    return split_bars(
        rows,
        comparison.verdicts,
        title=f"Verdicts per clause, job #{comparison.before.pk} against #{comparison.after.pk}",
    )


@require_safe
@workspace_member(permission=PERMISSION)
def rerun_compare(request: HttpRequest) -> HttpResponse:
    workspace = request.workspace  # type: ignore[attr-defined]
    form = CompareForm(request.GET or None)
    comparison = None
    chart = ""
    if form.is_valid():
        comparison = selectors.rerun_jobs_compare(
            before=selectors.rerun_job_in_workspace(workspace, form.cleaned_data["before"]),
            after=selectors.rerun_job_in_workspace(workspace, form.cleaned_data["after"]),
        )
        if comparison.clauses:
            chart = mark_safe(compare_chart(comparison))  # noqa: S308 - charts escape their text
    status = 400 if request.GET and not form.is_valid() else 200
    context = {
        "form": form,
        "comparison": comparison,
        "chart": chart,
        "jobs": selectors.rerun_jobs_in_workspace(workspace),
    }
    return render(request, "reviews/reruns/compare.html", context, status=status)
