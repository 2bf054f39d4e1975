"""Clausebook local model server (development tool).

A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI chat completions API for tests
and the demo: ``POST /v1/chat/completions``, ``GET /v1/models``, and two control routes,
``GET /_stats`` (requests received, by route; chat requests in flight now and at most at once)
and ``POST /_reset``. In tests, :class:`LocalModelServer` also gives the chat requests received
per conversation (keyed by the digest of its messages). It is not a model: its answer
is derived from a hash of the messages, so the same conversation always gets the same answer.

Faults and latency are chosen per request, in the ``X-Fault`` header or in the model name
(``fault:<spec>``, e.g. ``fault:503``), as a comma-separated list:

``latency=200ms``        wait before answering (``ms`` or ``s``)
``429;retry-after=1``    rate limited, with a ``Retry-After`` header (omit it for none)
``500`` ``503`` ``400`` ``401`` ``403`` ``404``   that status with a body that must not leak
``timeout``              hold the request without answering (up to 30 s or ``timeout=5s``)
``drip``                 send a valid answer one small piece every 200 ms (``drip=50ms``)
``oversized``            a valid-looking body of 3 MiB (``oversized=10mb``), no Content-Length
``invalid-json``         a 200 whose body is not JSON
``redirect=<url>``       a 302 to that URL
``flaky=<n>``            the first n requests with these messages answer 503, then normally

Structured output: with ``response_format`` of type ``json_schema``, the answer is JSON built
from the schema (enum values and numbers picked from the hash), so judge runs have something
valid to parse.

Run it with ``manage.py local_model_server`` or ``python -m devtools.local_model_server``; in
tests, use :class:`LocalModelServer` as a context manager.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NAME = "Clausebook local model server (development tool)"
MODEL_ID = "clausebook-local-dev-server"
SERVER_HEADER = "clausebook-local-model-server/dev-tool"
#: A marker the fault bodies carry, so tests can show it never reaches an error message.
LEAK_MARKER = "UPSTREAM-BODY-MUST-NOT-LEAK"

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")
_SIZE = re.compile(r"^(\d+)(kb|mb|b)?$")


def _seconds(raw: str, default: float) -> float:
    match = _DURATION.match(raw.strip().lower()) if raw else None
    if not match:
        return default
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def _bytes(raw: str, default: int) -> int:
    match = _SIZE.match(raw.strip().lower()) if raw else None
    if not match:
        return default
    scale = {"kb": 1024, "mb": 1024 * 1024}.get(match.group(2) or "b", 1)
    return int(match.group(1)) * scale


@dataclass
class Faults:
    latency: float = 0.0
    status: int | None = None
    retry_after: str | None = None
    timeout: float | None = None
    drip: float | None = None
    oversized: int | None = None
    invalid_json: bool = False
    redirect: str | None = None
    flaky: int = 0

    @classmethod
    def parse(cls, spec: str) -> Faults:
        faults = cls()
        for token in filter(None, (part.strip() for part in spec.split(","))):
            head_part, *option_parts = token.split(";")
            head, _, value = head_part.partition("=")
            head = head.strip().lower()
            value = value.strip()
            options = {
                key.strip().lower(): option.strip()
                for key, _, option in (part.partition("=") for part in option_parts)
            }
            if head.isdigit():
                faults.status = int(head)
                faults.retry_after = options.get("retry-after") or None
            elif head == "latency":
                faults.latency = _seconds(value, 0.0)
            elif head == "timeout":
                faults.timeout = _seconds(value, 30.0)
            elif head == "drip":
                faults.drip = _seconds(value, 0.2)
            elif head == "oversized":
                faults.oversized = _bytes(value, 3 * 1024 * 1024)
            elif head == "invalid-json":
                faults.invalid_json = True
            elif head == "redirect":
                faults.redirect = value
            elif head == "flaky":
                faults.flaky = int(value) if value.isdigit() else 1
        return faults


def digest(messages: Any) -> str:
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _from_schema(schema: Any, seed: str, depth: int = 0) -> Any:
    """A value that satisfies a simple JSON schema, picked deterministically from ``seed``."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    pick = int(seed[(depth * 2) % 60 : (depth * 2) % 60 + 4] or "0", 16)
    if "enum" in schema and schema["enum"]:
        return schema["enum"][pick % len(schema["enum"])]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _from_schema(schema[key][0], seed, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: _from_schema(sub, hashlib.sha256((seed + name).encode()).hexdigest(), depth + 1)
            for name, sub in properties.items()
        }
    if kind == "array":
        return [_from_schema(schema.get("items", {}), seed, depth + 1)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        high = schema.get("maximum", low + 3)
        return int(low + pick % (int(high) - int(low) + 1))
    if kind == "boolean":
        return bool(pick % 2)
    if kind == "null":
        return None
    return f"Local model server (development tool) note {seed[:8]}"


def answer_for(body: dict[str, Any]) -> str:
    messages = body.get("messages", [])
    seed = digest(messages)
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema", {})
        return json.dumps(_from_schema(schema, seed))
    if response_format.get("type") == "json_object":
        return json.dumps({"answer": f"local-{seed[:12]}"})
    return f"Local model server (development tool) answer {seed[:12]}."


def completion_document(body: dict[str, Any]) -> dict[str, Any]:
    content = answer_for(body)
    prompt_words = sum(
        len(str(message.get("content", "")).split())
        for message in body.get("messages", [])
        if isinstance(message, dict)
    )
    return {
        "id": f"chatcmpl-local-{digest(body.get('messages', []))[:16]}",
        "object": "chat.completion",
        "created": 0,
        "model": str(body.get("model") or MODEL_ID),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": len(content.split()),
            "total_tokens": prompt_words + len(content.split()),
        },
    }


@dataclass
class ServerState:
    counts: Counter[str] = field(default_factory=Counter)
    flaky_seen: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    # Chat requests received per conversation (the digest of their messages), and chat requests
    # being answered now and the most there ever were at once: a client's concurrency limit is
    # checked against what this server saw, not what the client believes it did.
    by_messages: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0

    def count(self, route: str) -> None:
        with self.lock:
            self.counts["requests"] += 1
            self.counts[route] += 1

    def enter(self, key: str) -> None:
        with self.lock:
            self.by_messages[key] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()
            self.flaky_seen.clear()
            self.by_messages.clear()
            self.max_in_flight = self.in_flight


class _Handler(BaseHTTPRequestHandler):
    server_version = SERVER_HEADER
    sys_version = ""
    protocol_version = "HTTP/1.1"
    state: ServerState  # set on the subclass the server makes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # quiet in tests; the counter is the record

    # --- routes ---------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self.state.count("models")
            self._json(
                200,
                {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": NAME}]},
            )
        elif self.path == "/_stats":
            with self.state.lock:
                document = {
                    **self.state.counts,
                    "in_flight": self.state.in_flight,
                    "max_in_flight": self.state.max_in_flight,
                }
            self._json(200, document)
        else:
            self.state.count("other")
            self._json(404, {"error": {"message": f"no such route {LEAK_MARKER}"}})

    def do_POST(self) -> None:  # noqa: N802
        if self.path == "/_reset":
            self.state.clear()
            self._json(200, {"reset": True})
            return
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self.state.count("other")
            self._read_body()
            self._json(404, {"error": {"message": f"no such route {LEAK_MARKER}"}})
            return
        self.state.count("chat_completions")
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self._json(400, {"error": {"message": f"the body is not JSON {LEAK_MARKER}"}})
            return
        model = str(body.get("model") or "")
        spec = ",".join(
            part
            for part in (
                model[len("fault:") :] if model.startswith("fault:") else "",
                self.headers.get("X-Fault", ""),
            )
            if part
        )
        self.state.enter(digest(body.get("messages", [])))
        try:
            self._answer(body, Faults.parse(spec))
        finally:
            self.state.leave()

    # --- answers --------------------------------------------------------------------------

    def _answer(self, body: dict[str, Any], faults: Faults) -> None:
        if faults.latency:
            self._wait(faults.latency)
        if faults.flaky:
            key = digest(body.get("messages", []))
            with self.state.lock:
                self.state.flaky_seen[key] += 1
                seen = self.state.flaky_seen[key]
            if seen <= faults.flaky:
                self._json(503, {"error": {"message": f"flaky {LEAK_MARKER}"}})
                return
        if faults.timeout is not None:
            self._wait(faults.timeout)
            self.close_connection = True
            return
        if faults.redirect:
            self.send_response(302)
            self.send_header("Location", faults.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if faults.status is not None:
            headers = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            self._json(
                faults.status,
                {
                    "error": {
                        "message": f"fault {faults.status} {LEAK_MARKER}",
                        "prompt": body.get("messages"),
                    }
                },
                headers=headers,
            )
            return
        if faults.invalid_json:
            self._raw(200, b"{not json " + LEAK_MARKER.encode(), "application/json")
            return
        if faults.oversized is not None:
            self._oversized(faults.oversized)
            return
        payload = json.dumps(completion_document(body)).encode("utf-8")
        if faults.drip is not None:
            self._drip(payload, faults.drip)
            return
        self._raw(200, payload, "application/json")

    def _wait(self, seconds: float) -> None:
        self.state.stopping.wait(seconds)

    def _oversized(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        filler = (b'{"choices":[{"message":{"content":"' + LEAK_MARKER.encode()) + b"x" * 65536
        sent = 0
        try:
            while sent < size and not self.state.stopping.is_set():
                self.wfile.write(filler)
                sent += len(filler)
        except OSError:
            pass  # the client stopped reading at its cap: that's the point

    def _drip(self, payload: bytes, interval: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            for start in range(0, len(payload), 16):
                if self.state.stopping.is_set():
                    return
                self.wfile.write(payload[start : start + 16])
                self.wfile.flush()
                self.state.stopping.wait(interval)
        except OSError:
            self.close_connection = True

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, 16 * 1024 * 1024)) if length else b""

    def _json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(document).encode("utf-8"), "application/json", headers)

    def _raw(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that stop reading (a size cap, a timeout) reset the connection: expected here.
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class LocalModelServer:
    """The Clausebook local model server (development tool), run in a background thread.

    ``with LocalModelServer() as server:`` binds 127.0.0.1 on a free port; ``server.base_url``
    is what an endpoint's base URL should be, ``server.stats()`` the requests received.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"{NAME} listens on the loopback interface only")
        self.state = ServerState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stats(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.counts)

    @property
    def chat_requests(self) -> int:
        return self.stats().get("chat_completions", 0)

    @property
    def max_in_flight(self) -> int:
        """The most chat requests this server was answering at once (since the last reset)."""
        with self.state.lock:
            return self.state.max_in_flight

    def requests_by_messages(self) -> dict[str, int]:
        """Chat requests received per conversation, keyed by :func:`digest` of its messages."""
        with self.state.lock:
            return dict(self.state.by_messages)

    def reset(self) -> None:
        self.state.clear()

    def start(self) -> LocalModelServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-model-server", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self.state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"Run the {NAME}.")
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args(argv)
    server = LocalModelServer(port=options.port)
    print(f"{NAME} on {server.base_url} (not a model; answers are derived from a hash)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
