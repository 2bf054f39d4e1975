"""Error views for paths no URL pattern matched: JSON under ``/api/``, the site's page elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    # A script that mistypes an API path should get the API's error shape, not an HTML page.
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "No such API route."}, status=404)
    return page_not_found(request, exception)
