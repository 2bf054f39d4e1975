"""Every URL pattern, and a sample value for every URL argument (T07, T11).

The route sweeps in ``tests/test_security_routes.py`` walk the whole URLconf. A route whose
argument has no entry in ``KWARG_SAMPLES`` makes them fail on purpose: a new route must say here
which object of the persona workspace its argument names, so the sweep can prove an outsider
gets 404 for it.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.urls import URLPattern, URLResolver
from django.urls.resolvers import RegexPattern, RoutePattern

from tests.personas import Personas


@dataclass
class Route:
    """One URL pattern with its full route text and the converters of its arguments."""

    route: str
    name: str | None
    callback: Callable[..., Any]
    converters: dict[str, str] = field(default_factory=dict)
    regex: bool = False

    def build(self, values: dict[str, str]) -> str:
        """The path with every argument replaced by ``values[name]`` (route patterns only)."""
        path = self.route
        for name, converter in self.converters.items():
            for token in (f"<{converter}:{name}>", f"<{name}>"):
                path = path.replace(token, str(values[name]))
        return "/" + path


def accepted_methods(callback: Callable[..., Any]) -> list[str]:
    """The HTTP methods a view answers with something other than 405, read from the view
    itself: a class view's handlers (DRF's ``OPTIONS`` included), else the method list of a
    ``require_http_methods`` decorator (``require_POST``, ``require_safe``...) anywhere in the
    stack of decorators, else GET and POST (a plain function view answers any method)."""
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        methods = [m.upper() for m in view_class.http_method_names if hasattr(view_class, m)]
        if "GET" in methods and "HEAD" not in methods:
            methods.append("HEAD")  # View.setup() answers HEAD with the GET handler
        return methods
    func: Any = callback
    while func is not None:
        code = getattr(func, "__code__", None)
        if code is not None and "request_method_list" in code.co_freevars:
            cell = func.__closure__[code.co_freevars.index("request_method_list")]
            return [m.upper() for m in cell.cell_contents]
        func = getattr(func, "__wrapped__", None)
    return ["GET", "POST"]


_ROUTE_ARG = re.compile(r"<(?:(\w+):)?(\w+)>")


def _converter_names(pattern: Any) -> dict[str, str]:
    # Read the pattern's own text: Django shares and merges converter dicts between nested
    # resolvers once it has resolved a request, so ``pattern.converters`` can hold a parent's.
    if isinstance(pattern, RoutePattern):
        return {name: kind or "str" for kind, name in _ROUTE_ARG.findall(str(pattern))}
    if isinstance(pattern, RegexPattern):
        return dict.fromkeys(pattern.regex.groupindex, "regex")
    return {}


def iter_routes(
    resolver: URLResolver, prefix: str = "", namespace: str = "", converters=None
) -> Iterator[Route]:
    """Every URL pattern under ``resolver``, with namespaced names."""
    converters = converters or {}
    for entry in resolver.url_patterns:
        text = str(entry.pattern)
        is_regex = isinstance(entry.pattern, RegexPattern)
        if is_regex:
            text = text.lstrip("^").rstrip("$").replace("\\Z", "")
        merged = {**converters, **_converter_names(entry.pattern)}
        if isinstance(entry, URLResolver):
            child_ns = namespace
            if entry.namespace:
                child_ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from iter_routes(entry, prefix + text, child_ns, merged)
        elif isinstance(entry, URLPattern):
            name = entry.name
            if name and namespace:
                name = f"{namespace}:{name}"
            yield Route(
                route=prefix + text,
                name=name,
                callback=entry.callback,
                converters=merged,
                regex=is_regex or any(v == "regex" for v in merged.values()),
            )


# --- Sample objects in the persona workspace -------------------------------------------------
#: The clauses of the sample version, in document order.
CLAUSE_KEYS = ("sample_clause", "second_clause", "third_clause")


def _add_clauses(version: Any, keys: tuple[str, ...]) -> None:
    from specs.models import Clause

    for position, key in enumerate(keys, start=1):
        Clause.objects.create(
            version=version,
            key=key,
            title=key.replace("_", " ").capitalize(),
            level=1,
            position=position,
            body=f"The assistant should follow {key}.",
        )
    version.clause_count = len(keys)
    version.save(update_fields=["clause_count"])


class Samples:
    """Objects of the persona workspace, built on first use.

    They form one coherent world, so that a write naming them would succeed for the right
    member (``tests/route_bodies.py`` proves it): a published version and a draft after it, an
    open campaign on the published one with both reviewers seated (k = 2) and one item per
    transcript, the reviewer's claimed assignment with a draft verdict on every clause, a failed
    import that can be retried.
    """

    def __init__(self, personas: Personas) -> None:
        self.p = personas

    def build_all(self) -> Samples:
        """Create every sample now. Call it before any savepoint that is rolled back: an object
        first built inside one would vanish from the database but stay cached here."""
        for name, value in vars(type(self)).items():
            if isinstance(value, cached_property):
                getattr(self, name)
        return self

    @cached_property
    def membership(self):  # type: ignore[no-untyped-def]
        return self.p.workspace.memberships.get(user=self.p.viewer)

    @cached_property
    def spec(self):  # type: ignore[no-untyped-def]
        from specs.models import Spec

        return Spec.objects.create(workspace=self.p.workspace, slug="sample-spec", title="Sample")

    @cached_property
    def version(self):  # type: ignore[no-untyped-def]
        """A published version with :data:`CLAUSE_KEYS` (what campaigns pin). Its clauses are
        written while it is a draft: database triggers freeze a published version."""
        from django.utils import timezone

        from specs.models import SpecVersion, VersionStatus

        version = SpecVersion.objects.create(spec=self.spec, label="2025-01-01")
        _add_clauses(version, CLAUSE_KEYS)
        version.status = VersionStatus.PUBLISHED
        version.published_at = timezone.now()
        version.save()
        return version

    @cached_property
    def draft_version(self):  # type: ignore[no-untyped-def]
        """A draft after the published version: what publishing and discarding act on."""
        from specs.models import SpecVersion

        version = SpecVersion.objects.create(spec=self.spec, label="2025-02-01")
        _add_clauses(version, (*CLAUSE_KEYS, "new_clause"))
        return version

    @cached_property
    def clause(self):  # type: ignore[no-untyped-def]
        return self.version.clauses.get(key=CLAUSE_KEYS[0])

    @cached_property
    def amendment(self):  # type: ignore[no-untyped-def]
        from specs.models import Amendment

        return Amendment.objects.create(
            spec=self.spec, base_version=self.version, title="Sample", author=self.p.editor
        )

    @cached_property
    def scenario(self):  # type: ignore[no-untyped-def]
        from transcripts.models import Scenario

        return Scenario.objects.create(
            workspace=self.p.workspace,
            source=Scenario.Source.TRANSCRIPT,
            origin_transcript=self.transcript,
            cut_before_turn=1,
            messages=[{"role": "user", "content": "hi"}],
            content_hash=hashlib.sha256(b"scenario").hexdigest(),
        )

    @cached_property
    def transcript_import(self):  # type: ignore[no-untyped-def]
        from transcripts.models import TranscriptImport

        # Failed with an unexpected error and its upload kept: what a retry acts on.
        return TranscriptImport.objects.create(
            workspace=self.p.workspace,
            created_by=self.p.editor,
            source="upload",
            errors=[],
            status=TranscriptImport.Status.FAILED,
            failure=TranscriptImport.Failure.ERROR,
            stored_path="imports/sample.jsonl",
            filename="sample.jsonl",
        )

    @cached_property
    def transcript(self):  # type: ignore[no-untyped-def]
        from transcripts.models import Transcript

        return Transcript.objects.create(
            workspace=self.p.workspace,
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}],
            message_count=2,
            content_hash=hashlib.sha256(b"transcript").hexdigest(),
            external_id="sample-1",
        )

    @cached_property
    def second_transcript(self):  # type: ignore[no-untyped-def]
        from transcripts.models import Transcript

        return Transcript.objects.create(
            workspace=self.p.workspace,
            messages=[{"role": "user", "content": "yo"}, {"role": "assistant", "content": "ok"}],
            message_count=2,
            content_hash=hashlib.sha256(b"second transcript").hexdigest(),
            external_id="sample-2",
        )

    @cached_property
    def campaign(self):  # type: ignore[no-untyped-def]
        """Open, blind, k = 2, both reviewers seated, every clause of ``version`` in scope."""
        from tests.reviews.factories import make_campaign

        return make_campaign(
            self.p.workspace,
            created_by=self.p.owner,
            reviewers=[self.p.reviewer, self.p.second_reviewer],
            transcripts=[self.transcript, self.second_transcript],
            version=self.version,
            k=2,
        )

    @cached_property
    def assignment(self):  # type: ignore[no-untyped-def]
        """The reviewer's active assignment, claimed through the service."""
        from reviews.services.campaigns import item_claim_next

        return item_claim_next(campaign=self.campaign, reviewer=self.p.reviewer)

    @cached_property
    def item(self):  # type: ignore[no-untyped-def]
        return self.assignment.item

    @cached_property
    def labels(self):  # type: ignore[no-untyped-def]
        """The reviewer's draft verdicts on every clause of the item (so it can be submitted)."""
        from reviews.services.labels.core import LabelInput
        from reviews.services.labels.save import labels_save

        clauses = self.version.clauses.order_by("position")
        return labels_save(
            assignment=self.assignment,
            reviewer=self.p.reviewer,
            labels=[LabelInput(clause=c.pk, verdict="complies") for c in clauses],
        ).labels

    @cached_property
    def label(self):  # type: ignore[no-untyped-def]
        return next(label for label in self.labels if label.clause_id == self.clause.pk)

    @cached_property
    def comment(self):  # type: ignore[no-untyped-def]
        from reviews.models import Comment

        return Comment.objects.create(
            workspace=self.p.workspace,
            item=self.item,
            clause=self.clause,
            author=self.p.reviewer,
            body="Sample",
        )

    @cached_property
    def decision(self):  # type: ignore[no-untyped-def]
        from reviews.models import GoldDecision

        return GoldDecision.objects.create(
            workspace=self.p.workspace,
            campaign=self.campaign,
            item=self.item,
            clause=self.clause,
            spec_version=self.version,
            transcript=self.transcript,
            kind="adjudicated",
            verdict="violates",
            rationale="Sample",
            decided_by=self.p.adjudicator,
        )

    @cached_property
    def gold_export(self):  # type: ignore[no-untyped-def]
        from reviews.models import GoldExport

        return GoldExport.objects.create(workspace=self.p.workspace, format="jsonl")

    @cached_property
    def endpoint(self):  # type: ignore[no-untyped-def]
        from reviews.models import ModelEndpoint

        return ModelEndpoint.objects.create(
            workspace=self.p.workspace,
            name="Sample",
            base_url="https://api.example.test/v1",
            model="m",
        )

    @cached_property
    def job(self):  # type: ignore[no-untyped-def]
        from reviews.models import RerunJob

        return RerunJob.objects.create(workspace=self.p.workspace, created_by=self.p.editor)

    @cached_property
    def token(self):  # type: ignore[no-untyped-def]
        from clausebook import services

        return services.api_token_create(user=self.p.viewer, name="sample")[0]

    @cached_property
    def invitee(self):  # type: ignore[no-untyped-def]
        """Someone with an account who is invited to the workspace and not a member yet."""
        from tests.factories import UserFactory

        return UserFactory(email="invitee@policy.test")

    @cached_property
    def invitation_sent(self):  # type: ignore[no-untyped-def]
        """A pending invitation for ``invitee``, emailed, and the path of its link."""
        from clausebook.models import Role
        from tests.factories import send_invitation

        return send_invitation(
            self.p.workspace, email=self.invitee.email, role=Role.REVIEWER, invited_by=self.p.owner
        )

    @cached_property
    def invitation(self):  # type: ignore[no-untyped-def]
        return self.invitation_sent[0]


# URL argument name -> how to get its value for an object of the persona workspace.
# A route with an argument missing here fails the sweeps: add a line for it.
KWARG_SAMPLES: dict[str, Callable[[Samples], Any]] = {
    "workspace": lambda s: s.p.workspace.slug,
    "membership_id": lambda s: s.membership.pk,
    "token_id": lambda s: s.token.pk,
    "spec": lambda s: s.spec.slug,
    "spec_slug": lambda s: s.spec.slug,
    "spec_id": lambda s: s.spec.pk,
    "version": lambda s: s.version.label,
    "label": lambda s: s.version.label,
    "version_id": lambda s: s.version.pk,
    "base": lambda s: s.version.label,
    "other": lambda s: s.version.label,
    "key": lambda s: s.clause.key,
    "clause": lambda s: s.clause.key,
    "clause_key": lambda s: s.clause.key,
    "clause_id": lambda s: s.clause.pk,
    "amendment_id": lambda s: s.amendment.pk,
    "scenario_id": lambda s: s.scenario.pk,
    "import_id": lambda s: s.transcript_import.pk,
    "transcript_id": lambda s: s.transcript.pk,
    "campaign_id": lambda s: s.campaign.pk,
    "item_id": lambda s: s.item.pk,
    "assignment_id": lambda s: s.assignment.pk,
    "label_id": lambda s: s.label.pk,
    "comment_id": lambda s: s.comment.pk,
    "decision_id": lambda s: s.decision.pk,
    "adjudication_id": lambda s: s.decision.pk,
    "endpoint_id": lambda s: s.endpoint.pk,
    "export_id": lambda s: s.gold_export.pk,
    "job_id": lambda s: s.job.pk,
    "invitation_id": lambda s: s.invitation.pk,
}

# Values for anonymous crawling (T11), where no object needs to exist.
DUMMY_BY_CONVERTER = {
    "int": "1",
    "slug": "x",
    "str": "x",
    "path": "x",
    "uuid": str(uuid.UUID(int=1)),
}


# --- amendments (issue 12): one change on the sample amendment, as the service records it ---
def _amendment_change(self):  # type: ignore[no-untyped-def]
    from specs.models import AmendmentChange

    clause = self.clause
    return AmendmentChange.objects.create(
        amendment=self.amendment,
        kind=AmendmentChange.Kind.CHANGE_CLAUSE,
        clause_key=clause.key,
        base={
            "key": clause.key,
            "title": clause.title,
            "body": clause.body,
            "authority": clause.authority,
            "tags": list(clause.tags),
            "parent_key": None,
            "examples": [],
        },
        payload={"title": "A clearer title"},
    )


Samples.amendment_change = cached_property(_amendment_change)  # type: ignore[attr-defined]
Samples.amendment_change.__set_name__(Samples, "amendment_change")  # type: ignore[attr-defined]
KWARG_SAMPLES["change_id"] = lambda s: s.amendment_change.pk


# --- judges (issue 13): a judge run of the sample endpoint on the sample campaign ---
def _judge_run(self):  # type: ignore[no-untyped-def]
    from reviews.models import JudgeRun, ModelEndpoint

    # An endpoint of its own: a run protects its endpoint, and the sweep deletes the sample one.
    endpoint = ModelEndpoint.objects.create(
        workspace=self.p.workspace,
        name="Judge sample",
        base_url="https://api.example.test/v1",
        model="judge",
    )
    return JudgeRun.objects.create(
        workspace=self.p.workspace,
        campaign=self.campaign,
        endpoint=endpoint,
        prompt_version="judge-v1",
        created_by=self.p.owner,
        calls_total=4,
    )


Samples.judge_run = cached_property(_judge_run)  # type: ignore[attr-defined]
Samples.judge_run.__set_name__(Samples, "judge_run")  # type: ignore[attr-defined]
KWARG_SAMPLES["judge_run_id"] = lambda s: s.judge_run.pk


# --- re-runs (issue 13): a queued job of its own endpoint on one import scenario ---
def _rerun_job(self):  # type: ignore[no-untyped-def]
    from reviews.models import ModelEndpoint, ModelRun, RerunJob
    from transcripts.models import Scenario

    endpoint = ModelEndpoint.objects.create(
        workspace=self.p.workspace, name="Re-run sample", base_url="https://1.1.1.1/v1", model="m"
    )
    scenario = Scenario.objects.create(
        workspace=self.p.workspace,
        source=Scenario.Source.IMPORT,
        messages=[{"role": "user", "content": "Route sample?"}],
        content_hash="f" * 64,
    )
    job = RerunJob.objects.create(workspace=self.p.workspace, created_by=self.p.owner)
    ModelRun.objects.create(job=job, scenario=scenario, endpoint=endpoint)
    return job


Samples.rerun_job = cached_property(_rerun_job)  # type: ignore[attr-defined]
Samples.rerun_job.__set_name__(Samples, "rerun_job")  # type: ignore[attr-defined]
KWARG_SAMPLES["job_id"] = lambda s: s.rerun_job.pk


# --- amendment discussions (issue 12): a comment of the owner's on the sample amendment ---
def _amendment_comment(self):  # type: ignore[no-untyped-def]
    from reviews.models import Comment

    return Comment.objects.create(
        workspace=self.p.workspace, amendment=self.amendment, author=self.p.owner, body="Sample"
    )


Samples.amendment_comment = cached_property(_amendment_comment)  # type: ignore[attr-defined]
Samples.amendment_comment.__set_name__(Samples, "amendment_comment")  # type: ignore[attr-defined]


# --- an amendment's motivating cases (issue 12): the sample item against a second clause ---
def _amendment_case(self):  # type: ignore[no-untyped-def]
    from reviews.models import AmendmentCase

    return AmendmentCase.objects.create(
        workspace=self.p.workspace,
        amendment=self.amendment,
        item=self.item,
        clause=self.version.clauses.get(key=CLAUSE_KEYS[1]),
        linked_by=self.p.owner,
    )


Samples.amendment_case = cached_property(_amendment_case)  # type: ignore[attr-defined]
Samples.amendment_case.__set_name__(Samples, "amendment_case")  # type: ignore[attr-defined]
KWARG_SAMPLES["case_id"] = lambda s: s.amendment_case.pk  # type: ignore[attr-defined]


# --- adding to a campaign (issue 13): a transcript the sample campaign does not hold yet ---
def _spare_transcript(self):  # type: ignore[no-untyped-def]
    from transcripts.models import Transcript

    return Transcript.objects.create(
        workspace=self.p.workspace,
        messages=[{"role": "user", "content": "late"}, {"role": "assistant", "content": "ok"}],
        message_count=2,
        content_hash=hashlib.sha256(b"spare transcript").hexdigest(),
        external_id="sample-spare",
    )


Samples.spare_transcript = cached_property(_spare_transcript)  # type: ignore[attr-defined]
Samples.spare_transcript.__set_name__(Samples, "spare_transcript")  # type: ignore[attr-defined]
