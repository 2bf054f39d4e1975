"""Object-level access for specs: the spec, version or clause a request names, in its workspace.

``clausebook.access`` resolves the workspace and checks the member's role first (a stranger gets
404, a role too low 403); these helpers then find the object *inside that workspace*, so an id
or slug from another workspace is a 404 like one that does not exist. Pages, the API and the
commands call them first; selectors and services take the objects they return.
"""

from __future__ import annotations

from django.http import Http404

from clausebook import permissions
from clausebook.models import Membership, Workspace
from specs.models import Clause, Spec, SpecVersion


def can_edit(membership: Membership) -> bool:
    """Whether the member may create specs, import drafts and decide renames."""
    return permissions.can(membership, "specs.import")


def spec_for(workspace: Workspace, slug: str) -> Spec:
    """The workspace's spec with this slug, or 404."""
    spec = Spec.objects.filter(workspace=workspace, slug=slug).first()
    if spec is None:
        raise Http404("No such spec")
    return spec


def version_for(workspace: Workspace, spec_slug: str, label: str) -> SpecVersion:
    """The version (with its spec) by spec slug and label inside the workspace, or 404."""
    version = (
        SpecVersion.objects.select_related("spec")
        .filter(spec__workspace=workspace, spec__slug=spec_slug, label=label)
        .first()
    )
    if version is None:
        raise Http404("No such spec version")
    return version


def clause_for(version: SpecVersion, key: str) -> Clause:
    """The clause with this key in a version already resolved by ``version_for``, or 404.

    Its parent comes in the same query (the API shows its key)."""
    clause = Clause.objects.filter(version=version, key=key).select_related("parent").first()
    if clause is None:
        raise Http404("No such clause in this version")
    clause.version = version  # templates and __str__ read it: no second query
    return clause
