"""HTML views for specs: browse versions and clauses, search, diff, import, publish or discard a
draft (each behind a confirmation step), export."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clausebook import permissions
from clausebook.access import workspace_member
from specs import access, presenters, selectors, services
from specs.forms import AliasDecisionForm, ConfirmForm, SpecForm, VersionImportForm
from specs.models import Spec, SpecVersion, VersionStatus
from specs.spec_markdown import SpecSyntaxError


@workspace_member(permission="specs.read")
@require_http_methods(["GET", "POST"])
def spec_list(request: HttpRequest) -> HttpResponse:
    """Specs of the workspace; editors create one here (POST)."""
    can_edit = access.can_edit(request.membership)
    form = SpecForm(request.POST or None)
    if request.method == "POST":
        permissions.require(request.membership, "specs.import")
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


@workspace_member(permission="specs.read")
@require_GET
def spec_detail(request: HttpRequest, spec: str) -> HttpResponse:
    """The versions of a spec, with import, diff and search entry points."""
    spec_obj = access.spec_for(request.workspace, spec)
    versions = selectors.versions_of(spec_obj)
    context = {
        "spec": spec_obj,
        "versions": versions,
        "can_edit": access.can_edit(request.membership),
    }
    return render(request, "specs/spec_detail.html", context)


@workspace_member(permission="specs.import")
@require_http_methods(["GET", "POST"])
def version_import(request: HttpRequest, spec: str) -> HttpResponse:
    """Upload or paste Markdown; a syntax error is shown with its line and nothing is stored."""
    spec_obj = access.spec_for(request.workspace, spec)
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
    context = {"spec": spec_obj, "form": form, "authority_help": presenters.authority_help()}
    return render(request, "specs/version_import.html", context)


@workspace_member(permission="specs.read")
@require_GET
def version_detail(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """A version's overview: table of contents, preamble, counts, warnings, publish/export."""
    version = access.version_for(request.workspace, spec, label)
    prefix = presenters.clause_url_prefix(request.workspace.slug, version)
    # A draft is reviewed before it is published: its page lists every clause with what was
    # parsed into it (examples, eval prompts), from the same one query as the TOC.
    is_draft = version.status == VersionStatus.DRAFT
    toc = presenters.toc_items(selectors.version_toc(version, with_counts=is_draft), prefix)
    context = {
        "version": version,
        "spec": version.spec,
        "versions": selectors.versions_of(version.spec),
        "toc": toc,
        "toc_html": presenters.toc_html(toc),
        "preamble": presenters.preamble_html(version),
        "can_edit": access.can_edit(request.membership),
        "clause_tree": toc if is_draft else [],
    }
    return render(request, "specs/version_detail.html", context)


def _confirm_step(
    request: HttpRequest, version: SpecVersion, *, action: str, label: str
) -> tuple[ConfirmForm, HttpResponse | None]:
    """The confirmation form of an irreversible step, and the page to answer with unless the
    POST confirmed it (then None): GET shows the step, an unticked POST shows it again (400)."""
    form = ConfirmForm(request.POST if request.method == "POST" else None, label=label)
    if request.method == "POST" and form.is_valid():
        return form, None
    context = {"version": version, "spec": version.spec, "form": form, "action": action}
    status = 400 if request.method == "POST" else 200
    return form, render(request, "specs/version_confirm.html", context, status=status)


@workspace_member(permission="specs.publish")
@require_http_methods(["GET", "POST"])
def version_publish(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """GET: what publishing freezes, and a box to tick. POST (ticked): publish the draft."""
    version = access.version_for(request.workspace, spec, label)
    detail = reverse("specs:version-detail", args=[request.workspace.slug, spec, label])
    if version.status != VersionStatus.DRAFT:
        messages.error(
            request, f"Version {label} is already {version.get_status_display().lower()}."
        )
        return redirect(detail)
    _, page = _confirm_step(
        request,
        version,
        action="publish",
        label=f"I have checked version {label}: once published it can never change.",
    )
    if page is not None:
        return page
    try:
        services.spec_version_publish(version=version, actor=request.user)
    except services.VersionNotDraft as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Version {label} is published. It can no longer change.")
    return redirect(detail)


@workspace_member(permission="specs.import")
@require_http_methods(["GET", "POST"])
def version_discard(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """GET: what discarding a draft deletes, and a box to tick. POST (ticked): delete it.
    Published versions stay: this page refuses them, and so do the service and the database."""
    version = access.version_for(request.workspace, spec, label)
    detail = reverse("specs:version-detail", args=[request.workspace.slug, spec, label])
    if version.status != VersionStatus.DRAFT:
        messages.error(
            request,
            f"Version {label} is {version.get_status_display().lower()} and cannot be "
            "discarded: published versions are kept for good.",
        )
        return redirect(detail)
    _, page = _confirm_step(
        request,
        version,
        action="discard",
        label=f"Delete draft {label} and everything imported into it.",
    )
    if page is not None:
        return page
    try:
        services.spec_version_discard(version=version, actor=request.user)
    except ValidationError as error:  # not a draft any more, or in use
        messages.error(request, " ".join(error.messages))
        return redirect(detail)
    messages.success(request, f"Draft {label} was discarded.")
    return redirect("specs:spec-detail", request.workspace.slug, spec)


@workspace_member(permission="specs.read")
@require_GET
def version_export(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """The version as Markdown, always as a download (never rendered on our origin)."""
    version = access.version_for(request.workspace, spec, label)
    return presenters.markdown_download(version, selectors.version_export(version))


@workspace_member(permission="specs.read")
@require_GET
def clause_detail(request: HttpRequest, spec: str, label: str, key: str) -> HttpResponse:
    """A clause's permalink: rendered text, commentary, examples, eval prompts and history."""
    clause = access.clause_for(access.version_for(request.workspace, spec, label), key)
    context = presenters.clause_context(selectors.clause_page(clause), request.workspace.slug)
    return render(request, "specs/clause_detail.html", context)


@workspace_member(permission="specs.read")
@require_GET
def version_search(request: HttpRequest, spec: str, label: str) -> HttpResponse:
    """Ranked full-text search in this version (or every version with ``all=1``)."""
    version = access.version_for(request.workspace, spec, label)
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
        "hits": presenters.search_results(hits, request.workspace.slug, version.spec.slug),
    }
    template = "specs/version_search.html"
    return render(request, f"{template}#results" if request.htmx else template, context)


def _diff_page(
    request: HttpRequest, spec: Spec, old_label: str | None, new_label: str | None, kind: str
) -> dict[str, Any]:
    """What the diff page and a rename decision's htmx answer both show."""
    versions = selectors.versions_of(spec)
    old, new = presenters.diff_pair(versions, old_label, new_label)
    diff = selectors.version_diff(old, new) if old and new else None
    return {
        "spec": spec,
        "versions": versions,
        "old": old,
        "new": new,
        "diff": presenters.diff_context(
            diff, presenters.diff_kind(kind), old_label=old.label, new_label=new.label
        )
        if diff and old and new
        else None,
        "can_edit": access.can_edit(request.membership),
    }


@workspace_member(permission="specs.read")
@require_GET
def version_diff(request: HttpRequest, spec: str) -> HttpResponse:
    """What changed between two versions (``?from=<label>&to=<label>``; default: the newest
    two), optionally only one kind of change (``&kind=added|removed|changed|moved|renamed``)."""
    spec_obj = access.spec_for(request.workspace, spec)
    context = _diff_page(
        request,
        spec_obj,
        request.GET.get("from"),
        request.GET.get("to"),
        request.GET.get("kind", ""),
    )
    return render(request, "specs/version_diff.html", context)


@workspace_member(permission="specs.import")
@require_POST
def alias_decide(request: HttpRequest, spec: str) -> HttpResponse:
    """Confirm or reject a probable rename. htmx gets the decided row with what happened, and
    the summary, jump list and changes out of band (a confirmed rename turns a removed and an
    added clause into one renamed clause); without JavaScript, back to the diff with a message.
    """
    spec_obj = access.spec_for(request.workspace, spec)
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
        error = "Invalid decision: " + "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
        )
    pair = {name: form.data.get(name) or request.GET.get(name) or "" for name in ("from", "to")}
    kind = presenters.diff_kind(form.data.get("kind") or request.GET.get("kind"))
    if request.htmx:
        context = {
            **_diff_page(request, spec_obj, pair["from"] or None, pair["to"] or None, kind),
            "alias": alias,
            "error": error,
            "decided": form.cleaned_data if form.is_valid() else {},
            "oob": alias is not None,
        }
        # 200 even for a refused decision: htmx swaps nothing on a 4xx, and the row must say
        # why nothing happened.
        return render(request, "specs/version_diff.html#decision", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, presenters.alias_decision_message(alias))
    query = urlencode({name: value for name, value in {**pair, "kind": kind}.items() if value})
    back = reverse("specs:version-diff", args=[request.workspace.slug, spec])
    return redirect(f"{back}?{query}" if query else back)
