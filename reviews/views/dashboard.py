"""The workspace dashboard: specs, review figures and recent activity.

It lives here, at the top of the one-way dependency chain (``clausebook`` ← ``specs`` ←
``transcripts`` ← ``reviews``), because it shows something of every app; the platform stays free
of imports from the apps above it. The route keeps its platform name, ``workspace-dashboard``.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clausebook import selectors as platform_selectors
from clausebook.access import workspace_member
from reviews import campaign_presenters
from reviews.selectors import dashboard as selectors


@workspace_member()
def dashboard(request: HttpRequest) -> HttpResponse:
    events = platform_selectors.recent_activity(request.workspace)
    context = {
        "specs": selectors.dashboard_specs(request.workspace),
        "review": selectors.dashboard_summary(request.workspace, request.user),
        "activity": campaign_presenters.activity_rows(events),
    }
    return render(request, "reviews/dashboard.html", context)
