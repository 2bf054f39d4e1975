"""Composed reads for the reviews app; the submodules hold the details."""

from __future__ import annotations

from typing import Any

from clausebook.models import User, Workspace
from reviews.models import Assignment, Campaign
from transcripts.models import Transcript


def dashboard_summary(workspace: Workspace, user: User) -> dict[str, Any]:
    return {
        "transcripts": Transcript.objects.filter(workspace=workspace).count(),
        "campaigns": list(
            Campaign.objects.filter(workspace=workspace, status=Campaign.Status.ACTIVE)[:10]
        ),
        "my_open": Assignment.objects.filter(
            reviewer=user, item__campaign__workspace=workspace, status=Assignment.Status.ACTIVE
        ).count(),
    }
