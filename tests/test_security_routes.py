"""Route sweeps over the whole URLconf: the anonymous surface (T11) and cross-tenant access (T07).

Both walk ``get_resolver()``, so a route added anywhere is covered the moment it exists. A route
with a URL argument that ``tests/route_samples.py`` does not know fails the sweep until someone
registers what the argument names.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import get_resolver, reverse

from clausebook.models import AuditEvent, Membership
from tests.route_samples import DUMMY_BY_CONVERTER, KWARG_SAMPLES, Route, Samples, iter_routes

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
