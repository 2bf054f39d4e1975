"""Who may do what in a workspace, decided once: a named right → the lowest role that has it.

Pages, the API, the CLI and the navigation read this map (through :func:`can`,
:func:`require` and :func:`role_for`, ``workspace_member(permission=...)`` and the ``can``
template variable), so a role's rights cannot differ between the page that links and the page
that answers. ``docs/USER_GUIDE.md`` carries the same table; ``tests/clausebook/
test_permissions.py`` fails when the two drift apart.

Roles form a ladder (viewer < reviewer < adjudicator < editor < admin): each has every right of
the roles below it. Two decisions the ladder forces:

* **Reading.** Viewers read everything a workspace holds except what could bias a label:
  specs, transcripts, scenarios, campaign progress, gold decisions. Discussion threads and the
  queue start at reviewer, because a thread shows other reviewers' verdicts.
* **Importing, re-running and judging need less than publishing.** They bring in or produce
  evidence (transcripts, model answers, judge labels that never count toward agreement), and
  whoever builds a campaign (an adjudicator) needs the transcripts it reviews. Publishing a spec
  version changes what every later label is judged against, so it stays with editors. An
  engineer who imports and re-runs is therefore an adjudicator, not an editor. Model endpoints
  hold secrets and spend money: admins configure them, adjudicators only use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied

from clausebook.caching import memoize
from clausebook.models import Membership, Role


@dataclass(frozen=True)
class Right:
    role: Role
    label: str  # completes "It lets a member ..." (403s, the user guide): lower case, no period


#: The map. Keep it grouped by app and ordered by role within each group; the user guide's
#: "Roles" table lists it in this order.
PERMISSIONS: dict[str, Right] = {
    # Specs
    "specs.read": Right(Role.VIEWER, "read specs, versions, clauses, examples and diffs"),
    "specs.import": Right(Role.EDITOR, "import spec versions and edit drafts"),
    "specs.publish": Right(Role.EDITOR, "publish a spec version"),
    # Amendments: an adjudicator may propose (a gold case they settled), editors decide.
    "amendments.propose": Right(Role.ADJUDICATOR, "propose and edit amendments to a spec"),
    "amendments.approve": Right(Role.EDITOR, "approve other members' amendments"),
    "amendments.merge": Right(Role.EDITOR, "merge approved amendments and start drafts"),
    # Transcripts
    "transcripts.read": Right(Role.VIEWER, "read transcripts and imports"),
    "scenarios.read": Right(Role.VIEWER, "read scenarios"),
    "scenarios.flag": Right(Role.REVIEWER, "flag a scenario for a re-run"),
    "transcripts.import": Right(Role.ADJUDICATOR, "import transcripts and retry imports"),
    # Campaigns and labels
    "campaigns.read": Right(Role.VIEWER, "read campaigns and their progress"),
    "gold.read": Right(Role.VIEWER, "read gold decisions"),
    "queue.view": Right(Role.REVIEWER, "use My queue: claim, label and skip items"),
    "labels.write": Right(Role.REVIEWER, "write and submit their own labels"),
    "threads.comment": Right(Role.REVIEWER, "read and write discussion threads"),
    "campaigns.create": Right(
        Role.ADJUDICATOR,
        "create, open, pause and close campaigns, seat reviewers and add transcripts",
    ),
    "gold.adjudicate": Right(Role.ADJUDICATOR, "settle disagreements and reopen gold decisions"),
    "gold.export": Right(Role.ADJUDICATOR, "export gold data"),
    "gold.promote": Right(Role.EDITOR, "promote a gold case to a clause example"),
    "labels.import": Right(Role.EDITOR, "import labels from earlier work"),
    # Models
    "reruns.run": Right(Role.ADJUDICATOR, "re-run scenarios on model endpoints"),
    "judges.run": Right(Role.ADJUDICATOR, "run model judges on a campaign"),
    "endpoints.manage": Right(Role.ADMIN, "add, change and remove model endpoints"),
    # The workspace
    "members.read": Right(Role.VIEWER, "list the workspace's members"),
    "members.manage": Right(Role.ADMIN, "invite people, change roles and remove members"),
    "workspace.manage": Right(Role.ADMIN, "change the workspace's settings"),
}


def right(permission: str) -> Right:
    """The map's entry; ``KeyError`` naming the permission for a typo (a bug, not a 403)."""
    try:
        return PERMISSIONS[permission]
    except KeyError:
        raise KeyError(
            f"Unknown permission {permission!r}; see clausebook/permissions.py"
        ) from None


def role_for(permission: str) -> Role:
    """The lowest role that has ``permission``."""
    return right(permission).role


def can(membership: Membership | None, permission: str) -> bool:
    """Whether ``membership`` (None: not a member) has ``permission``."""
    return membership is not None and membership.role >= role_for(permission)


def refusal(permission: str) -> str:
    """The 403 message: what the right is and which role has it."""
    entry = right(permission)
    return (
        f"This needs the {entry.role.label.lower()} role or higher. It lets a member {entry.label}."
    )


def require(membership: Membership, permission: str) -> None:
    """Raise ``PermissionDenied`` (403) unless ``membership`` has ``permission``."""
    if not can(membership, permission):
        raise PermissionDenied(refusal(permission))


# The map is fixed for the life of the process and there are five roles, so each role's
# nested rights are built once, not on every page render. Callers only read the result.
@memoize(maxsize=8)
def rights_of(role: int) -> dict[str, dict[str, bool]]:
    """Every right as nested dicts, for templates: ``{% if can.transcripts.read %}``."""
    nested: dict[str, dict[str, bool]] = {}
    for name, entry in PERMISSIONS.items():
        group, action = name.split(".", 1)
        nested.setdefault(group, {})[action] = role >= entry.role
    return nested


def template_rights(membership: Membership | None) -> dict[str, Any]:
    """What the ``can`` template variable holds for ``membership`` (nothing without one)."""
    return rights_of(membership.role) if membership is not None else {}
