"""HTML views for transcripts and imports. Thin: access, form, one service or selector, render.

Access: reviewers and above read transcripts and imports; editors and above import. Non-members
get 404 and lower roles 403, from ``workspace_member``; every object comes from a selector built
from the workspace.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from clausebook.access import workspace_member
from clausebook.models import Role
from transcripts import selectors, services
from transcripts.forms import TranscriptImportForm

PAGE_SIZE = 50
FOLD_CHARS = 2000


def _pretty(value: Any) -> str:
    """Metadata and tool arguments for display (escaped by the template): JSON, indented."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        if isinstance(value, str):
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def _metadata_rows(metadata: Any) -> list[tuple[str, str]]:
    if not isinstance(metadata, dict):
        return [("value", _pretty(metadata))] if metadata else []
    return [(str(key), _pretty(value)) for key, value in sorted(metadata.items())]


def _conversation(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the template needs per message: long ones fold, tool calls become readable code."""
    rows = []
    for message in messages:
        content = str(message.get("content") or "")
        calls = [
            {
                "id": call.get("id", ""),
                "name": (call.get("function") or {}).get("name", ""),
                "arguments": _pretty((call.get("function") or {}).get("arguments", "")),
            }
            for call in message.get("tool_calls") or []
        ]
        rows.append(
            {
                "role": message.get("role", ""),
                "name": message.get("name", ""),
                "content": content,
                "long": len(content) > FOLD_CHARS,
                "tool_calls": calls,
                "tool_call_id": message.get("tool_call_id", ""),
            }
        )
    return rows


@workspace_member(Role.REVIEWER)
def transcript_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.TranscriptFilters.from_params(request.GET)
    page = Paginator(selectors.transcript_list(request.workspace, filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "filters": filters,
        "sources": selectors.transcript_sources(request.workspace),
        "can_import": request.membership.role >= Role.EDITOR,
    }
    return render(request, "transcripts/list.html", context)


@workspace_member(Role.REVIEWER)
def transcript_detail(request: HttpRequest, transcript_id: int) -> HttpResponse:
    transcript = selectors.transcript_get(request.workspace, transcript_id)
    context = {
        "transcript": transcript,
        "conversation": _conversation(transcript.messages),
        "metadata": _metadata_rows(transcript.metadata),
        "siblings": selectors.transcript_pair_siblings(transcript),
    }
    return render(request, "transcripts/detail.html", context)


@workspace_member(Role.REVIEWER)
def import_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.import_list(request.workspace), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "can_import": request.membership.role >= Role.EDITOR}
    return render(request, "transcripts/import_list.html", context)


@workspace_member(Role.EDITOR)
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
            form.add_error(None, error)
        else:
            messages.success(request, "Upload received; the import runs in the background.")
            return redirect(
                "transcripts:import-detail", workspace=request.workspace.slug, import_id=run.pk
            )
    return render(request, "transcripts/import_form.html", {"form": form})


@workspace_member(Role.REVIEWER)
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    run = selectors.import_get(request.workspace, import_id)
    template = "transcripts/import_detail.html"
    if request.htmx:
        # The progress region polls itself; it is rendered alone (authorized above, like the page).
        template += "#progress"
    return render(request, template, {"run": run})
