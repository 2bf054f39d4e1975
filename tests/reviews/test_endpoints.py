"""Model endpoints: admins configure them, the secret is write-only, the URL is guarded, and a
call against the Clausebook local model server (development tool) turns each fault into its
typed error without echoing what the server sent."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from clausebook import secrets
from clausebook.models import AuditEvent
from devtools.local_model_server import LEAK_MARKER, NAME, LocalModelServer
from reviews.models import ModelEndpoint
from reviews.services import endpoints as services
from tests.conftest import ROOT

SECRET = "sk-test-0123456789SECRETVALUE"  # noqa: S105 - a sample
KEY = secrets.generate_key()
MESSAGES = [{"role": "user", "content": "Is it safe to mix bleach and ammonia?"}]


@pytest.fixture(autouse=True)
def _keys() -> Iterator[None]:
    with override_settings(SECRET_KEYS=[KEY]):
        yield


@pytest.fixture(scope="module")
def model_server() -> Iterator[LocalModelServer]:
    with LocalModelServer() as server:
        yield server


@pytest.fixture
def allowed(model_server: LocalModelServer) -> Iterator[LocalModelServer]:
    with override_settings(ALLOW_PRIVATE_HOSTS=[model_server.host_port]):
        yield model_server


def api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def _form(**overrides: str) -> dict[str, str]:
    return {
        "name": "Hosted",
        "base_url": "https://1.1.1.1/v1",
        "model": "gpt-test",
        "parameters": '{"temperature": 0.2}',
        "timeout_seconds": "30",
        "concurrency": "4",
        "rate_limit_per_minute": "60",
        "secret": SECRET,
        **overrides,
    }


def _endpoint(workspace, **fields) -> ModelEndpoint:  # type: ignore[no-untyped-def]
    values = {"name": "Sample", "base_url": "https://1.1.1.1/v1", "model": "m", **fields}
    return ModelEndpoint.objects.create(workspace=workspace, **values)


# --- configuring: pages ------------------------------------------------------------------------


def test_an_admin_adds_an_endpoint_whose_secret_is_stored_encrypted(personas, client):
    client.force_login(personas.owner)
    url = reverse("reviews:endpoint-create", args=[personas.workspace.slug])
    response = client.post(url, _form())
    assert response.status_code == 302
    endpoint = ModelEndpoint.objects.get(workspace=personas.workspace, name="Hosted")
    assert (endpoint.model, endpoint.parameters, endpoint.concurrency) == (
        "gpt-test",
        {"temperature": 0.2},
        4,
    )
    assert SECRET not in endpoint.secret_encrypted
    assert secrets.decrypt(endpoint.secret_encrypted).reveal() == SECRET


def test_the_secret_is_masked_on_every_page_and_never_rendered(personas, client):
    endpoint = _endpoint(personas.workspace, secret_encrypted=secrets.encrypt(SECRET))
    client.force_login(personas.owner)
    slug = personas.workspace.slug
    listing = client.get(reverse("reviews:endpoint-list", args=[slug]))
    detail = client.get(reverse("reviews:endpoint-update", args=[slug, endpoint.pk]))
    for page in (listing, detail):
        assert page.status_code == 200
        html = page.content.decode()
        assert SECRET not in html
        assert endpoint.secret_encrypted not in html
        assert "********" in html


def test_leaving_the_secret_empty_keeps_it_and_clearing_removes_it(personas, client):
    endpoint = _endpoint(personas.workspace, secret_encrypted=secrets.encrypt(SECRET))
    client.force_login(personas.owner)
    url = reverse("reviews:endpoint-update", args=[personas.workspace.slug, endpoint.pk])
    assert client.post(url, _form(name="Renamed", secret="")).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.name == "Renamed"
    assert secrets.decrypt(endpoint.secret_encrypted).reveal() == SECRET
    assert client.post(url, _form(secret="", clear_secret="on")).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.secret_encrypted == ""


def test_an_admin_removes_an_endpoint(personas, client):
    endpoint = _endpoint(personas.workspace)
    client.force_login(personas.owner)
    url = reverse("reviews:endpoint-delete", args=[personas.workspace.slug, endpoint.pk])
    assert client.post(url).status_code == 302
    assert not ModelEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_private_url_is_refused_at_save_time_with_the_reason(personas, client):
    client.force_login(personas.owner)
    url = reverse("reviews:endpoint-create", args=[personas.workspace.slug])
    response = client.post(url, _form(base_url="http://169.254.169.254/latest"))
    assert response.status_code == 400
    assert "metadata" in response.content.decode()
    assert not ModelEndpoint.objects.filter(workspace=personas.workspace).exists()


def test_members_below_admin_are_refused_with_403(personas, client):
    endpoint = _endpoint(personas.workspace)
    slug = personas.workspace.slug
    for user in (personas.adjudicator, personas.editor, personas.viewer):
        client.force_login(user)
        assert client.get(reverse("reviews:endpoint-list", args=[slug])).status_code == 403
        update = reverse("reviews:endpoint-update", args=[slug, endpoint.pk])
        assert client.post(update, _form(name="Taken over")).status_code == 403
        assert api(user).get(reverse("api-endpoint-list", args=[slug])).status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.name == "Sample"


def test_another_workspaces_endpoint_is_not_found(personas, client):
    theirs = _endpoint(personas.other_workspace, secret_encrypted=secrets.encrypt(SECRET))
    slug = personas.workspace.slug
    client.force_login(personas.owner)
    assert client.get(reverse("reviews:endpoint-update", args=[slug, theirs.pk])).status_code == 404
    delete = reverse("reviews:endpoint-delete", args=[slug, theirs.pk])
    assert client.post(delete).status_code == 404
    owner_api = api(personas.owner)
    assert owner_api.get(reverse("api-endpoint-detail", args=[slug, theirs.pk])).status_code == 404
    outsider_url = reverse("reviews:endpoint-list", args=[slug])
    client.force_login(personas.outsider)
    assert client.get(outsider_url).status_code == 404
    assert ModelEndpoint.objects.filter(pk=theirs.pk).exists()


# --- configuring: API --------------------------------------------------------------------------


def test_the_api_creates_reads_changes_and_removes_an_endpoint_with_the_secret_masked(personas):
    client = api(personas.owner)
    slug = personas.workspace.slug
    created = client.post(
        reverse("api-endpoint-list", args=[slug]),
        {"name": "Hosted", "base_url": "https://1.1.1.1/v1", "model": "m", "secret": SECRET},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["secret"] == "********"
    detail_url = reverse("api-endpoint-detail", args=[slug, created.json()["id"]])

    changed = client.patch(detail_url, {"model": "m2"}, format="json")
    assert changed.status_code == 200
    assert (changed.json()["model"], changed.json()["secret"]) == ("m2", "********")
    listing = client.get(reverse("api-endpoint-list", args=[slug]))
    for response in (created, changed, listing, client.get(detail_url)):
        assert SECRET not in response.content.decode()

    assert client.patch(detail_url, {"secret": ""}, format="json").json()["secret"] == ""
    assert client.delete(detail_url).status_code == 204
    assert not ModelEndpoint.objects.filter(workspace=personas.workspace).exists()


def test_the_api_names_the_field_at_fault(personas):
    client = api(personas.owner)
    url = reverse("api-endpoint-list", args=[personas.workspace.slug])
    refused = client.post(
        url, {"name": "x", "base_url": "http://0x7f000001/v1", "model": "m"}, format="json"
    )
    assert refused.status_code == 400
    assert "ambiguous spelling" in refused.json()["base_url"][0]
    reserved = client.post(
        url,
        {"name": "x", "base_url": "https://1.1.1.1/v1", "model": "m", "parameters": {"model": "y"}},
        format="json",
    )
    assert reserved.status_code == 400
    assert "parameters" in reserved.json()


T13_URLS = [
    "http://127.0.0.1:6379",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]",
    "http://[::ffff:127.0.0.1]",
    "http://0.0.0.0",
    "http://2130706433",
    "http://0x7f.1",
    "http://localhost.",
    "http://[64:ff9b::a9fe:a9fe]",
    "http://[2002:a9fe:a9fe::]",
    "file:///etc/passwd",
    "gopher://127.0.0.1:70/",
    "http://127.0.0.1:22",
]


@pytest.mark.parametrize("base_url", T13_URLS)
def test_saving_an_endpoint_with_a_private_or_non_http_url_is_a_400_on_base_url(personas, base_url):
    response = api(personas.owner).post(
        reverse("api-endpoint-list", args=[personas.workspace.slug]),
        {"name": "x", "base_url": base_url, "model": "m"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["base_url"]
    assert not ModelEndpoint.objects.exists()


def test_the_secret_is_not_in_the_audit_trail(personas):
    client = api(personas.owner)
    slug = personas.workspace.slug
    body = {"name": "Hosted", "base_url": "https://1.1.1.1/v1", "model": "m", "secret": SECRET}
    created = client.post(reverse("api-endpoint-list", args=[slug]), body, format="json")
    client.patch(
        reverse("api-endpoint-detail", args=[slug, created.json()["id"]]),
        {"secret": SECRET + "2"},
        format="json",
    )
    events = AuditEvent.objects.filter(verb__startswith="endpoint.")
    assert events.count() == 2
    for event in events:
        assert SECRET not in f"{event.summary} {event.data}"
    assert events.filter(data__secret_changed=True).count() == 2


# --- the operator's allow-list -----------------------------------------------------------------


def test_the_local_model_server_is_refused_unless_the_operator_allows_it(personas, model_server):
    data = services.EndpointInput(
        name=NAME, base_url=model_server.base_url, model="local", parameters={}
    )
    with pytest.raises(services.ValidationError, match="loopback"):
        services.endpoint_create(workspace=personas.workspace, actor=personas.owner, data=data)
    with override_settings(ALLOW_PRIVATE_HOSTS=[model_server.host_port]):
        endpoint = services.endpoint_create(
            workspace=personas.workspace, actor=personas.owner, data=data
        )
        assert services.chat_completion(endpoint, MESSAGES).content.startswith(
            "Local model server (development tool)"
        )
    before = model_server.chat_requests
    with pytest.raises(services.EndpointBlocked):  # allowed no more: refused at connect time
        services.chat_completion(endpoint, MESSAGES)
    assert model_server.chat_requests == before


def test_the_allow_list_is_read_from_the_environment():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clausebook.settings",
        "DEBUG": "true",
        "CLAUSEBOOK_ALLOW_PRIVATE_HOSTS": "127.0.0.1:8765, models.internal",
    }
    script = "from django.conf import settings; print(settings.ALLOW_PRIVATE_HOSTS)"
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "['127.0.0.1:8765', 'models.internal']", result.stderr


# --- calling: each fault of the local model server is its typed error --------------------------


def _local(server: LocalModelServer, model: str = "local", **fields) -> ModelEndpoint:  # type: ignore[no-untyped-def]
    return ModelEndpoint(
        name="local",
        base_url=server.base_url,
        model=model,
        parameters={},
        secret_encrypted=secrets.encrypt(SECRET),
        **fields,
    )


def test_a_call_returns_the_deterministic_answer_with_usage(allowed):
    endpoint = _local(allowed)
    first = services.chat_completion(endpoint, MESSAGES)
    second = services.chat_completion(endpoint, MESSAGES)
    other = services.chat_completion(endpoint, [{"role": "user", "content": "Something else"}])
    assert first.content == second.content != other.content
    assert first.finish_reason == "stop"
    assert first.prompt_tokens and first.completion_tokens
    assert first.model == "local"


@pytest.mark.parametrize(
    ("fault", "error", "attributes"),
    [
        ("429;retry-after=2", services.RateLimited, {"retry_after": 2.0}),
        ("429", services.RateLimited, {"retry_after": None}),
        ("500", services.UpstreamServerError, {"status": 500}),
        ("503", services.UpstreamServerError, {"status": 503}),
        ("400", services.UpstreamRefused, {"status": 400}),
        ("401", services.UpstreamRefused, {"status": 401}),
        ("403", services.UpstreamRefused, {"status": 403}),
        ("404", services.UpstreamRefused, {"status": 404}),
        ("timeout=5s", services.UpstreamTimeout, {}),
        ("drip=300ms", services.UpstreamTimeout, {}),
        ("oversized", services.ResponseTooLarge, {}),
        ("invalid-json", services.InvalidResponse, {}),
        ("redirect=http://10.0.0.1/", services.UpstreamRefused, {"status": 302}),
    ],
)
def test_each_fault_is_its_typed_error_and_never_echoes_the_body(allowed, fault, error, attributes):
    endpoint = _local(allowed, model=f"fault:{fault}", timeout_seconds=1)
    with pytest.raises(error) as caught:
        services.chat_completion(endpoint, MESSAGES)
    for name, value in attributes.items():
        assert getattr(caught.value, name) == value
    message = str(caught.value)
    assert LEAK_MARKER not in message
    assert SECRET not in message
    assert MESSAGES[0]["content"] not in message


def test_a_fault_can_be_chosen_in_the_header_or_the_model_name(allowed):
    url = allowed.base_url + "/chat/completions"
    body = {"model": "local", "messages": MESSAGES}
    by_header = httpx.post(url, json=body, headers={"X-Fault": "429;retry-after=3"})
    assert (by_header.status_code, by_header.headers["retry-after"]) == (429, "3")
    by_model = httpx.post(url, json={**body, "model": "fault:503"})
    assert by_model.status_code == 503
    slow = services.chat_completion(_local(allowed, model="fault:latency=50ms"), MESSAGES)
    assert slow.latency_ms >= 50
    assert httpx.get(allowed.base_url + "/models").json()["data"][0]["owned_by"] == NAME


def test_a_redirect_is_not_followed_so_the_secret_never_reaches_its_target(model_server):
    with LocalModelServer() as target:
        allowed = [model_server.host_port, target.host_port]
        redirect = f"fault:redirect={target.base_url}/chat/completions"
        with (
            override_settings(ALLOW_PRIVATE_HOSTS=allowed),
            pytest.raises(services.UpstreamRefused) as caught,
        ):
            services.chat_completion(_local(model_server, model=redirect), MESSAGES)
        assert caught.value.status == 302
        assert target.stats() == {}


def test_retryable_errors_are_the_transient_ones():
    assert services.RateLimited(None).retryable
    assert services.UpstreamServerError(503).retryable
    assert services.UpstreamTimeout(1).retryable
    assert not services.UpstreamRefused(401).retryable
    assert not services.ResponseTooLarge(1).retryable
    assert not services.InvalidResponse("x").retryable
    assert not services.EndpointBlocked("x").retryable


def test_the_server_counts_the_requests_it_received(allowed):
    before = allowed.chat_requests
    services.chat_completion(_local(allowed), MESSAGES)
    services.chat_completion(_local(allowed), MESSAGES)
    assert allowed.chat_requests == before + 2


def test_the_secret_does_not_reach_the_logs_of_a_call(allowed, caplog):
    with caplog.at_level("DEBUG"):
        services.chat_completion(_local(allowed), MESSAGES)
    assert SECRET not in caplog.text


def test_the_list_page_and_api_take_as_many_queries_for_four_endpoints_as_for_one(personas, client):
    slug = personas.workspace.slug
    client.force_login(personas.owner)
    owner_api = api(personas.owner)

    def counts() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("reviews:endpoint-list", args=[slug])).status_code == 200
        with CaptureQueriesContext(connection) as listing:
            assert owner_api.get(reverse("api-endpoint-list", args=[slug])).status_code == 200
        return len(page), len(listing)

    _endpoint(personas.workspace, name="one")
    one = counts()
    for name in ("two", "three", "four"):
        _endpoint(personas.workspace, name=name, secret_encrypted=secrets.encrypt(SECRET))
    assert counts() == one
