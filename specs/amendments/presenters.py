"""Amendments as pages and API shapes: list rows, the detail page's context (changes in words,
the diff preview through ``specs.presenters.diff_context``, approvals, conflicts)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from specs import presenters as spec_presenters
from specs.amendments.selectors import AmendmentDetail
from specs.models import Amendment, AmendmentChange

Kind = AmendmentChange.Kind


def change_summary(change: AmendmentChange) -> str:
    """One line a reader understands: what the change does to which clause."""
    payload = change.payload
    key = change.clause_key
    if change.kind == Kind.CHANGE_CLAUSE:
        return f"Change {', '.join(sorted(payload))} of “{key}”"
    if change.kind == Kind.ADD_CLAUSE:
        where = f" under “{payload['parent_key']}”" if payload.get("parent_key") else ""
        return f"Add clause “{key}”: {payload.get('title', '')}{where}"
    if change.kind == Kind.REMOVE_CLAUSE:
        return f"Remove clause “{key}”"
    if change.kind == Kind.MOVE_CLAUSE:
        parent = payload.get("parent_key") or "the top level"
        after = f", after “{payload['after_key']}”" if payload.get("after_key") else ", first"
        return f"Move “{key}” under {parent}{after}"
    if change.kind == Kind.RENAME_KEY:
        return f"Rename key “{key}” to “{payload.get('new_key')}”"
    if change.kind == Kind.ADD_EXAMPLE:
        return f"Add example to “{key}”: {payload.get('title', '')}"
    return f"Remove example “{payload.get('title', '')}” from “{key}”"


def amendment_panels(workspace_slug: str, amendment: Amendment) -> list[str]:
    """URLs of fragments other apps show on the amendment page (its discussion thread lives in
    reviews): ``settings.AMENDMENT_PAGE_PANELS`` lists URL names taking (workspace, amendment
    id); specs never imports the app that serves them."""
    urls = []
    for name in getattr(settings, "AMENDMENT_PAGE_PANELS", ()):
        try:
            urls.append(reverse(name, args=[workspace_slug, amendment.pk]))
        except NoReverseMatch:
            continue
    return urls


def conflict_rows(conflicts: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Conflicts as the page lists them; a rebase conflict carries a box for the resolution,
    prefilled with the marked merge (body) or the draft's value."""
    rows = []
    for conflict in conflicts or []:
        row = dict(conflict)
        if "field" in conflict:
            value = conflict.get("merged")
            if value is None:
                ours = conflict.get("ours")
                value = ", ".join(ours) if isinstance(ours, list) else (ours or "")
            row["box"] = f"resolve:{conflict['clause_key']}:{conflict['field']}"
            row["value"] = value
        rows.append(row)
    return rows


def detail_context(detail: AmendmentDetail, workspace_slug: str) -> dict[str, Any]:
    amendment = detail.amendment
    return {
        "amendment": amendment,
        "spec": amendment.spec,
        "detail": detail,
        "changes": [
            {"change": change, "summary": change_summary(change)} for change in detail.changes
        ],
        "diff": spec_presenters.diff_context(detail.preview),
        "panels": amendment_panels(workspace_slug, amendment),
    }


def change_output(change: AmendmentChange) -> dict[str, Any]:
    return {
        "id": change.pk,
        "kind": change.kind,
        "clause_key": change.clause_key,
        "summary": change_summary(change),
        "base": change.base,
        "payload": change.payload,
        "position": change.position,
    }


def amendment_output(amendment: Amendment) -> dict[str, Any]:
    return {
        "id": amendment.pk,
        "title": amendment.title,
        "rationale": amendment.rationale,
        "state": amendment.state,
        "revision": amendment.revision,
        "author": amendment.author.email,
        "base_version": amendment.base_version.label,
        "merged_into": amendment.merged_into.label if amendment.merged_into_id else None,
        "created_at": amendment.created_at,
        "updated_at": amendment.updated_at,
    }


def detail_output(detail: AmendmentDetail) -> dict[str, Any]:
    return {
        **amendment_output(detail.amendment),
        "changes": [change_output(change) for change in detail.changes],
        "approvals": [
            {
                "user": row.approval.user.email,
                "revision": row.approval.revision,
                "counts": row.counts,
                "created_at": row.approval.created_at,
            }
            for row in detail.approvals
        ],
        "approvals_counted": detail.approvals_counted,
        "approvals_required": detail.approvals_required,
        "draft": detail.draft.label if detail.draft is not None else None,
        "conflicts": detail.conflicts,
        "preview": detail.preview.to_dict(),
    }
