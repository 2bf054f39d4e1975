"""The demo's endpoints: the local model server (a development tool, named as one) and, when
``OPENAI_API_KEY`` is set, a real endpoint at ``OPENAI_BASE_URL``."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from types import SimpleNamespace

import pytest
from django.test import override_settings

from clausebook import secrets
from reviews.demo_endpoints import LOCAL_NAME, REAL_NAME, seed
from reviews.models import ModelEndpoint

KEY = secrets.generate_key()
API_KEY = "sk-demo-real-SECRET-99"  # noqa: S105 - a sample


@pytest.fixture(autouse=True)
def _keys() -> Iterator[None]:
    with override_settings(SECRET_KEYS=[KEY], ALLOW_PRIVATE_HOSTS=["127.0.0.1:8765"]):
        yield


@pytest.fixture
def platform(personas):  # type: ignore[no-untyped-def]
    return SimpleNamespace(workspace=personas.workspace, users={"admin": personas.owner})


def _seed(platform) -> str:  # type: ignore[no-untyped-def]
    out = StringIO()
    seed(platform, out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_local_server_is_one_endpoint_named_as_a_development_tool(
    platform, monkeypatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("CLAUSEBOOK_DEMO_MODEL_SERVER_URL", "http://127.0.0.1:8765/v1")
    output = _seed(platform)
    _seed(platform)
    endpoint = ModelEndpoint.objects.get()
    assert endpoint.name == LOCAL_NAME and "development tool" in endpoint.name
    assert endpoint.base_url == "http://127.0.0.1:8765/v1"
    assert "development tool" in output
    assert REAL_NAME not in output


@pytest.mark.django_db
def test_openai_api_key_and_base_url_add_a_real_endpoint_with_its_secret_encrypted(
    platform, monkeypatch
) -> None:
    monkeypatch.delenv("CLAUSEBOOK_DEMO_MODEL_SERVER_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://1.1.1.1/v1")
    output = _seed(platform)
    endpoint = ModelEndpoint.objects.get(name=REAL_NAME)
    assert endpoint.base_url == "https://1.1.1.1/v1"
    assert API_KEY not in endpoint.secret_encrypted
    assert secrets.decrypt(endpoint.secret_encrypted) == API_KEY
    assert API_KEY not in output
    _seed(platform)
    assert ModelEndpoint.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_base_url_is_left_out_with_the_reason_and_the_demo_goes_on(
    platform, monkeypatch
) -> None:
    monkeypatch.setenv("CLAUSEBOOK_DEMO_MODEL_SERVER_URL", "http://127.0.0.1:8765/v1")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://10.0.0.7:11434/v1")
    output = _seed(platform)
    assert list(ModelEndpoint.objects.values_list("name", flat=True)) == [LOCAL_NAME]
    assert f"{REAL_NAME} left out (base_url:" in output
    assert "CLAUSEBOOK_ALLOW_PRIVATE_HOSTS" in output
    assert API_KEY not in output
