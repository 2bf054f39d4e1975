"""Composed reads over specs, versions and clauses."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from clausebook.models import Workspace
from specs.models import Spec, SpecVersion


def specs_in(workspace: Workspace) -> QuerySet[Spec]:
    return Spec.objects.filter(workspace=workspace).order_by("title")


def specs_with_latest(workspace: Workspace) -> list[Spec]:
    """Specs of a workspace with their versions, newest label first."""
    versions = SpecVersion.objects.order_by("-label")
    return list(specs_in(workspace).prefetch_related(Prefetch("versions", queryset=versions)))
