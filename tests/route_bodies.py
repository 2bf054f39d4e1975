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


def _current_decision(samples: Samples) -> int | None:
    from reviews.models import GoldDecision

    samples.decision  # noqa: B018 - the sample pair's decision exists before the write
    return (
        GoldDecision.objects.current()
        .filter(item=samples.item, clause=samples.clause)
        .values_list("pk", flat=True)
        .first()
    )


def _gold_body(samples: Samples) -> dict[str, Any]:
    return {
        "clause": samples.clause.pk,
        "verdict": "complies",
        "rationale": "Settled on review.",
        "expected_decision": _current_decision(samples),
    }


def _gold_form(samples: Samples) -> dict[str, Any]:
    return {**_gold_body(samples), "expected_decision": _current_decision(samples) or ""}


def _reopen_body(samples: Samples) -> dict[str, Any]:
    return {
        "clause": samples.clause.pk,
        "reason": "New evidence.",
        "expected_decision": _current_decision(samples),
    }


_MARKDOWN = "# Be kind {#be_kind authority=user}\n\nAlways.\n"
_ALIAS = {"old_key": CLAUSE_KEYS[2], "new_key": "new_clause", "decision": "confirm"}
_SKIP = {"reason": "Outside my expertise."}


# --- disputes and threads (issue 11) ------------------------------------------------------------
def _comment_by_owner(samples: Samples) -> None:
    """The sample comment, authored by the owner (only an author edits a comment, and the
    reviewer who wrote it has not submitted: the blind thread is closed to them)."""
    from reviews.models import Comment

    Comment.objects.filter(pk=samples.comment.pk).update(author=samples.p.owner)


def _comment_edit(samples: Samples) -> dict[str, Any]:
    from reviews.models import Comment

    revision = Comment.objects.values_list("revision", flat=True).get(pk=samples.comment.pk)
    return {"body": "Edited sample", "revision": revision}


def _disputed(samples: Samples) -> None:
    """The reviewer submits the sample item and the second reviewer disagrees on every clause."""
    from reviews.models import Assignment
    from reviews.services.campaigns import item_claim_next
    from reviews.services.labels.core import LabelInput
    from reviews.services.labels.save import labels_save
    from reviews.services.labels.submit import assignment_submit

    mine = Assignment.objects.get(pk=samples.assignment.pk)
    assignment_submit(assignment=mine, reviewer=samples.p.reviewer)
    other = item_claim_next(campaign=samples.campaign, reviewer=samples.p.second_reviewer)
    labels_save(
        assignment=other,
        reviewer=samples.p.second_reviewer,
        labels=[LabelInput(clause=key, verdict="violates") for key in CLAUSE_KEYS],
        submit=True,
    )


def _revise(samples: Samples) -> dict[str, Any]:
    """The reviewer's label on the second clause (the sample decision settled the first)."""
    from reviews.models import Label

    revision = Label.objects.values_list("revision", flat=True).get(
        item=samples.item, reviewer=samples.p.reviewer, clause__key=CLAUSE_KEYS[1]
    )
    return {"verdict": "violates", "severity": "", "rationale": "", "revision": revision}


_SECOND_CLAUSE = {"clause_key": lambda s: CLAUSE_KEYS[1]}


DISPUTE_BODIES: dict[tuple[str, str], Body] = {
    ("reviews:comment-create", "POST"): Body(lambda s: {"body": "Sample comment"}),
    ("reviews:comment-edit", "POST"): Body(_comment_edit, prepare=_comment_by_owner),
    ("reviews:label-revise", "POST"): Body(
        _revise, actor="reviewer", prepare=_disputed, url=_SECOND_CLAUSE
    ),
    ("api-thread-comments", "POST"): Body(lambda s: {"body": "Sample comment"}),
    ("api-comment-detail", "PATCH"): Body(_comment_edit, prepare=_comment_by_owner),
    ("api-label-revise", "POST"): Body(
        _revise, actor="reviewer", prepare=_disputed, url=_SECOND_CLAUSE
    ),
}

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
    # --- adjudication (HTML and API): against the sample decision the adjudicator sees ----------
    ("reviews:adjudication-record", "POST"): Body(_gold_form, actor="adjudicator"),
    ("reviews:adjudication-reopen", "POST"): Body(_reopen_body, actor="adjudicator"),
    ("api-adjudication-record", "POST"): Body(_gold_body, actor="adjudicator"),
    ("api-adjudication-reopen", "POST"): Body(_reopen_body, actor="adjudicator"),
    # --- disputes and threads (issue 11) ---
    **DISPUTE_BODIES,
    # --- gold exports (issue 11): the filters name a campaign, so another workspace's is a 400 ---
    ("reviews:gold-export-create", "POST"): Body(
        lambda s: {"format": "jsonl", "campaign": s.campaign.pk}
    ),
    ("api-gold-export-create", "POST"): Body(
        lambda s: {"format": "jsonl", "filters": {"campaign": s.campaign.pk}}
    ),
}

# Writes to routes that name only the workspace and whose body names no object either: sent
# to the outsider's own workspace they would rightly succeed there, so the sweep leaves them.
NAMES_NO_OBJECT: dict[str, str] = {
    "workspace-members": "an invitation names an email address and a role",
    "workspace-settings": "a number of approvals",
    "api-workspace-detail": "a number of approvals",
    "specs:spec-list": "a new spec's slug and title",
    "api-spec-list": "a new spec's slug and title",
    "transcripts:import-create": "an upload and its options",
    "api-import-list": "an upload, or records, and their options",
    # --- disputes and threads (issue 11) ---
    "reviews:notifications-read": "marks the caller's own notifications read",
    "api-notifications-read": "marks the caller's own notifications read (others' ids ignored)",
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


# --- amendments and drafts (issue 12) -----------------------------------------------------
# The sample amendment is the editor's; the owner (an admin) may approve, merge and close it.
def _amendment_revision(samples: Samples) -> int:
    from specs.models import Amendment

    return Amendment.objects.values_list("revision", flat=True).get(pk=samples.amendment.pk)


def _approved(samples: Samples) -> None:
    """The owner's approval of the current revision: what a merge needs."""
    from specs.models import AmendmentApproval

    samples.amendment_change  # noqa: B018 - the change to merge
    AmendmentApproval.objects.create(
        amendment=samples.amendment, user=samples.p.owner, revision=_amendment_revision(samples)
    )


def _no_draft(samples: Samples) -> None:
    """A spec has one draft at a time: starting one needs the sample draft gone."""
    from specs.models import SpecVersion

    SpecVersion.objects.filter(pk=samples.draft_version.pk).delete()


_REV: Data = lambda s: {"revision": _amendment_revision(s)}  # noqa: E731
_AMENDMENT_EDIT: Data = lambda s: {  # noqa: E731
    "revision": _amendment_revision(s),
    "title": "Sample, reworded",
    "rationale": "",
}
_PROPOSE: Data = lambda s: {"base_version": s.version.label, "title": "Another", "rationale": ""}  # noqa: E731
_CLOSE: Data = lambda s: {"revision": _amendment_revision(s), "state": "withdrawn"}  # noqa: E731
_DRAFT_LABEL: Data = lambda s: {"label": "2025-03-02"}  # noqa: E731
_DRAFT_FROM = {"label": lambda s: s.version.label}

BODIES.update(
    {
        ("specs:amendment-propose", "POST"): Body(_PROPOSE),
        ("specs:amendment-edit", "POST"): Body(_AMENDMENT_EDIT),
        ("specs:amendment-change-add", "POST"): Body(
            lambda s: {
                "revision": _amendment_revision(s),
                "kind": "change_clause",
                "clause_key": CLAUSE_KEYS[1],
                "title": "Another title",
            }
        ),
        ("specs:amendment-change-remove", "POST"): Body(_REV),
        ("specs:amendment-approve", "POST"): Body(_REV),
        ("specs:amendment-merge", "POST"): Body(_REV, prepare=_approved),
        ("specs:amendment-rebase", "POST"): Body(_REV),
        ("specs:amendment-close", "POST"): Body(_CLOSE),
        ("specs:draft-start", "POST"): Body(_DRAFT_LABEL, prepare=_no_draft, url=_DRAFT_FROM),
        ("api-amendment-list", "POST"): Body(_PROPOSE),
        ("api-amendment-detail", "PATCH"): Body(_AMENDMENT_EDIT),
        ("api-amendment-changes", "POST"): Body(
            lambda s: {
                "revision": _amendment_revision(s),
                "kind": "change_clause",
                "clause_key": CLAUSE_KEYS[1],
                "payload": {"title": "Another title"},
            }
        ),
        ("api-amendment-change-detail", "PATCH"): Body(
            lambda s: {"revision": _amendment_revision(s), "payload": {"title": "Other"}}
        ),
        ("api-amendment-change-detail", "DELETE"): Body(_REV),
        ("api-amendment-approve", "POST"): Body(_REV),
        ("api-amendment-merge", "POST"): Body(_REV, prepare=_approved),
        ("api-amendment-rebase", "POST"): Body(_REV),
        ("api-amendment-close", "POST"): Body(_CLOSE),
        ("api-draft-start", "POST"): Body(_DRAFT_LABEL, prepare=_no_draft, url=_DRAFT_FROM),
        # Importing makes a draft too: the sample draft must go first (one draft per spec).
        ("specs:version-import", "POST"): Body(
            lambda s: {"label": "2025-03-01", "markdown": _MARKDOWN}, prepare=_no_draft
        ),
        ("api-version-list", "POST"): Body(
            lambda s: {"label": "2025-03-01", "markdown": _MARKDOWN}, prepare=_no_draft
        ),
    }
)


# --- Promotion and re-review (issue 12, reviews side) ----------------------------------------

_CHANGED_LABEL = "2025-03-01"


def _labeled_then_changed(samples: Samples) -> None:
    """The reviewer's labels submitted against the sample version, then a newer published
    version where the first clause reads differently: what a re-review queues."""
    from django.utils import timezone

    from reviews.services.labels.submit import assignment_submit
    from specs.models import Clause, SpecVersion, VersionStatus
    from tests.route_samples import _add_clauses

    _no_draft(samples)  # one draft per spec: the newer version starts as one
    samples.labels  # noqa: B018  (built on first use)
    assignment_submit(assignment=samples.assignment, reviewer=samples.p.reviewer)
    newer = SpecVersion.objects.create(spec=samples.spec, label=_CHANGED_LABEL)
    _add_clauses(newer, CLAUSE_KEYS)
    Clause.objects.filter(version=newer, key=CLAUSE_KEYS[0]).update(body="Changed.")
    newer.status = VersionStatus.PUBLISHED
    newer.published_at = timezone.now()
    newer.save()


_CHANGED_CLAUSE = {"label": lambda s: _CHANGED_LABEL, "key": lambda s: CLAUSE_KEYS[0]}

BODIES.update(
    {
        ("reviews:gold-promote", "POST"): Body(),
        ("api-gold-promote", "POST"): Body(),
        ("reviews:clause-rereview-create", "POST"): Body(
            prepare=_labeled_then_changed, url=_CHANGED_CLAUSE
        ),
        ("api-clause-rereview", "POST"): Body(prepare=_labeled_then_changed, url=_CHANGED_CLAUSE),
    }
)


# --- Model endpoints (issue 13): admins; a public address literal, so saving resolves nothing --

_ENDPOINT_FORM = {
    "name": "Sample changed",
    "base_url": "https://1.1.1.1/v1",
    "model": "m2",
    "parameters": "",
    "timeout_seconds": "30",
    "concurrency": "4",
    "rate_limit_per_minute": "0",
}
_ENDPOINT_JSON = {"name": "Sample changed", "base_url": "https://1.1.1.1/v1", "model": "m2"}

BODIES.update(
    {
        ("reviews:endpoint-update", "POST"): Body(lambda s: dict(_ENDPOINT_FORM)),
        ("reviews:endpoint-delete", "POST"): Body(),
        ("api-endpoint-detail", "PUT"): Body(lambda s: dict(_ENDPOINT_JSON)),
        ("api-endpoint-detail", "PATCH"): Body(lambda s: {"model": "m2"}),
        ("api-endpoint-detail", "DELETE"): Body(),
    }
)
NAMES_NO_OBJECT.update(
    {
        "reviews:endpoint-create": "a new endpoint's name, URL and model",
        "api-endpoint-list": "a new endpoint's name, URL and model",
    }
)

# --- judges (issue 13): start a judge run of the sample endpoint on the sample campaign ---
BODIES.update(
    {
        ("reviews:judge-start", "POST"): Body(lambda s: {"endpoint": str(s.endpoint.pk)}),
        ("api-judge-run-list", "POST"): Body(lambda s: {"endpoint": s.endpoint.pk}),
        ("reviews:judge-run-cancel", "POST"): Body(lambda s: {}),
        ("api-judge-run-cancel", "POST"): Body(lambda s: {}),
    }
)


# --- re-runs (issue 13): the sample job's scenario on the sample endpoint ---
def _flag_rerun_scenario(samples: Samples) -> None:
    """The form offers only flagged scenarios: flag the sample job's one."""
    from transcripts.models import ScenarioFlag

    ScenarioFlag.objects.create(
        scenario_id=samples.rerun_job.runs.get().scenario_id,
        flagged_by=samples.p.reviewer,
        reason="Sample flag",
    )


BODIES.update(
    {
        ("reviews:rerun-create", "POST"): Body(
            lambda s: {
                "scenarios": [str(s.rerun_job.runs.get().scenario_id)],
                "endpoints": [str(s.endpoint.pk)],
                "samples": "1",
            },
            prepare=_flag_rerun_scenario,
        ),
        ("reviews:rerun-cancel", "POST"): Body(lambda s: {}),
        ("api-rerun-cancel", "POST"): Body(lambda s: {}),
        ("api-rerun-list", "POST"): Body(
            lambda s: {
                "scenario_ids": [s.rerun_job.runs.get().scenario_id],
                "endpoint_ids": [s.endpoint.pk],
                "samples": 1,
            }
        ),
    }
)
NAMES_NO_OBJECT.update(
    {
        "reviews:rerun-create": "a new job's scenarios and endpoints",
        "reviews:rerun-compare": "two jobs chosen in the query",
        "api-rerun-compare": "two jobs chosen in the query",
        "api-rerun-list": "a new job's scenarios and endpoints",
    }
)


# --- amendment discussions (issue 12): the owner posts, and edits their own comment ---
def _amendment_comment_edit(samples: Samples) -> dict[str, Any]:
    from reviews.models import Comment

    comment = samples.amendment_comment  # type: ignore[attr-defined]
    revision = Comment.objects.values_list("revision", flat=True).get(pk=comment.pk)
    return {"body": "Edited sample", "revision": revision}


BODIES.update(
    {
        ("reviews:amendment-comment-create", "POST"): Body(lambda s: {"body": "Sample comment"}),
        ("reviews:amendment-comment-edit", "POST"): Body(
            _amendment_comment_edit,
            url={"comment_id": lambda s: s.amendment_comment.pk},  # type: ignore[attr-defined]
        ),
    }
)


# --- flagging a scenario for a re-run (issue 13): the item's reviewer flags its transcript ---
BODIES.update(
    {
        ("reviews:scenario-flag", "POST"): Body(
            lambda s: {"reason": "Sample reason", "clause": ""}, actor="reviewer"
        ),
    }
)


# --- an amendment's motivating cases (issue 12): the owner links the sample gold decision ---
_CASE_URL = {"case_id": lambda s: s.amendment_case.pk}  # type: ignore[attr-defined]
BODIES.update(
    {
        ("reviews:amendment-case-link", "POST"): Body(lambda s: {"decision": s.decision.pk}),
        ("api-amendment-cases", "POST"): Body(lambda s: {"decision": s.decision.pk}),
        ("reviews:amendment-case-unlink", "POST"): Body(url=_CASE_URL),
        ("api-amendment-case", "DELETE"): Body(url=_CASE_URL),
    }
)


# --- adding transcripts to a campaign (issue 13): the sample campaign takes the spare one ---
BODIES.update(
    {
        ("reviews:campaign-items-add", "POST"): Body(
            lambda s: {"source": "ids", "ids": str(s.spare_transcript.pk)}  # type: ignore[attr-defined]
        ),
        ("api-campaign-items", "POST"): Body(
            lambda s: {"transcript_ids": [s.spare_transcript.pk]}  # type: ignore[attr-defined]
        ),
    }
)
