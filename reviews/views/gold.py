"""HTML views for gold: the searchable gold list, and exports (start, list, progress, download).

Access: ``workspace_member`` resolves the workspace (404 for non-members) and the right
(``gold.read`` for the list, ``gold.export`` for exports: 403 without it); an export is found
inside the member's workspace only (404 otherwise). Downloads need a signed, unexpired link.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from clausebook import permissions
from clausebook.access import workspace_member
from clausebook.models import Role
from reviews import access, presenters
from reviews.models import ExportFormat, GoldExport
from reviews.selectors import gold as selectors
from reviews.services import gold_export as services


def _after(request: HttpRequest) -> int | None:
    raw = request.GET.get("after", "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValidationError({"after": f"'{raw[:40]}' is not an id."})
    return int(raw)


def _errors_text(error: ValidationError) -> str:
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())


@require_safe
@workspace_member(permission="gold.read")
def gold_list(request: HttpRequest) -> HttpResponse:
    try:
        filters = selectors.GoldFilters.from_params(request.GET)
        after = _after(request)
    except ValidationError as error:
        return HttpResponseBadRequest(_errors_text(error))
    page = selectors.gold_page(selectors.gold_list(request.workspace, filters), after=after)
    context = {
        "page": page,
        "rows": presenters.decisions_in_words(page.rows),
        "filters": filters,
        "filter_query": filters.to_json(),
        "choices": selectors.gold_filter_choices(request.workspace),
        "formats": ExportFormat.choices,
        "can_export": permissions.can(request.membership, services.EXPORT_PERMISSION),
        "can_emails": request.membership.role >= Role.ADMIN,
    }
    return render(request, "reviews/gold/list.html", context)


@require_POST
@workspace_member(permission="gold.export")
def gold_export_create(request: HttpRequest) -> HttpResponse:
    try:
        filters = selectors.GoldFilters.from_params(request.POST)
        export = services.gold_export_create(
            workspace=request.workspace,
            actor=request.user,
            format=request.POST.get("format", ""),
            filters=filters,
            include_emails=request.POST.get("emails") == "on",
        )
    except ValidationError as error:
        return HttpResponseBadRequest(_errors_text(error))
    return redirect(
        "reviews:gold-export-detail", workspace=request.workspace.slug, export_id=export.pk
    )


@require_safe
@workspace_member(permission="gold.export")
def gold_export_list(request: HttpRequest) -> HttpResponse:
    try:
        after = _after(request)
    except ValidationError as error:
        return HttpResponseBadRequest(_errors_text(error))
    page = selectors.gold_export_page(request.workspace, after=after)
    for export in page.rows:
        export.workspace = request.workspace
    context = {
        "page": page,
        "rows": [(export, _download_url(request, export)) for export in page.rows],
        "link_minutes": services.link_max_age() // 60,
    }
    return render(request, "reviews/gold/export_list.html", context)


def _download_url(request: HttpRequest, export: GoldExport) -> str | None:
    """A freshly signed link while the export's file is kept, else None."""
    if not services.gold_export_file_kept(export):
        return None
    return (
        reverse("reviews:gold-export-download", args=[request.workspace.slug, export.pk])
        + "?token="
        + services.gold_export_link(export)
    )


@require_safe
@workspace_member(permission="gold.export")
def gold_export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    export = access.gold_export_of_member(request.membership, export_id)
    template = "reviews/gold/export_detail.html"
    if request.htmx:
        # The progress region polls itself; authorized above, like the page.
        template += "#progress"
    context = {
        "export": export,
        "download_url": _download_url(request, export),
        "link_minutes": services.link_max_age() // 60,
    }
    return render(request, template, context)


@require_safe
@workspace_member(permission="gold.export")
def gold_export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    try:
        export, path = services.gold_export_for_download(
            request.membership, export_id, request.GET.get("token", "")
        )
    except services.ExportLinkExpired:
        context = {"export_id": export_id, "link_minutes": services.link_max_age() // 60}
        return render(request, "reviews/gold/link_expired.html", context, status=410)
    return FileResponse(
        open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
        as_attachment=True,
        filename=services.download_filename(export),
        content_type=services.CONTENT_TYPES[export.format],
    )
