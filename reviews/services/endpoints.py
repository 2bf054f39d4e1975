"""Model endpoints: configuring them (admins) and calling them (re-runs, judges).

Contracts
---------
* :func:`chat_completion` makes one OpenAI-compatible chat completions call through the SSRF
  guard (``clausebook.netguard``: checked at connect time against the address connected to,
  redirects never followed, proxy variables ignored), reads at most ``MAX_RESPONSE_BYTES`` and
  gives up after the endpoint's timeout for the whole call, however slowly the body drips.
  It returns a :class:`Completion` or raises one :class:`EndpointError` subclass; ``retryable``
  says whether a caller may try again. Error messages never include the upstream body (it may
  echo the prompt or the secret), only the status and what went wrong.
* :func:`endpoint_create`, :func:`endpoint_update` and :func:`endpoint_delete` need the
  ``endpoints.manage`` right, check the URL through the guard when saving (the operator's
  ``CLAUSEBOOK_ALLOW_PRIVATE_HOSTS`` is the only way to a private host), encrypt the secret
  (``clausebook.secrets``) and audit without it. The secret is write-only: nothing returns it.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.http import Http404

from clausebook import audit, permissions
from clausebook import secrets as secret_box
from clausebook.models import Membership, User, Workspace
from reviews.models import ModelEndpoint

if TYPE_CHECKING:
    import httpx

MANAGE_PERMISSION = "endpoints.manage"
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
#: Parameters a caller may not set: the endpoint names the model, and the answer is one body.
RESERVED_PARAMETERS = frozenset({"model", "messages", "stream", "n"})


# --- calling -------------------------------------------------------------------------------


class EndpointError(Exception):
    """A call failed. ``str(error)`` is safe to store and show: it never carries the upstream
    body or the secret."""

    retryable = False


class RateLimited(EndpointError):
    """429: try again after ``retry_after`` seconds (None when the server did not say)."""

    retryable = True

    def __init__(self, retry_after: float | None) -> None:
        self.retry_after = retry_after
        wait = f", retry after {retry_after:g} s" if retry_after is not None else ""
        super().__init__(f"the endpoint is rate limiting (429{wait})")


class UpstreamServerError(EndpointError):
    """5xx, or the connection failed (``status`` None): a transient fault."""

    retryable = True

    def __init__(self, status: int | None, message: str | None = None) -> None:
        self.status = status
        super().__init__(message or f"the endpoint failed ({status})")


class UpstreamUnreachable(UpstreamServerError):
    """No connection could be made (refused, reset, DNS)."""

    def __init__(self, message: str = "the endpoint could not be reached") -> None:
        super().__init__(None, message)


class UpstreamTimeout(EndpointError):
    """No complete answer within the endpoint's timeout."""

    retryable = True

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"the endpoint did not answer within {timeout:g} s")


class UpstreamRefused(EndpointError):
    """A 4xx other than 429 (400/401/403/404 and the like) or a redirect: retrying won't help."""

    def __init__(self, status: int | None, message: str | None = None) -> None:
        self.status = status
        reasons = {
            400: "the endpoint refused the request as invalid (400)",
            401: "the endpoint refused the secret (401)",
            403: "the endpoint refused access (403)",
            404: "the endpoint has no such model or path (404)",
        }
        default = reasons.get(status or 0, f"the endpoint refused the request ({status})")
        super().__init__(message or default)


class EndpointBlocked(UpstreamRefused):
    """The SSRF guard refused the address (checked again at connect time)."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, f"the endpoint's address is not allowed: {reason}")


class ResponseTooLarge(EndpointError):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the endpoint's answer is larger than {limit} bytes")


class InvalidResponse(EndpointError):
    """The body is not a chat completion (not JSON, or missing the message)."""


@dataclass(frozen=True)
class Completion:
    content: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    model: str
    latency_ms: int


_clients: dict[frozenset[str], httpx.Client] = {}
_clients_lock = threading.Lock()


def endpoint_client() -> httpx.Client:
    """The process's guarded client for the current allow-list (pooled connections; httpx
    clients are thread-safe). Callers running many calls may pass their own to ``client=``."""
    # httpx and the guard load with the first call, not with every web and worker process.
    import httpx

    from clausebook import netguard

    allowed = netguard.parse_allow_list(settings.ALLOW_PRIVATE_HOSTS)
    with _clients_lock:
        client = _clients.get(allowed)
        if client is None:
            client = netguard.guarded_client(
                allowed=allowed,
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            )
            _clients[allowed] = client
        return client


def completions_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"


#: Retries of transient upstream errors wait ``BACKOFF_BASE_SECONDS × 2^(attempt-1)``, at most
#: ``BACKOFF_CAP_SECONDS``.
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0


def backoff_seconds(attempt: int, *, rng: random.Random = random._inst) -> float:  # type: ignore[attr-defined]
    """Capped exponential backoff with equal jitter: half fixed, half random, so retries
    from many callers spread out but never come back at once. Every caller of
    :func:`chat_completion` that retries uses this one rule."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, infinities
        return None
    return max(0.0, seconds)


def _request_body(
    endpoint: ModelEndpoint, messages: list[dict[str, Any]], parameters: dict[str, Any] | None
) -> dict[str, Any]:
    merged = {**(endpoint.parameters or {}), **(parameters or {})}
    body = {key: value for key, value in merged.items() if key not in RESERVED_PARAMETERS}
    body.update(model=endpoint.model, messages=messages, stream=False)
    return body


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 300:
        return
    if status == 429:
        raise RateLimited(parse_retry_after(response.headers.get("retry-after")))
    if status >= 500:
        raise UpstreamServerError(status)
    if status < 400:
        raise UpstreamRefused(
            status, f"the endpoint answered with a redirect ({status}), which is not followed"
        )
    raise UpstreamRefused(status)


def _read_capped(response: httpx.Response, *, limit: int, deadline: float, timeout: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ResponseTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(limit)
        chunks.append(chunk)
        # httpx's read timeout is per read: a server dripping a byte a second never trips it.
        if time.monotonic() > deadline:
            raise UpstreamTimeout(timeout)
    return b"".join(chunks)


def _parse_completion(raw: bytes, *, latency_ms: int, fallback_model: str) -> Completion:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidResponse("the endpoint's answer is not JSON") from None
    try:
        choice = document["choices"][0]
        message = choice["message"]
        content = message.get("content")
        if content is None:
            content = message.get("refusal")
        if not isinstance(content, str):
            raise TypeError
        finish_reason = choice.get("finish_reason")
        usage = document.get("usage") or {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        model = document.get("model") or fallback_model
    except (KeyError, IndexError, TypeError, AttributeError):
        raise InvalidResponse("the endpoint's answer is not a chat completion") from None
    return Completion(
        content=content,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
        completion_tokens=completion_tokens if isinstance(completion_tokens, int) else None,
        model=str(model)[:120],
        latency_ms=latency_ms,
    )


def chat_completion(
    endpoint: ModelEndpoint,
    messages: list[dict[str, Any]],
    parameters: dict[str, Any] | None = None,
    *,
    timeout: float | None = None,
    client: httpx.Client | None = None,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> Completion:
    """One chat completions call to ``endpoint`` (see the module's contracts).

    ``parameters`` override the endpoint's defaults (``model``, ``messages``, ``stream`` and
    ``n`` are the endpoint's and this call's own); ``timeout`` overrides the endpoint's.
    """
    import httpx

    from clausebook import netguard

    total = float(timeout if timeout is not None else endpoint.timeout_seconds)
    headers = {"Accept": "application/json"}
    if endpoint.secret_encrypted:
        try:
            secret = secret_box.decrypt(endpoint.secret_encrypted)
        except (secret_box.SecretUnreadable, secret_box.SecretsNotConfigured) as exc:
            raise UpstreamRefused(None, f"the endpoint's secret cannot be used: {exc}") from None
        headers["Authorization"] = f"Bearer {secret.reveal()}"
    body = _request_body(endpoint, messages, parameters)
    http = client or endpoint_client()
    started = time.monotonic()
    deadline = started + total
    try:
        request = http.build_request(
            "POST",
            completions_url(endpoint.base_url),
            json=body,
            headers=headers,
            timeout=httpx.Timeout(total, connect=min(total, 10.0)),
        )
        response = http.send(request, stream=True, follow_redirects=False)
        try:
            if time.monotonic() > deadline:
                raise UpstreamTimeout(total)
            _raise_for_status(response)
            raw = _read_capped(response, limit=max_response_bytes, deadline=deadline, timeout=total)
        finally:
            response.close()
    except netguard.UnsafeURL as exc:
        raise EndpointBlocked(str(exc)) from None
    except httpx.TimeoutException:
        raise UpstreamTimeout(total) from None
    except httpx.TransportError:
        # The exception text may hold the URL's parts or a proxy's answer: say only what failed.
        raise UpstreamUnreachable() from None
    latency_ms = int((time.monotonic() - started) * 1000)
    return _parse_completion(raw, latency_ms=latency_ms, fallback_model=endpoint.model)


# --- configuring ---------------------------------------------------------------------------

#: Field limits, one home: the form, the API serializer and the service read these.
NAME_MAX = 120
MODEL_MAX = 120
URL_MAX = 500
SECRET_MAX = 4096
TIMEOUT_RANGE = (1, 600)
CONCURRENCY_RANGE = (1, 256)
RATE_LIMIT_MAX = 1_000_000
PARAMETERS_MAX_BYTES = 8192


@dataclass(frozen=True)
class EndpointInput:
    """What an admin sets. ``secret`` None keeps the stored one; "" removes it."""

    name: str
    base_url: str
    model: str
    parameters: dict[str, Any]
    timeout_seconds: int = 60
    concurrency: int = 8
    rate_limit_per_minute: int = 0
    secret: str | None = None

    def __repr__(self) -> str:  # the secret never reaches a log or a traceback
        return (
            f"EndpointInput(name={self.name!r}, base_url={self.base_url!r}, model={self.model!r})"
        )


def endpoint_in_workspace(workspace: Workspace, endpoint_id: int) -> ModelEndpoint:
    """The workspace's endpoint, or 404: an endpoint is never found by its id alone."""
    endpoint = (
        ModelEndpoint.objects.select_related("workspace")
        .filter(workspace=workspace, pk=endpoint_id)
        .first()
    )
    if endpoint is None:
        raise Http404("No such endpoint")
    return endpoint


def endpoints_in_workspace(workspace: Workspace) -> list[ModelEndpoint]:
    return list(ModelEndpoint.objects.filter(workspace=workspace).order_by("name", "pk"))


def _membership(workspace: Workspace, actor: User) -> Membership:
    membership = Membership.objects.filter(workspace=workspace, user=actor).first()
    if membership is None:
        raise Http404("No such workspace")
    return membership


def endpoint_url_check(base_url: str, *, unchanged_from: str | None = None) -> str:
    """The base URL as stored, or ValidationError on ``base_url`` saying why the guard refuses it.

    A URL left as it was is not resolved again (a DNS hiccup must not block renaming an
    endpoint); every connection is checked anyway."""
    base_url = (base_url or "").strip()
    if unchanged_from is not None and base_url == unchanged_from:
        return base_url
    if not base_url:
        raise ValidationError({"base_url": "Give the endpoint's base URL (e.g. https://host/v1)."})
    if len(base_url) > URL_MAX:
        raise ValidationError({"base_url": f"The base URL is longer than {URL_MAX} characters."})
    from clausebook import netguard

    try:
        netguard.validate_url(base_url, allowed=settings.ALLOW_PRIVATE_HOSTS)
    except netguard.UnsafeURL as exc:
        raise ValidationError({"base_url": f"This URL is not allowed: {exc}."}) from None
    return base_url


def _check_range(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError({name: f"Give a whole number from {low} to {high}."})
    return value


def _clean(data: EndpointInput, current: ModelEndpoint | None = None) -> dict[str, Any]:
    name = (data.name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ValidationError({"name": f"Give the endpoint a name of 1 to {NAME_MAX} characters."})
    model = (data.model or "").strip()
    if not model or len(model) > MODEL_MAX:
        raise ValidationError({"model": f"Give the model's name, 1 to {MODEL_MAX} characters."})
    if not isinstance(data.parameters, dict):
        raise ValidationError({"parameters": "Parameters are a JSON object."})
    reserved = sorted(RESERVED_PARAMETERS & set(data.parameters))
    if reserved:
        raise ValidationError(
            {
                "parameters": f"These are set by Clausebook, not as parameters: {', '.join(reserved)}."
            }
        )
    if len(json.dumps(data.parameters)) > PARAMETERS_MAX_BYTES:
        raise ValidationError(
            {"parameters": f"Parameters are limited to {PARAMETERS_MAX_BYTES} bytes of JSON."}
        )
    if data.secret is not None and len(data.secret) > SECRET_MAX:
        raise ValidationError({"secret": f"The secret is longer than {SECRET_MAX} characters."})
    return {
        "name": name,
        "base_url": endpoint_url_check(
            data.base_url, unchanged_from=current.base_url if current is not None else None
        ),
        "model": model,
        "parameters": data.parameters,
        "timeout_seconds": _check_range("timeout_seconds", data.timeout_seconds, *TIMEOUT_RANGE),
        "concurrency": _check_range("concurrency", data.concurrency, *CONCURRENCY_RANGE),
        "rate_limit_per_minute": _check_range(
            "rate_limit_per_minute", data.rate_limit_per_minute, 0, RATE_LIMIT_MAX
        ),
    }


def _encrypted(secret: str) -> str:
    try:
        return secret_box.encrypt(secret)
    except secret_box.SecretsNotConfigured as exc:
        raise ValidationError({"secret": str(exc)}) from None


def _audit_data(fields: dict[str, Any], secret_changed: bool) -> dict[str, Any]:
    return {
        **{k: v for k, v in fields.items() if k != "parameters"},
        "secret_changed": secret_changed,
    }


def _save(endpoint: ModelEndpoint) -> None:
    try:
        with transaction.atomic():
            endpoint.save()
    except IntegrityError:
        raise ValidationError(
            {"name": "Another endpoint in this workspace has this name."}
        ) from None


@transaction.atomic
def endpoint_create(*, workspace: Workspace, actor: User, data: EndpointInput) -> ModelEndpoint:
    """Add an endpoint (admins). ValidationError names the field at fault."""
    permissions.require(_membership(workspace, actor), MANAGE_PERMISSION)
    fields = _clean(data)
    endpoint = ModelEndpoint(
        workspace=workspace, secret_encrypted=_encrypted(data.secret or ""), **fields
    )
    _save(endpoint)
    audit.record(
        verb="endpoint.create",
        actor=actor,
        workspace=workspace,
        target=endpoint,
        summary=f"Added model endpoint {endpoint.name}",
        data=_audit_data(fields, bool(data.secret)),
    )
    return endpoint


@transaction.atomic
def endpoint_update(*, endpoint: ModelEndpoint, actor: User, data: EndpointInput) -> ModelEndpoint:
    """Change an endpoint (admins); ``data.secret`` None keeps the stored secret."""
    permissions.require(_membership(endpoint.workspace, actor), MANAGE_PERMISSION)
    fields = _clean(data, endpoint)
    for name, value in fields.items():
        setattr(endpoint, name, value)
    if data.secret is not None:
        endpoint.secret_encrypted = _encrypted(data.secret)
    _save(endpoint)
    audit.record(
        verb="endpoint.update",
        actor=actor,
        workspace=endpoint.workspace,
        target=endpoint,
        summary=f"Changed model endpoint {endpoint.name}",
        data=_audit_data(fields, data.secret is not None),
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: ModelEndpoint, actor: User) -> None:
    """Remove an endpoint (admins). One that produced runs is kept: ValidationError says so."""
    permissions.require(_membership(endpoint.workspace, actor), MANAGE_PERMISSION)
    name = endpoint.name
    audit.record(
        verb="endpoint.delete",
        actor=actor,
        workspace=endpoint.workspace,
        target=endpoint,
        summary=f"Removed model endpoint {name}",
    )
    try:
        with transaction.atomic():
            endpoint.delete()
    except ProtectedError:
        raise ValidationError(
            "This endpoint has re-run or judge results that point at it, so it stays."
        ) from None


def endpoint_secrets_rotate() -> int:
    """Re-encrypt every stored secret with the first key; the number of secrets rewritten."""
    rewritten = 0
    with transaction.atomic():
        for endpoint in (
            ModelEndpoint.objects.exclude(secret_encrypted="")
            .select_for_update()
            .only("pk", "secret_encrypted")
        ):
            token = secret_box.rotate(endpoint.secret_encrypted)
            if token != endpoint.secret_encrypted:
                ModelEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=token)
                rewritten += 1
    return rewritten
