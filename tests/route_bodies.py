"""A request body for every write to a route that names an object (T07, issue 9).

The cross-workspace sweep (``tests/test_security_routes.py``) sends each write with the victim's
ids to the outsider's own workspace. An empty body would be refused with a 400 before the view
looks anything up, which hides a missing workspace check; so every write is sent with a body the
victim's own member *would have succeeded with*, and a control test proves it does: sent by
``Body.actor`` to the victim's own URL, it answers 2xx/3xx and changes the database.

Routes that name only the workspace may name objects in their body instead (a new campaign's
spec version, transcripts and reviewers): their bodies are here too, and the sweep sends the
victim admin's body to the outsider's workspace. Those whose body names nothing are listed in
:data:`NAMES_NO_OBJECT`; plain read pages that accept any method, in :data:`READ_PAGES`.

A route added with a write method and no entry here fails the sweep, naming the line to add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clausebook.models import Role
from tests.route_samples import CLAUSE_KEYS, Samples

Data = Callable[[Samples], dict[str, Any]]


def _nothing(samples: Samples) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Body:
    """What a write sends, who succeeds with it, and the state it needs.

    ``data`` is built after ``prepare`` ran, from the database as it then is (revisions move).
    ``actor`` is the persona (an attribute of ``Personas``) who succeeds with it in the victim
    workspace: an admin unless the write acts through someone's own assignment or token.
    ``prepare`` puts the sample objects in the state the write starts from (a draft campaign
    to open, say); it runs inside a savepoint that is rolled back after the attempt.
    ``url`` overrides URL arguments (the draft version, not the published one, is published).
    ``opens`` is a link the actor opens first, in the same savepoint: what proves they hold an
    emailed secret (an invitation's). The outsider never has it.
    ``actor`` may also name a ``Samples`` attribute (the invitee, who is no member yet).
    """

    data: Data = _nothing
    actor: str = "owner"
    prepare: Callable[[Samples], None] | None = None
    url: dict[str, Callable[[Samples], Any]] = field(default_factory=dict)
    opens: Callable[[Samples], str] | None = None


def _campaign_revision(samples: Samples) -> int:
    from reviews.models import Campaign

    return Campaign.objects.values_list("revision", flat=True).get(pk=samples.campaign.pk)


def _label_revision(samples: Samples) -> int:
    from reviews.models import Label

    return Label.objects.values_list("revision", flat=True).get(pk=samples.label.pk)


def _campaign_status(status: str) -> Callable[[Samples], None]:
    def prepare(samples: Samples) -> None:
        from reviews.models import Campaign

        Campaign.objects.filter(pk=samples.campaign.pk).update(status=status)

    return prepare


def _revision(samples: Samples) -> dict[str, Any]:
    return {"revision": _campaign_revision(samples)}


def _draft(samples: Samples) -> str:
    return samples.draft_version.label


_MARKDOWN = "# Be kind {#be_kind authority=user}\n\nAlways.\n"
_ALIAS = {"old_key": CLAUSE_KEYS[2], "new_key": "new_clause", "decision": "confirm"}
_SKIP = {"reason": "Outside my expertise."}


# (route name, method) -> the body. HTML routes are posted as a form, API routes as JSON.
BODIES: dict[tuple[str, str], Body] = {
    # --- platform (HTML) ------------------------------------------------------------------
    ("workspace-member-role", "POST"): Body(lambda s: {"role": Role.REVIEWER}),
    ("workspace-member-remove", "POST"): Body(lambda s: {"confirm": "on"}),
    ("api-token-revoke", "POST"): Body(actor="viewer"),  # the token is the viewer's own
    ("invitation-detail", "POST"): Body(actor="invitee", opens=lambda s: s.invitation_sent[1]),
    # --- specs (HTML) ---------------------------------------------------------------------
    ("specs:version-import", "POST"): Body(
        lambda s: {"label": "2025-03-01", "markdown": _MARKDOWN}
    ),
    ("specs:alias-decide", "POST"): Body(lambda s: dict(_ALIAS)),
    ("specs:version-publish", "POST"): Body(lambda s: {"confirm": "on"}, url={"label": _draft}),
    ("specs:version-discard", "POST"): Body(lambda s: {"confirm": "on"}, url={"label": _draft}),
    # --- transcripts (HTML) ---------------------------------------------------------------
    ("transcripts:import-retry", "POST"): Body(),
    # --- campaigns and labeling (HTML) ----------------------------------------------------
    ("reviews:campaign-open", "POST"): Body(_revision, prepare=_campaign_status("draft")),
    ("reviews:campaign-pause", "POST"): Body(_revision),
    ("reviews:campaign-resume", "POST"): Body(_revision, prepare=_campaign_status("paused")),
    ("reviews:campaign-close", "POST"): Body(_revision),
    ("reviews:campaign-reviewers-add", "POST"): Body(
        lambda s: {"revision": _campaign_revision(s), "reviewers": [s.p.adjudicator.email]}
    ),
    ("reviews:campaign-reviewer-remove", "POST"): Body(
        lambda s: {"revision": _campaign_revision(s), "reviewer": s.p.second_reviewer.pk}
    ),
    ("reviews:claim-next", "POST"): Body(actor="second_reviewer"),  # reviewer already holds one
    ("reviews:assignment-submit", "POST"): Body(actor="reviewer"),
    ("reviews:assignment-skip", "POST"): Body(lambda s: dict(_SKIP), actor="reviewer"),
    # --- platform (API) -------------------------------------------------------------------
    ("api-member-detail", "PATCH"): Body(lambda s: {"role": "reviewer"}),
    ("api-member-detail", "DELETE"): Body(),
    # --- specs (API) ----------------------------------------------------------------------
    ("api-version-list", "POST"): Body(lambda s: {"label": "2025-03-01", "markdown": _MARKDOWN}),
    ("api-alias-list", "POST"): Body(lambda s: dict(_ALIAS)),
    ("api-version-publish", "POST"): Body(url={"label": _draft}),
    # --- transcripts (API) ----------------------------------------------------------------
    ("api-import-retry", "POST"): Body(),
    # --- campaigns and labels (API) -------------------------------------------------------
    ("api-campaign-open", "POST"): Body(_revision, prepare=_campaign_status("draft")),
    ("api-campaign-pause", "POST"): Body(_revision),
    ("api-campaign-resume", "POST"): Body(_revision, prepare=_campaign_status("paused")),
    ("api-campaign-close", "POST"): Body(_revision),
    ("api-campaign-reviewers", "POST"): Body(
        lambda s: {"revision": _campaign_revision(s), "reviewers": [s.p.adjudicator.email]}
    ),
    ("api-campaign-reviewers", "DELETE"): Body(
        lambda s: {"revision": _campaign_revision(s), "reviewer": s.p.second_reviewer.email}
    ),
    ("api-claim-next", "POST"): Body(actor="second_reviewer"),
    ("api-labels-import", "POST"): Body(
        lambda s: {
            "rows": [
                {
                    "external_id": s.second_transcript.external_id,
                    "clause_key": CLAUSE_KEYS[0],
                    "reviewer": s.p.second_reviewer.email,
                    "verdict": "violates",
                }
            ]
        }
    ),
    ("api-assignment-submit", "POST"): Body(actor="reviewer"),
    ("api-assignment-skip", "POST"): Body(lambda s: dict(_SKIP), actor="reviewer"),
    ("api-item-labels", "POST"): Body(
        lambda s: {
            "labels": [
                {"clause": CLAUSE_KEYS[0], "verdict": "violates", "revision": _label_revision(s)}
            ]
        },
        actor="reviewer",
    ),
    ("api-label-detail", "PATCH"): Body(
        lambda s: {"verdict": "violates", "revision": _label_revision(s)}, actor="reviewer"
    ),
    # --- routes that name only the workspace, with a body that names objects ----------------
    ("reviews:campaign-create", "POST"): Body(
        lambda s: {
            "title": "Second pass",
            "spec_version": s.version.pk,
            "scope": "all",
            "source": "all",
            "reviewers_per_item": 2,
            "blind": "on",
            "verdict_preset": "default",
            "reviewers": [s.p.reviewer.email, s.p.second_reviewer.email],
            "open_now": "on",
        }
    ),
    ("api-campaign-list", "POST"): Body(
        lambda s: {
            "title": "Second pass",
            "spec_version": s.version.pk,
            "transcript_ids": [s.transcript.pk, s.second_transcript.pk],
            "reviewers": [s.p.reviewer.email, s.p.second_reviewer.email],
            "reviewers_per_item": 2,
            "open": True,
        }
    ),
}

# Writes to routes that name only the workspace and whose body names no object either: sent
# to the outsider's own workspace they would rightly succeed there, so the sweep leaves them.
NAMES_NO_OBJECT: dict[str, str] = {
    "workspace-members": "an invitation names an email address and a role",
    "specs:spec-list": "a new spec's slug and title",
    "api-spec-list": "a new spec's slug and title",
    "transcripts:import-create": "an upload and its options",
    "api-import-list": "an upload, or records, and their options",
}

# Plain function views answer any method, so the sweep sends them GET and POST. These are read
# pages that never look at a POST's body; the control test proves a POST there writes nothing.
READ_PAGES: dict[str, str] = {
    "workspace-dashboard": "the workspace's dashboard",
    "transcripts:transcript-list": "transcripts",
    "transcripts:transcript-detail": "a transcript",
    "transcripts:import-list": "imports",
    "transcripts:import-detail": "an import's progress",
    "transcripts:scenario-list": "scenarios",
    "transcripts:scenario-detail": "a scenario",
    "reviews:campaign-list": "campaigns",
    "reviews:campaign-detail": "a campaign",
    "reviews:queue": "the reviewer's queue",
}

READ_METHODS = frozenset({"GET", "HEAD"})
# DRF answers OPTIONS with the endpoint's description before any lookup: it names no object, so
# it must answer the same for the victim's ids as for ids that exist nowhere.
DESCRIBE_METHODS = frozenset({"OPTIONS"})


def is_write(route_name: str | None, method: str) -> bool:
    """Whether ``method`` on this route needs a body from :data:`BODIES`."""
    if method in READ_METHODS or method in DESCRIBE_METHODS:
        return False
    return not (method == "POST" and route_name in READ_PAGES)


def missing_body_hint(route_name: str | None, method: str, path: str) -> str:
    """The line to add to :data:`BODIES` for a write that has none."""
    api = path.startswith("/api/")
    return (
        f'    ("{route_name}", "{method}"): Body(lambda s: {{...}}),'
        f"   # {path}: a {'JSON' if api else 'form'} body the victim's member succeeds with"
        " (see Body for actor, prepare and url)"
    )
