from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from clausebook.access import workspaces_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The workspace switcher's list and the current workspace, for the base layout."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_workspaces": workspaces_for(user),
        "current_workspace": getattr(request, "workspace", None),
        "current_membership": getattr(request, "membership", None),
    }
