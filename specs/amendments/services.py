"""Writes for amendments and drafts: start a draft, propose, change, approve, merge, rebase,
publish with a changelog.

Every function is the one path for its write (pages, the API, the demo, the reviews app's gold
promotion and the benchmarks call these), atomic, audited in the same transaction, and checks
the actor's right again (``clausebook.permissions``) as a second line behind the page or API.

Concurrency: an amendment carries a ``revision``. Writes that change it take ``expected_revision``
(the revision the client saw; ``None`` skips the check for in-process callers) under a row lock,
and a stale one raises :class:`AmendmentConflict` (409). Editing an amendment in any way bumps
the revision, so approvals given to an earlier revision stop counting.

Merging: each change recorded ``base``, the clause as it found it. A merge replays the changes on
the spec's draft; where the draft moved under a change (another amendment merged first, or the
draft started from a newer version), the merge is refused with the conflicts
(:class:`MergeBlocked`) and the amendment must be rebased (:func:`amendment_rebase`), which
three-way merges each change (``specs.amendments.merge``) and asks for a resolution wherever
both sides edited the same lines. Nothing is silently lost.

Other apps react to a merge inside its transaction through :func:`register_merge_hook` (the
reviews app links a promoted gold case to the example the merge created); publishing writes the
changelog (``specs.amendments.changelog``, which takes extra lines per amendment from a hook).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from clausebook import audit, permissions
from clausebook.models import User
from specs import services as spec_services
from specs.amendments.drafts import draft_publish, draft_start_from
from specs.amendments.merge import merge_fields
from specs.amendments.replay import (
    DraftState,
    apply_change,
    clause_fields,
    drift,
    replay,
    write,
)
from specs.amendments.rights import require
from specs.amendments.validation import clause_fields_checked, payload_cleaned
from specs.models import (
    AMENDMENT_TITLE_MAX_LENGTH,
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

__all__ = [
    "OPEN_STATES",
    "AmendmentConflict",
    "MergeBlocked",
    "NoDraft",
    "RebaseConflict",
    "amendment_approve",
    "amendment_change_add",
    "amendment_change_edit",
    "amendment_change_remove",
    "amendment_close",
    "amendment_edit",
    "amendment_for_clause",
    "amendment_merge",
    "amendment_propose",
    "amendment_rebase",
    "amendments_return_from_draft",
    "approvals_counted",
    "draft_publish",
    "register_merge_hook",
    "register_unmerge_hook",
    "resolve_key",
    "draft_start_from",
]

Kind = AmendmentChange.Kind
#: States in which an amendment can still change, be approved and be merged.
OPEN_STATES = (AmendmentState.OPEN, AmendmentState.APPROVED)


#: ``fn(amendment, draft)`` after an amendment merged, in the merge's transaction (an error
#: rolls the merge back). ``selectors.merged_examples(amendment)`` finds the examples it added.
_merge_hooks: list[Callable[[Amendment, SpecVersion], None]] = []


def register_merge_hook(hook: Callable[[Amendment, SpecVersion], None]) -> None:
    """Call ``hook`` after every merge (registering one twice keeps one)."""
    if hook not in _merge_hooks:
        _merge_hooks.append(hook)


def unregister_merge_hook(hook: Callable[[Amendment, SpecVersion], None]) -> None:
    if hook in _merge_hooks:
        _merge_hooks.remove(hook)


#: ``fn(amendments, draft)`` before a draft the amendments merged into is discarded, in the
#: discard's transaction: other apps drop what points into the draft (the reviews app unlinks
#: promoted cases from the draft's examples; the merge links them again).
_unmerge_hooks: list[Callable[[list[Amendment], SpecVersion], None]] = []


def register_unmerge_hook(hook: Callable[[list[Amendment], SpecVersion], None]) -> None:
    """Call ``hook`` when merged amendments return from a discarded draft (once per hook)."""
    if hook not in _unmerge_hooks:
        _unmerge_hooks.append(hook)


def unregister_unmerge_hook(hook: Callable[[list[Amendment], SpecVersion], None]) -> None:
    if hook in _unmerge_hooks:
        _unmerge_hooks.remove(hook)


class AmendmentConflict(Exception):
    """The amendment changed since the client read it: ``current`` is its revision now."""

    def __init__(self, amendment: Amendment) -> None:
        super().__init__(
            f"Amendment #{amendment.pk} is at revision {amendment.revision}: reload it and try again."
        )
        self.amendment = amendment
        self.current = amendment.revision


class NoDraft(ValidationError):
    """The spec has no draft to merge into: start one from a published version first."""


class MergeBlocked(ValidationError):
    """The draft moved under some changes: ``conflicts`` says where; rebase the amendment."""

    def __init__(self, message: str, conflicts: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


class RebaseConflict(ValidationError):
    """Both the draft and the amendment edited the same place: ``conflicts`` shows each, and a
    rebase with a resolution for each (``resolutions``) goes through."""

    def __init__(self, message: str, conflicts: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


# --------------------------------------------------------------------------------------------
# Helpers


def _lock(amendment: Amendment, expected_revision: int | None) -> Amendment:
    """The amendment locked for update, open, at ``expected_revision`` (if given)."""
    locked = Amendment.objects.select_for_update().select_related("spec").get(pk=amendment.pk)
    if expected_revision is not None and locked.revision != expected_revision:
        raise AmendmentConflict(locked)
    if locked.state not in OPEN_STATES:
        raise ValidationError(f"Amendment #{locked.pk} is {locked.state} and cannot change.")
    return locked


def _bump(locked: Amendment) -> None:
    """A new revision: approvals of the previous one no longer count."""
    locked.revision += 1
    locked.state = AmendmentState.OPEN
    locked.updated_at = timezone.now()
    locked.save(update_fields=["revision", "state", "updated_at"])


def resolve_key(spec: Spec, version: SpecVersion, key: str) -> str | None:
    """``key`` as it is called in ``version``: itself, or where the spec's confirmed renames
    lead; None if the clause is not in the version (removed, or never there)."""
    keys = set(Clause.objects.filter(version=version).values_list("key", flat=True))
    if key in keys:
        return key
    return compose_aliases(confirmed_aliases(spec), {key}, keys).get(key)


def _clause_state(clause: Clause, examples: Iterable[Example] | None = None) -> dict[str, Any]:
    """The clause as a change records it in ``base``."""
    rows = examples if examples is not None else clause.examples.order_by("position")
    return {
        "key": clause.key,
        "title": clause.title,
        "body": clause.body,
        "authority": clause.authority,
        "tags": list(clause.tags),
        "parent_key": clause.parent.key if clause.parent_id else None,
        "examples": [{"fingerprint": e.fingerprint, "title": e.title} for e in rows],
    }


# --------------------------------------------------------------------------------------------
# Proposing and editing


def _published_base(spec: Spec, base_version: SpecVersion) -> None:
    if base_version.spec_id != spec.pk:
        raise ValidationError({"base_version": ["That version belongs to another spec."]})
    if base_version.status == VersionStatus.DRAFT:
        raise ValidationError(
            {"base_version": ["An amendment is proposed against a published version."]}
        )


def _check_text(title: str, rationale: str) -> None:
    if not isinstance(title, str) or not title.strip() or len(title) > AMENDMENT_TITLE_MAX_LENGTH:
        raise ValidationError(
            {"title": [f"A title has 1 to {AMENDMENT_TITLE_MAX_LENGTH} characters."]}
        )
    if not isinstance(rationale, str):
        raise ValidationError({"rationale": ["The rationale is text."]})


@transaction.atomic
def amendment_propose(
    *, spec: Spec, base_version: SpecVersion, title: str, rationale: str = "", actor: User
) -> Amendment:
    """Open an (empty) amendment against a published version of ``spec``."""
    require(actor, spec, "amendments.propose")
    _published_base(spec, base_version)
    _check_text(title, rationale)
    amendment = Amendment.objects.create(
        spec=spec,
        base_version=base_version,
        title=title.strip(),
        rationale=rationale.strip(),
        author=actor,
    )
    audit.record(
        verb="amendment.propose",
        actor=actor,
        workspace=spec.workspace,
        target=amendment,
        summary=f"{spec.title} {base_version.label}: {amendment.title}",
    )
    return amendment


@transaction.atomic
def amendment_for_clause(
    *, spec: Spec, base_version: SpecVersion, clause_key: str, actor: User
) -> Amendment:
    """The open amendment against ``base_version`` that already changes this clause (by any
    author; the most recently updated), or a new one opened by ``actor``.

    ``clause_key`` is looked up in ``base_version`` by key, then through the spec's confirmed
    renames. Raises ValidationError ``{"clause_key": ...}`` if the clause is not in that version
    (removed, or never there), PermissionDenied without ``amendments.propose``."""
    require(actor, spec, "amendments.propose")
    _published_base(spec, base_version)
    key = resolve_key(spec, base_version, clause_key)
    if key is None:
        raise ValidationError(
            {"clause_key": [f"Clause “{clause_key}” is not in version {base_version.label}."]}
        )
    found = (
        Amendment.objects.filter(
            spec=spec, base_version=base_version, state__in=OPEN_STATES, changes__clause_key=key
        )
        .order_by("-updated_at", "-pk")
        .first()
    )
    if found is not None:
        return found
    title = Clause.objects.filter(version=base_version, key=key).values_list("title", flat=True)[0]
    return amendment_propose(
        spec=spec,
        base_version=base_version,
        title=f"Examples for “{title}”"[:AMENDMENT_TITLE_MAX_LENGTH],
        actor=actor,
    )


@transaction.atomic
def amendment_change_add(
    *,
    amendment: Amendment,
    kind: str,
    clause_key: str,
    payload: dict[str, Any],
    actor: User,
    expected_revision: int | None = None,
) -> AmendmentChange:
    """Add one change to an open amendment; records ``base`` (the clause as it is in the base
    version) and bumps the amendment's revision (earlier approvals stop counting).

    ``clause_key`` is found in the base version by key or confirmed renames (for ``add_clause``
    it is the new clause's key). Payloads by ``kind``:

    * ``change_clause``: any of ``{"title": str, "body": Markdown, "authority": "root" | ... |
      "", "tags": [str]}``.
    * ``add_clause``: ``{"title", "body", "authority", "tags", "parent_key": key | None,
      "after_key": sibling key | None (first under the parent)}``.
    * ``remove_clause``: ``{}`` (a clause with sub-clauses cannot be removed).
    * ``move_clause``: ``{"parent_key", "after_key"}`` as for ``add_clause``.
    * ``rename_key``: ``{"new_key": key}``; merging records the rename as a confirmed alias.
    * ``add_example``: the structure of the spec's own examples (``Example.turns``)::

          {"title": "One line",
           "turns": [{"message": {"role": "user", "content": "…", "attrs": {}}},
                     {"comparison": [{"content": "…", "grade": "good" | "bad" | "ok",
                                      "reason": "why (the gold rationale)",
                                      "cites": "clause key or ''", "attrs": {}}]}],
           "between_turns": {"1": "[...]"},        # optional
           "origin": "gold" | "spec"}              # optional, default "spec"

      roles are ``system, developer, user, assistant, tool``; a graded answer is a
      ``comparison`` turn with one or more candidates. The example must survive export to the
      spec's Markdown and back (otherwise ValidationError ``{"payload": ...}``). The stored
      payload adds its ``fingerprint``.
    * ``remove_example``: ``{"fingerprint": str}`` of an example of the clause.

    Raises ValidationError (400, naming the field), PermissionDenied (403),
    AmendmentConflict (409) for a stale ``expected_revision``.
    """
    require(actor, amendment.spec, "amendments.propose")
    locked = _lock(amendment, expected_revision)
    base_version = locked.base_version
    if kind not in Kind.values:
        raise ValidationError(
            {"kind": [f"Unknown kind {kind!r}: one of {', '.join(Kind.values)}."]}
        )
    if not isinstance(clause_key, str) or not clause_key:
        raise ValidationError({"clause_key": ["A change names its clause by key."]})
    key = (
        clause_key
        if kind == Kind.ADD_CLAUSE
        else resolve_key(locked.spec, base_version, clause_key)
    )
    clause = (
        Clause.objects.filter(version=base_version, key=key or clause_key)
        .select_related("parent")
        .first()
    )
    cleaned = payload_cleaned(kind, clause, key or clause_key, payload, base_version)
    if (
        locked.changes.filter(clause_key=key or clause_key, kind=kind)
        .exclude(kind=Kind.ADD_EXAMPLE)
        .exists()
    ):
        raise ValidationError(
            {"kind": [f"This amendment already has a {kind} change on “{key}”: edit that one."]}
        )
    position = locked.changes.count()
    change = AmendmentChange.objects.create(
        amendment=locked,
        kind=kind,
        clause_key=key or clause_key,
        base=_clause_state(clause) if clause is not None else {},
        payload=cleaned,
        position=position,
    )
    _bump(locked)
    amendment.revision, amendment.state = locked.revision, locked.state
    audit.record(
        verb="amendment.change_add",
        actor=actor,
        workspace=locked.spec.workspace,
        target=locked,
        summary=f"{kind} {change.clause_key}",
        data={"change": change.pk, "revision": locked.revision},
    )
    return change


@transaction.atomic
def amendment_change_edit(
    *,
    change: AmendmentChange,
    payload: dict[str, Any],
    actor: User,
    expected_revision: int | None = None,
) -> AmendmentChange:
    """Replace a change's payload (validated as for :func:`amendment_change_add`); bumps the
    revision."""
    require(actor, change.amendment.spec, "amendments.propose")
    locked = _lock(change.amendment, expected_revision)
    row = AmendmentChange.objects.get(pk=change.pk, amendment=locked)
    clause = (
        Clause.objects.filter(version=locked.base_version, key=row.clause_key)
        .select_related("parent")
        .first()
    )
    row.payload = payload_cleaned(row.kind, clause, row.clause_key, payload, locked.base_version)
    row.save(update_fields=["payload"])
    _bump(locked)
    audit.record(
        verb="amendment.change_edit",
        actor=actor,
        workspace=locked.spec.workspace,
        target=locked,
        summary=f"{row.kind} {row.clause_key}",
        data={"change": row.pk, "revision": locked.revision},
    )
    return row


@transaction.atomic
def amendment_change_remove(
    *, change: AmendmentChange, actor: User, expected_revision: int | None = None
) -> Amendment:
    """Drop a change from its amendment; bumps the revision."""
    require(actor, change.amendment.spec, "amendments.propose")
    locked = _lock(change.amendment, expected_revision)
    row = AmendmentChange.objects.get(pk=change.pk, amendment=locked)
    summary = f"{row.kind} {row.clause_key}"
    row.delete()
    _bump(locked)
    audit.record(
        verb="amendment.change_remove",
        actor=actor,
        workspace=locked.spec.workspace,
        target=locked,
        summary=summary,
        data={"revision": locked.revision},
    )
    return locked


@transaction.atomic
def amendment_edit(
    *,
    amendment: Amendment,
    title: str,
    rationale: str,
    actor: User,
    expected_revision: int | None = None,
) -> Amendment:
    """Change the title and rationale; bumps the revision (approvals are asked for again)."""
    require(actor, amendment.spec, "amendments.propose")
    locked = _lock(amendment, expected_revision)
    _check_text(title, rationale)
    locked.title, locked.rationale = title.strip(), rationale.strip()
    locked.save(update_fields=["title", "rationale"])
    _bump(locked)
    audit.record(
        verb="amendment.edit",
        actor=actor,
        workspace=locked.spec.workspace,
        target=locked,
        summary=locked.title,
        data={"revision": locked.revision},
    )
    return locked


@transaction.atomic
def amendment_close(
    *, amendment: Amendment, state: str, actor: User, expected_revision: int | None = None
) -> Amendment:
    """Withdraw (the author, or anyone who may merge) or reject (who may approve) an amendment."""
    locked = _lock(amendment, expected_revision)
    if state == AmendmentState.WITHDRAWN:
        if locked.author_id != getattr(actor, "pk", None):
            require(actor, locked.spec, "amendments.merge")
        else:
            require(actor, locked.spec, "amendments.propose")
    elif state == AmendmentState.REJECTED:
        require(actor, locked.spec, "amendments.approve")
    else:
        raise ValidationError({"state": ["An amendment is closed as withdrawn or rejected."]})
    locked.state = state
    locked.updated_at = timezone.now()
    locked.save(update_fields=["state", "updated_at"])
    audit.record(
        verb=f"amendment.{'withdraw' if state == AmendmentState.WITHDRAWN else 'reject'}",
        actor=actor,
        workspace=locked.spec.workspace,
        target=locked,
        summary=locked.title,
    )
    return locked


# --------------------------------------------------------------------------------------------
# Approving


def approvals_counted(amendment: Amendment) -> int:
    """Approvals that count: of the current revision, not by the author, by members who still
    have the right to approve."""
    return (
        AmendmentApproval.objects.filter(amendment=amendment, revision=amendment.revision)
        .exclude(user_id=amendment.author_id)
        .filter(
            user__memberships__workspace_id=amendment.spec.workspace_id,
            user__memberships__role__gte=permissions.role_for("amendments.approve"),
        )
        .count()
    )


@transaction.atomic
def amendment_approve(
    *, amendment: Amendment, actor: User, expected_revision: int | None = None
) -> AmendmentApproval:
    """Approve the amendment's current revision (``expected_revision``: the one the approver
    read). The author cannot approve their own. Once the workspace's
    ``amendment_approvals_required`` approvals count, the amendment is ``approved``."""
    require(actor, amendment.spec, "amendments.approve")
    locked = _lock(amendment, expected_revision)
    if locked.author_id == actor.pk:
        raise PermissionDenied("Authors cannot approve their own amendment.")
    approval, created = AmendmentApproval.objects.get_or_create(
        amendment=locked, user=actor, revision=locked.revision
    )
    required = locked.spec.workspace.amendment_approvals_required
    if approvals_counted(locked) >= required and locked.state != AmendmentState.APPROVED:
        locked.state = AmendmentState.APPROVED
        locked.save(update_fields=["state"])
    if created:
        audit.record(
            verb="amendment.approve",
            actor=actor,
            workspace=locked.spec.workspace,
            target=locked,
            summary=f"{locked.title} (revision {locked.revision})",
            data={"revision": locked.revision},
        )
    amendment.state = locked.state
    return approval


# --------------------------------------------------------------------------------------------
# Merging


def _draft_of(spec: Spec) -> SpecVersion:
    draft = (
        SpecVersion.objects.select_for_update()
        .filter(spec=spec, status=VersionStatus.DRAFT)
        .first()
    )
    if draft is None:
        raise NoDraft(f"{spec.title} has no draft: start one from a published version, then merge.")
    return draft


@transaction.atomic
def amendment_merge(
    *, amendment: Amendment, actor: User, expected_revision: int | None = None
) -> SpecVersion:
    """Merge an approved amendment into the spec's draft; returns the draft.

    Refused (nothing written) with ValidationError if approvals are missing or there is no
    draft (:class:`NoDraft`), :class:`MergeBlocked` (with ``conflicts``) if the draft moved
    under any change: rebase first. A rename becomes a confirmed alias of the spec."""
    require(actor, amendment.spec, "amendments.merge")
    locked = _lock(amendment, expected_revision)
    required = locked.spec.workspace.amendment_approvals_required
    counted = approvals_counted(locked)
    if counted < required:
        raise ValidationError(
            f"Amendment #{locked.pk} has {counted} of {required} approvals of revision "
            f"{locked.revision}."
        )
    if not locked.changes.exists():
        raise ValidationError("An amendment without changes has nothing to merge.")
    draft_version = _draft_of(locked.spec)
    draft = DraftState(draft_version)
    conflicts = replay(locked, draft)
    if conflicts:
        raise MergeBlocked(
            f"The draft {draft_version.label} changed under {len(conflicts)} of this amendment's "
            "changes: rebase it on the draft.",
            conflicts,
        )
    counts = write(draft)
    locked.state = AmendmentState.MERGED
    locked.merged_into = draft_version
    locked.updated_at = timezone.now()
    locked.save(update_fields=["state", "merged_into", "updated_at"])
    for old_key, new_key in draft.aliases:
        spec_services.clause_alias_decide(
            spec=locked.spec, old_key=old_key, new_key=new_key, confirm=True, actor=actor
        )
    audit.record(
        verb="amendment.merge",
        actor=actor,
        workspace=locked.spec.workspace,
        target=locked,
        summary=f"{locked.title} into {draft_version.label}",
        data={"draft": draft_version.pk, "revision": locked.revision, **counts},
    )
    amendment.state, amendment.merged_into = locked.state, draft_version
    for hook in list(_merge_hooks):
        hook(locked, draft_version)
    return draft_version


@transaction.atomic
def amendment_rebase(
    *,
    amendment: Amendment,
    actor: User,
    expected_revision: int | None = None,
    resolutions: dict[str, dict[str, Any]] | None = None,
) -> Amendment:
    """Rebase every change on the spec's draft: each ``base`` becomes the draft's clause, each
    ``change_clause`` payload the three-way merge of (base → draft) and (base → amendment).

    Where both edited the same field (title, authority) or the same lines (body), the rebase
    needs ``resolutions[clause_key][field]``, the value to keep; without one it raises
    :class:`RebaseConflict` with each conflict (base, draft, amendment, the marked merge) and
    writes nothing. Other drift (a clause removed in the draft, a key taken) is a
    ValidationError: edit or remove that change. Bumps the revision."""
    require(actor, amendment.spec, "amendments.propose")
    locked = _lock(amendment, expected_revision)
    resolutions = resolutions or {}
    draft_version = _draft_of(locked.spec)
    draft = DraftState(draft_version)
    conflicts: list[dict[str, Any]] = []
    blocked: list[str] = []
    updated: list[AmendmentChange] = []
    aliases = confirmed_aliases(locked.spec)
    for change in locked.changes.order_by("position", "pk"):
        node = draft.find(change.clause_key)
        if node is None and change.kind != Kind.ADD_CLAUSE:
            renamed = compose_aliases(
                aliases + draft.aliases, {change.clause_key}, {n.key for n in draft.order}
            ).get(change.clause_key)
            node = draft.find(renamed) if renamed else None
            if node is not None:
                change.clause_key = node.key
        problem = drift(change, node, draft)
        if problem is not None and node is not None and change.kind == Kind.CHANGE_CLAUSE:
            result = merge_fields(change.base, clause_fields(node), change.payload)
            resolved = resolutions.get(change.clause_key, {})
            unresolved = [c for c in result.conflicts if c.field not in resolved]
            conflicts += [{"clause_key": change.clause_key, **c.to_dict()} for c in unresolved]
            if not unresolved:
                values = {**result.values, **{c.field: resolved[c.field] for c in result.conflicts}}
                merged = clause_fields_checked(node.key, {**clause_fields(node), **values})
                change.payload = {name: merged[name] for name in change.payload}
        elif problem is not None and (
            node is None
            or change.kind not in (Kind.REMOVE_CLAUSE, Kind.MOVE_CLAUSE)
            or "fields" not in problem
        ):
            # Not a difference of content to merge (a clause gone, a key taken, sub-clauses in
            # the way): the author edits or drops that change.
            blocked.append(f"{change.clause_key}: {problem['reason']}")
        # Removing or moving a clause the draft changed: by rebasing, the author takes the
        # draft's clause as the base, and the new revision asks the approvers again.
        if node is not None:
            change.base = {
                **clause_fields(node),
                "key": node.key,
                "parent_key": node.parent_key,
                "examples": [
                    {"fingerprint": e["fingerprint"], "title": e["title"]} for e in node.examples
                ],
            }
        updated.append(change)
        if drift(change, node, draft) is None:
            apply_change(change, node, draft)
    if blocked:
        raise ValidationError(blocked)
    if conflicts:
        raise RebaseConflict(
            f"{len(conflicts)} conflicting edit(s): choose what to keep for each.", conflicts
        )
    AmendmentChange.objects.bulk_update(updated, ["clause_key", "base", "payload"])
    _bump(locked)
    audit.record(
        verb="amendment.rebase",
        actor=actor,
        workspace=locked.spec.workspace,
        target=locked,
        summary=f"{locked.title} on {draft_version.label}",
        data={"draft": draft_version.pk, "revision": locked.revision},
    )
    return locked


# --------------------------------------------------------------------------------------------
# Discarding a draft


@transaction.atomic
def amendments_return_from_draft(*, draft: SpecVersion, actor: User | None) -> list[Amendment]:
    """Before ``draft`` is discarded: every amendment merged into it leaves it, ``approved``
    again (``open`` if its approvals of the current revision no longer suffice, e.g. an approver
    lost the right), so it can merge into the next draft; nothing of it is lost. Its revision
    stays, so the approvals it had still count. Each one is audited
    (``amendment.unmerge``); the unmerge hooks run first. Returns the amendments, in merge
    order. The caller (``specs.services.spec_version_discard``) holds the draft's row lock."""
    merged = list(
        Amendment.objects.select_for_update(of=("self",))
        .select_related("spec__workspace")
        .filter(merged_into=draft, state=AmendmentState.MERGED)
        .order_by("updated_at", "pk")
    )
    if not merged:
        return []
    for hook in list(_unmerge_hooks):
        hook(merged, draft)
    required = draft.spec.workspace.amendment_approvals_required
    now = timezone.now()
    for amendment in merged:
        counted = approvals_counted(amendment)
        amendment.state = AmendmentState.APPROVED if counted >= required else AmendmentState.OPEN
        amendment.merged_into = None
        amendment.updated_at = now
        amendment.save(update_fields=["state", "merged_into", "updated_at"])
        audit.record(
            verb="amendment.unmerge",
            actor=actor,
            workspace=amendment.spec.workspace,
            target=amendment,
            summary=f"{amendment.title}: draft {draft.label} discarded, {amendment.state} again",
            data={"draft": draft.pk, "state": amendment.state, "revision": amendment.revision},
        )
    return merged
