"""Object-level access for amendments: the amendment (or change) a request names, inside the
spec that ``specs.access.spec_for`` found in the request's workspace, or 404."""

from __future__ import annotations

from django.http import Http404

from specs.models import Amendment, AmendmentChange, Spec


def amendment_for(spec: Spec, amendment_id: int) -> Amendment:
    """The spec's amendment with this id (author, base version and spec joined), or 404."""
    amendment = (
        Amendment.objects.select_related("author", "base_version", "merged_into", "spec")
        .filter(spec=spec, pk=amendment_id)
        .first()
    )
    if amendment is None:
        raise Http404("No such amendment")
    amendment.spec = spec
    return amendment


def change_for(amendment: Amendment, change_id: int) -> AmendmentChange:
    """One change of an amendment already resolved by :func:`amendment_for`, or 404."""
    change = AmendmentChange.objects.filter(amendment=amendment, pk=change_id).first()
    if change is None:
        raise Http404("No such change in this amendment")
    change.amendment = amendment
    return change
