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
class Samples:
    """Objects of the persona workspace, built on first use."""

    def __init__(self, personas: Personas) -> None:
        self.p = personas

    @cached_property
    def membership(self):  # type: ignore[no-untyped-def]
        return self.p.workspace.memberships.get(user=self.p.viewer)

    @cached_property
    def spec(self):  # type: ignore[no-untyped-def]
        from specs.models import Spec

        return Spec.objects.create(workspace=self.p.workspace, slug="sample-spec", title="Sample")

    @cached_property
    def version(self):  # type: ignore[no-untyped-def]
        from specs.models import SpecVersion

        return SpecVersion.objects.create(spec=self.spec, label="2025-01-01")

    @cached_property
    def clause(self):  # type: ignore[no-untyped-def]
        from specs.models import Clause

        return Clause.objects.create(
            version=self.version, key="sample_clause", title="Sample clause", level=1, position=1
        )

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
            source="transcript",
            messages=[{"role": "user", "content": "hi"}],
            content_hash=hashlib.sha256(b"scenario").hexdigest(),
        )

    @cached_property
    def transcript_import(self):  # type: ignore[no-untyped-def]
        from transcripts.models import TranscriptImport

        return TranscriptImport.objects.create(
            workspace=self.p.workspace, created_by=self.p.editor, source="upload", errors=[]
        )

    @cached_property
    def transcript(self):  # type: ignore[no-untyped-def]
        from transcripts.models import Transcript

        return Transcript.objects.create(
            workspace=self.p.workspace,
            messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}],
            content_hash=hashlib.sha256(b"transcript").hexdigest(),
            external_id="sample-1",
        )

    @cached_property
    def campaign(self):  # type: ignore[no-untyped-def]
        from reviews.models import Campaign

        return Campaign.objects.create(
            workspace=self.p.workspace,
            title="Sample campaign",
            spec_version=self.version,
            created_by=self.p.owner,
        )

    @cached_property
    def item(self):  # type: ignore[no-untyped-def]
        from reviews.models import Item

        return Item.objects.create(
            campaign=self.campaign, transcript=self.transcript, position=1, open_slots=1
        )

    @cached_property
    def assignment(self):  # type: ignore[no-untyped-def]
        from reviews.models import Assignment

        return Assignment.objects.create(item=self.item, reviewer=self.p.reviewer)

    @cached_property
    def label(self):  # type: ignore[no-untyped-def]
        from reviews.models import Label

        return Label.objects.create(
            item=self.item,
            reviewer=self.p.reviewer,
            clause=self.clause,
            assignment=self.assignment,
        )

    @cached_property
    def comment(self):  # type: ignore[no-untyped-def]
        from reviews.models import Comment

        return Comment.objects.create(
            workspace=self.p.workspace, item=self.item, author=self.p.reviewer, body="Sample"
        )

    @cached_property
    def adjudication(self):  # type: ignore[no-untyped-def]
        from reviews.models import Adjudication

        return Adjudication.objects.create(
            item=self.item,
            clause=self.clause,
            verdict="violates",
            rationale="Sample",
            adjudicator=self.p.adjudicator,
        )

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
    "adjudication_id": lambda s: s.adjudication.pk,
    "endpoint_id": lambda s: s.endpoint.pk,
    "job_id": lambda s: s.job.pk,
}

# Values for anonymous crawling (T11), where no object needs to exist.
DUMMY_BY_CONVERTER = {
    "int": "1",
    "slug": "x",
    "str": "x",
    "path": "x",
    "uuid": str(uuid.UUID(int=1)),
}
