from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from clausebook import permissions
from clausebook.access import workspaces_for


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The workspace switcher's list, the current workspace, and what the member may do there.

    ``can`` is the member's rights from ``clausebook.permissions`` as nested dicts
    (``{% if can.queue.view %}``), so the navigation offers only pages that will answer.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "nav_workspaces": workspaces_for(user),
        "current_workspace": getattr(request, "workspace", None),
        "current_membership": membership,
        "can": permissions.template_rights(membership),
    }
