"""HTML views for transcripts, imports and scenarios. Thin: access, form, one service or selector,
render.

Access: reviewers and above read transcripts and imports, every member reads scenarios; editors
and above import and retry imports. Non-members get 404 and lower roles 403
(``workspace_member``); every object comes through :mod:`transcripts.access`, which the API uses
too.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from clausebook.access import workspace_member
from transcripts import access, presenters, selectors, services
from transcripts.forms import TranscriptImportForm
from transcripts.models import Scenario

PAGE_SIZE = 50


@workspace_member(access.READ_ROLE)
def transcript_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.TranscriptFilters.from_params(request.GET)
    transcripts = access.transcripts_for_user(request.membership, filters)
    page = Paginator(transcripts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "sources": selectors.transcript_sources(request.workspace),
        "can_import": access.can_import(request.membership),
    }
    return render(request, "transcripts/list.html", context)


@workspace_member(access.READ_ROLE)
def transcript_detail(request: HttpRequest, transcript_id: int) -> HttpResponse:
    transcript = access.transcript_for_user(request.membership, transcript_id)
    siblings = selectors.transcript_pair_siblings(transcript)
    return render(
        request, "transcripts/detail.html", presenters.transcript_detail(transcript, siblings)
    )


@workspace_member(access.READ_ROLE)
def import_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(access.imports_for_user(request.membership), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "can_import": access.can_import(request.membership)}
    return render(request, "transcripts/import_list.html", context)


@workspace_member(access.IMPORT_ROLE)
@require_http_methods(["GET", "POST"])
def import_create(request: HttpRequest) -> HttpResponse:
    form = TranscriptImportForm(
        request.POST or None, request.FILES or None, max_bytes=services.max_upload_bytes()
    )
    if request.method == "POST" and form.is_valid():
        try:
            run, _ = services.transcript_import_create(
                workspace=request.workspace,
                actor=request.user,
                upload=form.cleaned_data["file"],
                filename=form.cleaned_data["file"].name,
                format=form.cleaned_data["format"],
                source=form.cleaned_data["source"],
                tags=form.cleaned_data["tags"],
                id_prefix=form.cleaned_data["id_prefix"],
                mode=form.mode,
            )
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, "Upload received; the import runs in the background.")
            return redirect(
                "transcripts:import-detail", workspace=request.workspace.slug, import_id=run.pk
            )
    return render(request, "transcripts/import_form.html", {"form": form})


@workspace_member(access.READ_ROLE)
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    run = access.import_for_user(request.membership, import_id)
    template = "transcripts/import_detail.html"
    if request.htmx:
        # The progress region polls itself; it is rendered alone (authorized above, like the page).
        template += "#progress"
    context = presenters.import_detail(run, can_import=access.can_import(request.membership))
    return render(request, template, context)


@workspace_member(access.IMPORT_ROLE)
@require_POST
def import_retry(request: HttpRequest, import_id: int) -> HttpResponse:
    run = access.import_for_user(request.membership, import_id)
    try:
        services.transcript_import_retry(
            import_run=run, actor=request.user, mode=request.POST.get("mode", "")
        )
    except ValidationError as error:
        return HttpResponseBadRequest("; ".join(error.messages))
    except services.ImportNotRetryable as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Import queued again from the kept upload.")
    return redirect("transcripts:import-detail", workspace=request.workspace.slug, import_id=run.pk)


@workspace_member(access.SCENARIO_READ_ROLE)
def scenario_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.ScenarioFilters.from_params(request.GET)
    scenarios = access.scenarios_for_user(request.membership, filters)
    page = Paginator(scenarios, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filters": filters, "sources": Scenario.Source.choices}
    return render(request, "transcripts/scenario_list.html", context)


@workspace_member(access.SCENARIO_READ_ROLE)
def scenario_detail(request: HttpRequest, scenario_id: int) -> HttpResponse:
    scenario = access.scenario_for_user(request.membership, scenario_id)
    context = presenters.scenario_detail(
        scenario,
        selectors.scenario_reruns(scenario),
        selectors.scenario_flags(scenario),
        can_read_transcripts=access.can_read_transcripts(request.membership),
    )
    return render(request, "transcripts/scenario_detail.html", context)
