"""Route sweeps over the whole URLconf: the anonymous surface (T11) and cross-tenant access (T07).

All walk ``get_resolver()``, so a route added anywhere is covered the moment it exists. A route
with a URL argument that ``tests/route_samples.py`` does not know, or a write that
``tests/route_bodies.py`` has no body for, fails the sweep until someone registers it.

The cross-tenant sweeps go two ways: the outsider at the victim's workspace URL (the membership
check), and the outsider in their own workspace naming the victim's objects, every method with
a body that succeeds for the victim's own member (the object lookup), with every application
table compared before and after each request.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone

from clausebook import services
from clausebook.models import ApiToken, AuditEvent, Membership, Role
from tests.factories import send_invitation
from tests.route_bodies import (
    BODIES,
    DESCRIBE_METHODS,
    NAMES_NO_OBJECT,
    READ_PAGES,
    Body,
    is_write,
    missing_body_hint,
)
from tests.route_samples import (
    CLAUSE_KEYS,
    DUMMY_BY_CONVERTER,
    KWARG_SAMPLES,
    Route,
    Samples,
    accepted_methods,
    iter_routes,
)

pytestmark = pytest.mark.django_db

# Pages an anonymous visitor may load. Everything else answers 302 to the sign-in page, 401,
# 403, 404 or 405. The API schema and its docs are public on purpose: they describe the API's
# shape (the same as the source code of this open-source project) and expose no data.
PUBLIC_ROUTES = {
    "healthz",
    "account_login",
    "account_signup",
    "account_inactive",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_email_verification_sent",
    "account_confirm_email",
    "invitation-accept",
    "api-schema",
    "api-docs",
}
# Redirects that lead an anonymous visitor to a page that itself asks them to sign in.
HARMLESS_REDIRECTS = {"admin:logout": "/admin/"}
GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")


def _fill_regex(route: Route) -> str:
    def value(match: re.Match[str]) -> str:
        pattern = match.group(2)
        if "|" in pattern:
            return pattern.split("|")[0]
        return "1" if re.fullmatch(pattern, "1") else "x"

    return "/" + GROUP.sub(value, route.route)


def _anonymous_path(route: Route) -> str:
    if route.regex:
        return _fill_regex(route)
    return route.build({name: DUMMY_BY_CONVERTER[kind] for name, kind in route.converters.items()})


def _all_routes() -> list[Route]:
    return list(iter_routes(get_resolver()))


def _is_login_redirect(response) -> bool:  # type: ignore[no-untyped-def]
    return response.status_code == 302 and response["Location"].startswith(
        (reverse("account_login"), reverse("admin:login"))
    )


def test_t11_an_anonymous_visitor_reaches_only_the_public_pages():
    client = Client()
    leaks = []
    for route in _all_routes():
        if route.name in PUBLIC_ROUTES:
            continue
        path = _anonymous_path(route)
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            if response.status_code in {401, 403, 404, 405} or _is_login_redirect(response):
                continue
            if response.status_code == 302 and HARMLESS_REDIRECTS.get(route.name) == response.get(
                "Location"
            ):
                continue
            leaks.append(
                f"{method.upper()} {path} ({route.name}) -> {response.status_code} "
                f"{response.get('Location', '')}"
            )
    assert not leaks, "Reachable without signing in:\n" + "\n".join(leaks)


def test_t11_the_public_allow_list_names_routes_that_exist():
    names = {route.name for route in _all_routes()}
    assert names >= PUBLIC_ROUTES, PUBLIC_ROUTES - names


def test_t11_the_api_answers_401_to_anonymous_callers():
    response = Client().get(reverse("api-workspace-list"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def _workspace_routes() -> list[Route]:
    return [route for route in _all_routes() if "workspace" in route.converters]


def test_t07_every_workspace_route_argument_has_a_sample():
    unknown = sorted(
        {
            f"  {name!r}: lambda s: s.<object in the persona workspace>.pk,"
            f"   # used by {route.name} ({route.route})"
            for route in _workspace_routes()
            for name in route.converters
            if name not in KWARG_SAMPLES
        }
    )
    assert not unknown, (
        "These URL arguments have no sample value. Add them to KWARG_SAMPLES in "
        "tests/route_samples.py (and a Samples property if the object is new):\n"
        + "\n".join(unknown)
    )


def _snapshot(personas) -> tuple:  # type: ignore[no-untyped-def]
    return (
        AuditEvent.objects.count(),
        sorted(Membership.objects.filter(workspace=personas.workspace).values_list("pk", "role")),
    )


@pytest.mark.parametrize("api", [False, True], ids=["html", "api"])
def test_t07_an_outsider_gets_404_on_every_route_of_another_workspace(personas, api):
    samples = Samples(personas)
    routes = [r for r in _workspace_routes() if r.route.startswith("api/") == api]
    assert routes
    values_for = {}
    for route in routes:
        if any(name not in KWARG_SAMPLES for name in route.converters):
            pytest.fail("unregistered URL argument; see test_t07_every_workspace_route_argument")
        values_for[route.route] = {name: KWARG_SAMPLES[name](samples) for name in route.converters}
    before = _snapshot(personas)
    client = personas.client_for(personas.outsider)  # admin of another workspace
    methods = ["get", "post", "put", "patch", "delete"] if api else ["get", "post"]
    wrong = []
    for route in routes:
        path = route.build(values_for[route.route])
        for method in methods:
            kwargs = {"content_type": "application/json", "data": "{}"} if method != "get" else {}
            response = getattr(client, method)(path, **kwargs)
            # 405 for a method the route does not offer is fine; it reveals nothing.
            if response.status_code not in {404, 405}:
                wrong.append(f"{method.upper()} {path} ({route.name}) -> {response.status_code}")
    assert not wrong, "An outsider must get 404 on every route:\n" + "\n".join(wrong)
    assert _snapshot(personas) == before, "an outsider's request changed data"


def test_t07_the_sweep_would_catch_a_view_that_forgets_the_access_helper(personas):
    """The sample values are real objects of the persona workspace, so a view that skipped the
    access helper would find them and answer 200: the sweep is not vacuous."""
    samples = Samples(personas)
    membership = KWARG_SAMPLES["membership_id"](samples)
    assert Membership.objects.get(pk=membership).workspace == personas.workspace


LEAKY_PARAMS = {
    "user__password__startswith": "pbkdf2",
    "reviewer__password__startswith": "pbkdf2",
    "created_by__password__regex": "^p",
    "ordering": "-reviewer__password",
    "workspace__slug": "other-org",
    "workspace": "other-org",
}


def test_t10_client_filter_keys_never_reach_the_orm(personas):
    """Every API GET route answers the same with or without ORM-shaped filter parameters."""
    samples = Samples(personas)
    client = personas.client_for(personas.owner)
    routes = [r for r in _workspace_routes() if r.route.startswith("api/")]
    differing, probed_routes = [], 0
    for route in routes:
        values = {name: KWARG_SAMPLES[name](samples) for name in route.converters}
        if "workspace" in values:
            values["workspace"] = personas.workspace.slug
        path = route.build(values)
        plain = client.get(path)
        if plain.status_code != 200 or "json" not in plain.get("Content-Type", ""):
            continue
        probed_routes += 1
        probed = client.get(path, LEAKY_PARAMS)
        if probed.status_code not in {200, 400} or (
            probed.status_code == 200 and probed.json() != plain.json()
        ):
            differing.append(f"GET {path} ({route.name}) -> {probed.status_code}")
    assert probed_routes >= 15, f"only {probed_routes} API routes answered 200: the sweep is thin"
    assert not differing, "Filter parameters changed these responses:\n" + "\n".join(differing)


# --- T07 (issue 9): the outsider's own workspace, the victim's ids ---------------------------
# The sweep above sends the outsider to the victim's workspace URL, which proves the membership
# check only. Here the outsider stays in their own workspace (where they are admin, so every
# role check passes) and names the victim's objects: only the object lookup inside the
# workspace stands between them and the data. Every method a route accepts is sent, each write
# with a body the victim's member succeeds with (``tests/route_bodies.py``, proven by the
# control test below), and every application table must be unchanged after each request.

PROJECT_APPS = ("clausebook", "specs", "transcripts", "reviews")
# Routes whose argument names no object of a workspace, and why.
NOT_OBJECT_ROUTES = {
    "invitation-accept": "its argument is the invitation's secret: whoever holds it is invited",
}
NOWHERE_BY_CONVERTER = {
    "int": "2147483647",
    "slug": "no-such-object",
    "str": "no-such-object",
    "path": "no-such-object",
    "uuid": str(uuid.UUID(int=2**128 - 1)),
}


def _view_module(route: Route) -> str:
    callback = route.callback
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None) or callback
    return view.__module__


def _project_routes() -> list[Route]:
    return [r for r in _all_routes() if _view_module(r).split(".")[0] in PROJECT_APPS]


def _object_routes() -> list[Route]:
    """Every route of the project's own apps whose URL names something besides the workspace."""
    return [
        route
        for route in _project_routes()
        if set(route.converters) - {"workspace"} and route.name not in NOT_OBJECT_ROUTES
    ]


def _workspace_writes() -> list[tuple[Route, str]]:
    """Writes to routes that name only the workspace: their body may name objects instead."""
    return [
        (route, method)
        for route in _project_routes()
        if set(route.converters) == {"workspace"}
        for method in accepted_methods(route.callback)
        if is_write(route.name, method)
    ]


def _app_tables() -> list[str]:
    """The tables of the application's models (many-to-many tables included). Sessions, the
    database cache table and the other frameworks' tables are not among them."""
    return sorted(
        {
            model._meta.db_table
            for label in PROJECT_APPS
            for model in django_apps.get_app_config(label).get_models(include_auto_created=True)
            if model._meta.managed and not model._meta.proxy
        }
    )


def _db_state(tables: list[str]) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of the full contents of each table, in one query."""
    quote = connection.ops.quote_name
    sql = " UNION ALL ".join(
        f"SELECT '{table}', count(*), "
        f"md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {quote(table)} t"
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {table: (rows, digest) for table, rows, digest in cursor.fetchall()}


class _Caller:
    """One persona's requests: a signed-in session for pages, a personal API token for the API
    (what a script uses)."""

    def __init__(self, user) -> None:  # type: ignore[no-untyped-def]
        self.page = Client()
        self.page.force_login(user)
        token, raw = services.api_token_create(user=user, name="route sweep")
        # Authentication writes last_used_at at most once a minute. Each attempt runs in a
        # savepoint that is rolled back, which would undo that write so that every request made
        # it again; a time ahead keeps authentication from writing at all.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() + timedelta(days=1))
        self.api = Client(headers={"Authorization": f"Bearer {raw}"})

    def send(self, method: str, path: str, data: dict | None = None):  # type: ignore[no-untyped-def]
        if path.startswith("/api/"):
            body = json.dumps(data) if data is not None else ""
            return self.api.generic(method, path, body, content_type="application/json")
        if method == "POST":
            return self.page.post(path, data or {})
        return self.page.generic(method, path)


@dataclass
class _Attempt:
    where: str
    response: Any = None
    changed: list[str] = field(default_factory=list)
    nowhere: Any = None  # the same request's answer for ids that exist nowhere, if asked
    error: Exception | None = None


def _attempt(  # noqa: PLR0913 - one request, fully described
    caller: _Caller,
    route: Route,
    method: str,
    body: Body | None,
    samples: Samples,
    tables: list[str],
    *,
    workspace: str | None = None,
    compare: bool = False,
    opens: bool = False,
) -> _Attempt:
    """Send one request inside a savepoint that is rolled back, so that every attempt starts
    from the same sample objects; report what it answered and which tables it changed, and
    with ``compare`` what the same request answers for ids that exist nowhere. With ``opens``
    the caller first opens the body's emailed link (the control's actor holds it)."""
    values = {name: KWARG_SAMPLES[name](samples) for name in route.converters}
    for name, value in (body.url if body else {}).items():
        values[name] = value(samples)
    if workspace is not None and "workspace" in values:
        values["workspace"] = workspace
    path = route.build(values)
    attempt = _Attempt(where=f"{method} {path} ({route.name})")
    try:
        with transaction.atomic():
            if body is not None and body.prepare is not None:
                body.prepare(samples)
            data = body.data(samples) if body is not None else None
            if opens and body is not None and body.opens is not None:
                caller.page.get(body.opens(samples))
            before = _db_state(tables)
            attempt.response = caller.send(method, path, data)
            after = _db_state(tables)
            attempt.changed = [
                f"{table} ({before[table][0]} -> {after[table][0]} rows)"
                for table in tables
                if before[table] != after[table]
            ]
            if compare:
                nowhere = {
                    name: NOWHERE_BY_CONVERTER[kind] for name, kind in route.converters.items()
                }
                if workspace is not None and "workspace" in nowhere:
                    nowhere["workspace"] = workspace
                attempt.nowhere = caller.send(method, route.build(nowhere), data)
            transaction.set_rollback(True)
    except Exception as error:  # a crash is a finding like any other, not the end of the sweep
        attempt.error = error
    return attempt


def _what_to_register(routes: list[Route]) -> list[str]:
    """The lines to add so that every argument has a sample and every write a body."""
    lines = set()
    for route in routes:
        for name in route.converters:
            if name not in KWARG_SAMPLES:
                lines.add(
                    f"tests/route_samples.py KWARG_SAMPLES:  {name!r}: lambda s: s.<object of the "
                    f"persona workspace>.pk,   # used by {route.name} ({route.route})"
                )
        for method in accepted_methods(route.callback):
            if is_write(route.name, method) and (route.name, method) not in BODIES:
                lines.add(
                    "tests/route_bodies.py BODIES:"
                    + missing_body_hint(route.name, method, "/" + route.route)
                )
    return sorted(lines)


def _workspace_writes_unregistered() -> list[str]:
    return sorted(
        "tests/route_bodies.py BODIES (if its body names objects, by id, slug or email):"
        + missing_body_hint(route.name, method, "/" + route.route)
        + f"\n    or NAMES_NO_OBJECT: {route.name!r}: '<why its body names no object>',"
        for route, method in _workspace_writes()
        if (route.name, method) not in BODIES and route.name not in NAMES_NO_OBJECT
    )


def test_t07_every_object_route_has_samples_and_every_write_a_body():
    missing = _what_to_register(_object_routes()) + _workspace_writes_unregistered()
    assert not missing, (
        "The cross-workspace sweep cannot send these routes a request that would succeed. "
        "Add:\n" + "\n".join(missing)
    )


def test_t07_every_registered_body_names_a_write_the_urlconf_has():
    routes = _project_routes()
    offered = {
        (route.name, method) for route in routes for method in accepted_methods(route.callback)
    }
    stale = sorted(f"{name} {method}" for name, method in BODIES if (name, method) not in offered)
    assert not stale, "tests/route_bodies.py BODIES names writes no route offers:\n" + "\n".join(
        stale
    )
    names = {route.name for route in routes}
    assert set(READ_PAGES) | set(NAMES_NO_OBJECT) <= names, (
        set(READ_PAGES) | set(NAMES_NO_OBJECT)
    ) - names


def _sweep_routes(api: bool) -> list[Route]:
    routes = [r for r in _object_routes() if r.route.startswith("api/") == api]
    assert routes
    missing = _what_to_register(routes)
    if missing:
        pytest.fail("Unregistered routes; add:\n" + "\n".join(missing))
    return routes


def _outsider_sweep(personas, routes: list[Route]) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
    """Every method of every route, as the outsider, in their own workspace, with the victim's
    ids: what answered other than 404, what changed a table, and what the API answered unlike
    the same request for ids that exist nowhere (OPTIONS describes the endpoint before any
    lookup: it needs only to answer alike). A page's 404 is not compared: it carries a fresh
    CSP nonce each time."""
    samples = Samples(personas).build_all()
    outsider = _Caller(personas.outsider)
    own = personas.other_workspace.slug
    # The outsider holds an invitation link of their own (to their workspace, for a friend): in
    # their session, the victim's invitation id instead of theirs must still be a 404.
    _, link = send_invitation(
        personas.other_workspace,
        email="friend@other.test",
        role=Role.VIEWER,
        invited_by=personas.outsider,
    )
    assert outsider.page.get(link).status_code == 302
    for home in (
        reverse("workspace-dashboard", args=[own]),
        reverse("api-workspace-detail", args=[own]),
    ):
        assert outsider.send("GET", home).status_code == 200, "the outsider is a member at home"
    tables = _app_tables()
    wrong, attempts = [], 0
    for route in routes:
        for method in accepted_methods(route.callback):
            body = BODIES[(route.name, method)] if is_write(route.name, method) else None
            api = route.route.startswith("api/")
            attempt = _attempt(
                outsider, route, method, body, samples, tables, workspace=own, compare=api
            )
            attempts += 1
            response, nowhere = attempt.response, attempt.nowhere
            if attempt.error is not None:
                wrong.append(f"{attempt.where} raised {attempt.error!r}")
                continue
            if nowhere is not None and (response.status_code, response.content) != (
                nowhere.status_code,
                nowhere.content,
            ):
                wrong.append(
                    f"{attempt.where} -> {response.status_code} {response.content[:200]!r}, "
                    f"unlike ids that exist nowhere: {nowhere.status_code} "
                    f"{nowhere.content[:200]!r}"
                )
            elif method not in DESCRIBE_METHODS and response.status_code != 404:
                location = response.get("Location", "")
                wrong.append(f"{attempt.where} -> {response.status_code} {location}".rstrip())
            if attempt.changed:
                wrong.append(f"{attempt.where} changed {', '.join(attempt.changed)}")
    return wrong, attempts


@pytest.mark.parametrize("api", [False, True], ids=["html", "api"])
def test_t07_an_outsider_naming_another_workspaces_objects_in_their_own_gets_404(personas, api):
    routes = _sweep_routes(api)
    wrong, attempts = _outsider_sweep(personas, routes)
    assert attempts >= len(routes)
    assert not wrong, (
        f"An outsider in their own workspace reached another workspace's objects "
        f"({len(wrong)} findings in {attempts} requests):\n" + "\n".join(wrong)
    )


def test_t07_the_sweep_catches_a_lookup_that_ignores_the_workspace(personas, monkeypatch):
    """Break one lookup the way a careless view would (by id alone) and the sweep reports both
    the page that shows the campaign and the write that changes it."""
    from reviews.models import Campaign
    from reviews.selectors import campaigns as campaign_selectors

    scoped = campaign_selectors.get_campaign

    def by_id_alone(workspace, campaign_id):  # type: ignore[no-untyped-def]
        found = Campaign.objects.filter(pk=campaign_id).select_related("workspace").first()
        return scoped(found.workspace if found else workspace, campaign_id)

    monkeypatch.setattr(campaign_selectors, "get_campaign", by_id_alone)
    names = {"reviews:campaign-detail", "api-campaign-detail", "api-campaign-pause"}
    wrong, _ = _outsider_sweep(personas, [r for r in _object_routes() if r.name in names])
    found = "\n".join(wrong)
    assert "GET /w/other-org/campaigns/" in found and "(reviews:campaign-detail) -> 200" in found
    assert "(api-campaign-detail) -> 200" in found
    assert "(api-campaign-pause) changed" in found and "reviews_campaign" in found


def test_t07_an_outsider_cannot_name_another_workspaces_objects_in_a_body(personas):
    """Routes that name only the workspace may name objects in their body (a campaign's spec
    version, transcripts and reviewers). The victim admin's own body, sent to the outsider's
    workspace, is refused and creates nothing; a page shows the form again, without the other
    workspace's clauses."""
    assert not _workspace_writes_unregistered(), "see test_t07_every_object_route_has_samples"
    samples = Samples(personas).build_all()
    outsider = _Caller(personas.outsider)
    own = personas.other_workspace.slug
    tables = _app_tables()
    writes = [(r, m) for r, m in _workspace_writes() if (r.name, m) in BODIES]
    assert writes
    wrong = []
    for route, method in writes:
        body = BODIES[(route.name, method)]
        attempt = _attempt(outsider, route, method, body, samples, tables, workspace=own)
        if attempt.error is not None:
            wrong.append(f"{attempt.where} raised {attempt.error!r}")
            continue
        status, content = attempt.response.status_code, attempt.response.content.decode()
        refused = {400, 404} if route.route.startswith("api/") else {200, 400, 404}
        if status not in refused:
            wrong.append(f"{attempt.where} -> {status} {attempt.response.get('Location', '')}")
        if any(key in content for key in CLAUSE_KEYS):
            wrong.append(f"{attempt.where} shows the other workspace's clauses")
        if attempt.changed:
            wrong.append(f"{attempt.where} changed {', '.join(attempt.changed)}")
    assert not wrong, "Another workspace's objects named in a body:\n" + "\n".join(wrong)


@pytest.mark.parametrize("api", [False, True], ids=["html", "api"])
def test_t07_each_write_body_succeeds_for_the_victims_own_member(personas, api):
    """The control: each body, sent by its actor to the victim's own URL, answers 2xx/3xx and
    changes the database, so the outsider's 404 comes from the lookup and not from the body.
    A read page's POST answers 200 and changes nothing."""
    samples = Samples(personas).build_all()
    routes = {r.name: r for r in _project_routes() if r.route.startswith("api/") == api}
    tables = _app_tables()
    callers: dict[str, _Caller] = {}
    cases = [(name, method, body) for (name, method), body in BODIES.items() if name in routes]
    cases += [(name, "POST", None) for name in READ_PAGES if name in routes]
    assert cases
    failures = []
    for name, method, body in cases:
        actor = body.actor if body is not None else "owner"
        if actor not in callers:
            user = getattr(personas, actor, None) or getattr(samples, actor)
            callers[actor] = _Caller(user)
        attempt = _attempt(callers[actor], routes[name], method, body, samples, tables, opens=True)
        where = f"{attempt.where} as {actor}"
        if attempt.error is not None:
            failures.append(f"{where} raised {attempt.error!r}")
            continue
        response, changed = attempt.response, attempt.changed
        status = response.status_code
        if body is None:
            if status != 200 or changed:
                failures.append(f"{where} -> {status}, changed {changed} (a read page)")
        elif not 200 <= status < 400:
            detail = response.content[:300].decode(errors="replace")
            failures.append(f"{where} -> {status} {detail}")
        elif not changed:
            location = response.get("Location", "")
            failures.append(f"{where} -> {status} {location} but changed nothing")
    assert not failures, (
        "These bodies do not succeed for the victim's own member; fix them in "
        "tests/route_bodies.py:\n" + "\n".join(failures)
    )
