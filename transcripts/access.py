"""Who may see which transcripts and imports, decided here for the pages and the API alike.

Every function takes the caller's :class:`~clausebook.models.Membership` (what
``clausebook.access.workspace_member`` and ``WorkspaceAPIMixin`` resolve from the URL: a
non-member already got 404 there) and returns objects of that membership's workspace only, so an
id from another workspace is 404. A role below the one needed is 403. The views and API views
declare the same roles (:data:`READ_ROLE`, :data:`SCENARIO_READ_ROLE`, :data:`IMPORT_ROLE`) up
front; these checks are the object-level line behind them.
"""

from __future__ import annotations

from django.db.models import QuerySet

from clausebook import permissions
from clausebook.access import require_role
from clausebook.models import Membership
from transcripts import selectors
from transcripts.models import Scenario, Transcript, TranscriptImport

#: The roles come from the one permission map (clausebook/permissions.py), which pages, the API
#: and the navigation all read. Reading transcripts and imports: every member, viewers included.
READ_ROLE = permissions.role_for("transcripts.read")
#: Reading scenarios (the prompts re-runs start from): every member, viewers included.
SCENARIO_READ_ROLE = permissions.role_for("scenarios.read")
#: Starting (or retrying) an import writes transcripts into the workspace.
IMPORT_ROLE = permissions.role_for("transcripts.import")


def transcripts_for_user(
    membership: Membership,
    filters: selectors.TranscriptFilters | None = None,
    *,
    with_messages: bool = False,
) -> QuerySet[Transcript]:
    """The transcripts this member may list, with their messages if asked (403 below
    :data:`READ_ROLE`: the messages are what reading a transcript means, so the same right)."""
    require_role(membership, READ_ROLE)
    return selectors.transcript_list(membership.workspace, filters, with_messages=with_messages)


def transcript_for_user(membership: Membership, transcript_id: int) -> Transcript:
    """One transcript of the member's workspace with its provenance; 404 elsewhere, 403 below
    :data:`READ_ROLE`."""
    require_role(membership, READ_ROLE)
    return selectors.transcript_get(membership.workspace, transcript_id)


def imports_for_user(membership: Membership) -> QuerySet[TranscriptImport]:
    """The imports this member may list (403 below :data:`READ_ROLE`)."""
    require_role(membership, READ_ROLE)
    return selectors.import_list(membership.workspace)


def import_for_user(membership: Membership, import_id: int) -> TranscriptImport:
    """One import of the member's workspace; 404 elsewhere, 403 below :data:`READ_ROLE`."""
    require_role(membership, READ_ROLE)
    return selectors.import_get(membership.workspace, import_id)


def can_import(membership: Membership) -> bool:
    """Whether the member may start imports (pages show the button only then)."""
    return membership.role >= IMPORT_ROLE


def require_import_right(membership: Membership) -> None:
    """403 unless the member may start imports."""
    require_role(membership, IMPORT_ROLE)


def can_read_transcripts(membership: Membership) -> bool:
    """Whether pages may link to transcripts for this member (a scenario's origin, say)."""
    return membership.role >= READ_ROLE


def scenarios_for_user(
    membership: Membership, filters: selectors.ScenarioFilters | None = None
) -> QuerySet[Scenario]:
    """The scenarios this member may list (403 below :data:`SCENARIO_READ_ROLE`)."""
    require_role(membership, SCENARIO_READ_ROLE)
    return selectors.scenario_list(membership.workspace, filters)


def scenario_for_user(membership: Membership, scenario_id: int) -> Scenario:
    """One scenario of the member's workspace with what it came from; 404 elsewhere, 403 below
    :data:`SCENARIO_READ_ROLE`."""
    require_role(membership, SCENARIO_READ_ROLE)
    return selectors.scenario_get(membership.workspace, scenario_id)
