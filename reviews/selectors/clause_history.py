"""Reads for one clause across the versions of its spec: agreement per campaign, grouped by the
version labeled against, and the items whose clause changed since they were labeled.

A clause is followed across versions by key and the spec's confirmed renames (``ClauseAlias``),
the rule the version diff uses. "Changed" compares what a reviewer read: title, body, authority,
tags and examples; a clause missing from the newer version counts as changed (removed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from reviews.models import Campaign, CampaignClause, Label
from specs.models import Clause, Example, SpecVersion, VersionStatus
from specs.selectors import compose_aliases, confirmed_aliases


@dataclass(frozen=True)
class CampaignAgreement:
    campaign: Campaign
    clause_key: str
    alpha: float | None
    n_items: int
    n_labels: int


@dataclass
class VersionAgreement:
    version: SpecVersion
    campaigns: list[CampaignAgreement] = field(default_factory=list)


@dataclass(frozen=True)
class ChangedSince:
    """Items labeled against ``version``'s clause ``clause_key``, which changed (or was removed)
    in the newer version."""

    version: SpecVersion
    clause_key: str
    removed: bool
    transcript_ids: list[int]
    item_count: int


def _published(spec_id: int) -> list[SpecVersion]:
    return list(
        SpecVersion.objects.filter(spec_id=spec_id, status=VersionStatus.PUBLISHED)
        .select_related("spec")
        .order_by("published_at", "pk")
    )


def clause_keys_by_version(version: SpecVersion, key: str) -> dict[int, str]:
    """For each published version of ``version``'s spec (and ``version`` itself): the key the
    clause ``key`` of ``version`` had there, following confirmed renames in either direction.
    Versions without the clause are left out."""
    spec = version.spec
    aliases = confirmed_aliases(spec)
    versions = {v.pk: v for v in _published(spec.pk)}
    versions[version.pk] = version
    keys_in: dict[int, set[str]] = defaultdict(set)
    for version_id, clause_key in Clause.objects.filter(version_id__in=versions).values_list(
        "version_id", "key"
    ):
        keys_in[version_id].add(clause_key)
    here = keys_in[version.pk]
    found: dict[int, str] = {}
    for version_id, keys in keys_in.items():
        if key in keys:
            found[version_id] = key
            continue
        # An older key that leads here, or a newer key this one leads to.
        forward = compose_aliases(aliases, keys, here)
        older = next((old for old, new in forward.items() if new == key and old not in here), None)
        if older is not None:
            found[version_id] = older
            continue
        newer = compose_aliases(aliases, {key}, keys).get(key)
        if newer is not None:
            found[version_id] = newer
    return found


def _alpha(campaign: Campaign, clause_id: int) -> tuple[float | None, int, int]:
    by_item: dict[int, dict[int, str]] = defaultdict(dict)
    for item_id, reviewer_id, verdict in (
        Label.objects.counted()
        .filter(campaign=campaign, clause_id=clause_id)
        .values_list("item_id", "reviewer_id", "verdict")
    ):
        by_item[item_id][reviewer_id] = verdict
    reviewers = sorted({r for votes in by_item.values() for r in votes})
    table = [[votes.get(r) for r in reviewers] for votes in by_item.values()]
    scale = [entry["value"] for entry in campaign.verdict_scale]
    if not table:
        return None, 0, 0
    from reviews.metrics import encode, krippendorff_alpha  # numpy: only when there are labels

    matrix, _ = encode(table, scale)
    level = "ordinal" if campaign.verdict_scale_ordered else "nominal"
    estimate = krippendorff_alpha(matrix, level=level, n_categories=len(scale))
    return estimate.value, estimate.n_items, estimate.n_labels


def clause_agreement_history(version: SpecVersion, key: str) -> list[VersionAgreement]:
    """Agreement (Krippendorff's alpha on submitted human verdicts) on this clause in every
    campaign of the workspace that covered it, grouped by the version labeled against, oldest
    version first, campaigns by creation."""
    keys = clause_keys_by_version(version, key)
    scoped = (
        CampaignClause.objects.filter(
            campaign__workspace_id=version.spec.workspace_id,
            campaign__spec_version_id__in=list(keys),
        )
        .select_related("campaign__spec_version", "clause")
        .order_by("campaign__spec_version__published_at", "campaign__created_at", "campaign_id")
    )
    groups: dict[int, VersionAgreement] = {}
    for link in scoped:
        campaign = link.campaign
        if link.clause.key != keys.get(campaign.spec_version_id):
            continue
        alpha, n_items, n_labels = _alpha(campaign, link.clause_id)
        group = groups.setdefault(
            campaign.spec_version_id, VersionAgreement(version=campaign.spec_version)
        )
        group.campaigns.append(
            CampaignAgreement(
                campaign=campaign,
                clause_key=link.clause.key,
                alpha=alpha,
                n_items=n_items,
                n_labels=n_labels,
            )
        )
    return list(groups.values())


def _reading(clause: Clause) -> tuple:
    examples = tuple(
        Example.objects.filter(clause=clause)
        .order_by("position")
        .values_list("fingerprint", flat=True)
    )
    return (clause.title, clause.body, clause.authority, tuple(clause.tags or ()), examples)


def changed_since(version: SpecVersion, key: str) -> list[ChangedSince]:
    """For each published version older than ``version`` whose clause (by key and renames)
    differs from this one's clause ``key``: the transcripts of items with a submitted human label
    on it in campaigns of this workspace pinned to that version."""
    newer = Clause.objects.filter(version=version, key=key).first()
    keys = clause_keys_by_version(version, key)
    results = []
    for older in _published(version.spec_id):
        if older.pk == version.pk or (
            version.published_at is not None
            and older.published_at is not None
            and older.published_at >= version.published_at
        ):
            continue
        old_key = keys.get(older.pk)
        if old_key is None:
            continue
        old_clause = Clause.objects.get(version=older, key=old_key)
        removed = newer is None
        if not removed and _reading(old_clause) == _reading(newer):
            continue
        labeled = (
            Label.objects.counted()
            .filter(
                clause=old_clause,
                campaign__workspace_id=version.spec.workspace_id,
                campaign__spec_version=older,
            )
            .values_list("item_id", "item__transcript_id")
            .distinct()
        )
        pairs = list(labeled)
        if not pairs:
            continue
        results.append(
            ChangedSince(
                version=older,
                clause_key=old_key,
                removed=removed,
                transcript_ids=sorted({t for _, t in pairs}),
                item_count=len({i for i, _ in pairs}),
            )
        )
    return results
