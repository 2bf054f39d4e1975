"""HTML views for specs: browse versions and clauses, search, diff, import, publish, export."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clausebook.access import require_role, workspace_member
from clausebook.models import Role
from specs import presenters, selectors, services
from specs.forms import AliasDecisionForm, SpecForm, VersionImportForm
from specs.spec_markdown import SpecSyntaxError


@workspace_member()
@require_http_methods(["GET", "POST"])
def spec_list(request: HttpRequest) -> HttpResponse:
    """Specs of the workspace; editors create one here (POST)."""
    can_edit = request.membership.role >= Role.EDITOR
    form = SpecForm(request.POST or None)
    if request.method == "POST":
        require_role(request.membership, Role.EDITOR)
        if form.is_valid():
            try:
                spec = services.spec_create(
                    workspace=request.workspace, actor=request.user, **form.cleaned_data
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"Spec “{spec.title}” created. Import a version next.")
                return redirect("specs:version-import", request.workspace.slug, spec.slug)
    specs = selectors.specs_with_latest(request.workspace)
    context = {"specs": specs, "form": form, "can_edit": can_edit}
    return render(request, "specs/spec_list.html", context)


@workspace_member()
@require_GET
def spec_detail(request: HttpRequest, spec: str) -> HttpResponse:
    """The versions of a spec, with import, diff and search entry points."""
    spec_obj = selectors.spec_get(request.workspace, spec)
    versions = selectors.versions_of(spec_obj)
    context = {
        "spec": spec_obj,
        "versions": versions,
        "can_edit": request.membership.role >= Role.EDITOR,
    }
    return render(request, "specs/spec_detail.html", context)


@workspace_member(Role.EDITOR)
@require_http_methods(["GET", "POST"])
def version_import(request: HttpRequest, spec: str) -> HttpResponse:
    """Upload or paste Markdown; a syntax error is shown with its line and nothing is stored."""
    spec_obj = selectors.spec_get(request.workspace, spec)
    form = VersionImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = services.spec_version_import(
                spec=spec_obj,
                label=data["label"],
                markdown=data["markdown"],
                filename=data["filename"],
                actor=request.user,
            )
        except SpecSyntaxError as error:
            form.add_error(None, f"Nothing was imported. Line {error.line}: {error.message}")
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"Imported {version.clause_count} clauses and {version.example_count} examples "
                f"as a draft. Review it, then publish.",
            )
            return redirect("specs:version-detail", request.workspace.slug, spec, version.label)
    return render(request, "specs/version_import.html", {"spec": spec_obj, "form": form})


@workspace_member()
@require_GET
def version_detail(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """A version's overview: table of contents, preamble, counts, warnings, publish/export."""
    version = selectors.version_get(request.workspace, spec, label)
    prefix = presenters.clause_url_prefix(request.workspace.slug, version)
    toc = presenters.toc_items(selectors.version_toc(version), prefix)
    context = {
        "version": version,
        "spec": version.spec,
        "versions": selectors.versions_of(version.spec),
        "toc": toc,
        "toc_html": presenters.toc_html(toc),
        "preamble": presenters.preamble_html(version),
        "can_edit": request.membership.role >= Role.EDITOR,
    }
    return render(request, "specs/version_detail.html", context)


@workspace_member(Role.EDITOR)
@require_POST
def version_publish(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    version = selectors.version_get(request.workspace, spec, label)
    try:
        services.spec_version_publish(version=version, actor=request.user)
    except services.VersionNotDraft as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Version {label} is published. It can no longer change.")
    return redirect("specs:version-detail", request.workspace.slug, spec, label)


@workspace_member()
@require_GET
def version_export(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """The version as Markdown, always as a download (never rendered on our origin)."""
    version = selectors.version_get(request.workspace, spec, label)
    response = HttpResponse(
        selectors.version_export(version), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = content_disposition_header(
        True, presenters.export_filename(version)
    )
    return response


@workspace_member()
@require_GET
def clause_detail(request: HttpRequest, spec: str, label: str, key: str) -> HttpResponse:
    """A clause's permalink: rendered text, commentary, examples, eval prompts and history."""
    version = selectors.version_get(request.workspace, spec, label)
    page = selectors.clause_page(version, key)
    context = presenters.clause_context(page, request.workspace.slug)
    return render(request, "specs/clause_detail.html", context)


@workspace_member()
@require_GET
def version_search(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """Ranked full-text search in this version (or every version with ``all=1``)."""
    version = selectors.version_get(request.workspace, spec, label)
    query = request.GET.get("q", "")[:200]
    every_version = request.GET.get("all") == "1"
    hits = selectors.search(
        version.spec, query, version=None if every_version else version, limit=40
    )
    context = {
        "version": version,
        "spec": version.spec,
        "query": query,
        "every_version": every_version,
        "hits": hits,
    }
    template = "specs/version_search.html"
    return render(request, f"{template}#results" if request.htmx else template, context)


@workspace_member()
@require_GET
def version_diff(request: HttpRequest, spec: str) -> HttpResponse:
    """What changed between two versions (``?from=<label>&to=<label>``; default: the newest two)."""
    spec_obj = selectors.spec_get(request.workspace, spec)
    versions = selectors.versions_of(spec_obj)
    old, new = presenters.diff_pair(versions, request.GET.get("from"), request.GET.get("to"))
    diff = selectors.version_diff(old, new) if old and new else None
    context = {
        "spec": spec_obj,
        "versions": versions,
        "old": old,
        "new": new,
        "diff": presenters.diff_context(diff) if diff else None,
        "can_edit": request.membership.role >= Role.EDITOR,
    }
    return render(request, "specs/version_diff.html", context)


@workspace_member(Role.EDITOR)
@require_POST
def alias_decide(request: HttpRequest, spec: str) -> HttpResponse:
    """Confirm or reject a probable rename; htmx swaps the row, others go back to the diff."""
    spec_obj = selectors.spec_get(request.workspace, spec)
    form = AliasDecisionForm(request.POST)
    error = ""
    alias = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            alias = services.clause_alias_decide(
                spec=spec_obj,
                old_key=data["old_key"],
                new_key=data["new_key"],
                confirm=data["decision"] == "confirm",
                similarity=data["similarity"] or 0.0,
                actor=request.user,
            )
        except ValidationError as failure:
            error = " ".join(failure.messages)
    else:
        error = "Invalid decision."
    if request.htmx:
        context = {"alias": alias, "error": error, "form": form}
        return render(request, "specs/version_diff.html#decision", context)
    (messages.error if error else messages.success)(request, error or "Decision saved.")
    back = reverse("specs:version-diff", args=[request.workspace.slug, spec])
    return redirect(f"{back}?{request.GET.urlencode()}" if request.GET else back)
