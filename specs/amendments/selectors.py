"""Reads for amendment pages and the API: lists, one amendment with its changes, approvals,
the merge check against the draft and a diff preview from the version diff engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet

from clausebook import permissions
from specs.amendments.replay import DraftState, Node, merge_check, replay
from specs.diffing import ClauseSnapshot, SpecDiff, diff_versions
from specs.models import (
    Amendment,
    AmendmentApproval,
    AmendmentChange,
    AmendmentState,
    Clause,
    Example,
    Spec,
    SpecVersion,
    VersionStatus,
)
from specs.selectors import compose_aliases, confirmed_aliases


def amendments_of(spec: Spec, *, state: str = "") -> QuerySet[Amendment]:
    """The spec's amendments, newest first (one query: author, versions and change counts
    joined); ``state`` filters by one of ``AmendmentState``."""
    rows = (
        Amendment.objects.filter(spec=spec)
        .select_related("author", "base_version", "merged_into")
        .annotate(change_count=Count("changes"))
        .order_by("-updated_at", "-pk")
    )
    return rows.filter(state=state) if state else rows


def draft_of(spec: Spec) -> SpecVersion | None:
    """The spec's one draft, if it has one."""
    return SpecVersion.objects.filter(spec=spec, status=VersionStatus.DRAFT).first()


@dataclass
class ApprovalRow:
    approval: AmendmentApproval
    counts: bool  # of the current revision, by someone who may still approve


@dataclass
class AmendmentDetail:
    amendment: Amendment
    changes: list[AmendmentChange]
    approvals: list[ApprovalRow]
    approvals_counted: int
    approvals_required: int
    draft: SpecVersion | None
    # None: no draft to merge into; []: the amendment applies to the draft as it is.
    conflicts: list[dict[str, Any]] | None
    preview: SpecDiff

    @property
    def is_open(self) -> bool:
        return self.amendment.state in (AmendmentState.OPEN, AmendmentState.APPROVED)

    @property
    def approved(self) -> bool:
        return self.approvals_counted >= self.approvals_required


def _snapshot(node: Node, position: int) -> ClauseSnapshot:
    return ClauseSnapshot(
        key=node.key,
        title=node.title,
        authority=node.authority or None,
        tags=tuple(node.tags),
        body=node.body,
        parent_key=node.parent_key,
        position=position,
        examples=tuple((e["fingerprint"], e["title"]) for e in node.examples),
    )


def amendment_preview(amendment: Amendment) -> SpecDiff:
    """What the amendment does to its base version, through the diff engine of version
    comparison: only the clauses it touches (and their renames) are compared."""
    before = DraftState(amendment.base_version)
    after = DraftState(amendment.base_version)
    replay(amendment, after)
    old = {n.key: (i, n) for i, n in enumerate(before.order)}
    new = {n.key: (i, n) for i, n in enumerate(after.order)}
    renamed = dict(after.aliases)
    touched: set[str] = set()
    for key, (_, node) in old.items():
        target = new.get(renamed.get(key, key))
        if target is None or _snapshot(target[1], 0) != _snapshot(node, 0):
            touched.add(key)
    touched |= {key for key in new if key not in old}
    touched |= set(renamed.values())
    return diff_versions(
        [_snapshot(n, i) for k, (i, n) in old.items() if k in touched],
        [_snapshot(n, i) for k, (i, n) in new.items() if k in touched or k in renamed.values()],
        aliases=renamed,
    )


def amendment_detail(amendment: Amendment) -> AmendmentDetail:
    """Everything the amendment page and the API's detail show."""
    changes = list(amendment.changes.order_by("position", "pk"))
    workspace = amendment.spec.workspace
    approver_role = permissions.role_for("amendments.approve")
    may_approve = set(
        workspace.memberships.filter(role__gte=approver_role).values_list("user_id", flat=True)
    )
    approvals = [
        ApprovalRow(
            approval,
            approval.revision == amendment.revision
            and approval.user_id in may_approve
            and approval.user_id != amendment.author_id,
        )
        for approval in amendment.approvals.select_related("user").order_by("-created_at")
    ]
    is_open = amendment.state in (AmendmentState.OPEN, AmendmentState.APPROVED)
    return AmendmentDetail(
        amendment=amendment,
        changes=changes,
        approvals=approvals,
        approvals_counted=sum(row.counts for row in approvals),
        approvals_required=workspace.amendment_approvals_required,
        draft=draft_of(amendment.spec),
        conflicts=merge_check(amendment) if is_open else [],
        preview=amendment_preview(amendment),
    )


def merged_examples(amendment: Amendment) -> dict[int, Example]:
    """The examples a merged amendment's ``add_example`` changes became, by change id: the
    example of the same fingerprint in the clause (by key, or where renames lead) of the version
    it merged into. Empty before the merge; a change whose example was removed since is left out.
    """
    if amendment.merged_into_id is None:
        return {}
    changes = list(amendment.changes.filter(kind=AmendmentChange.Kind.ADD_EXAMPLE))
    if not changes:
        return {}
    examples = Example.objects.filter(
        clause__version_id=amendment.merged_into_id,
        fingerprint__in=[c.payload.get("fingerprint") for c in changes],
    ).select_related("clause")
    by_fingerprint: dict[str, list[Example]] = {}
    for example in examples:
        by_fingerprint.setdefault(example.fingerprint, []).append(example)
    keys = set(
        Clause.objects.filter(version_id=amendment.merged_into_id).values_list("key", flat=True)
    )
    aliases = compose_aliases(
        confirmed_aliases(amendment.spec), {c.clause_key for c in changes}, keys
    )
    found: dict[int, Example] = {}
    for change in changes:
        key = change.clause_key if change.clause_key in keys else aliases.get(change.clause_key)
        for example in by_fingerprint.get(change.payload.get("fingerprint"), []):
            if example.clause.key == key:
                found[change.pk] = example
                break
    return found
