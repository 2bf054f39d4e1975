"""The SSRF guard refuses private targets in every spelling, before and at connect time.

A real listener on 127.0.0.1 counts the connections it accepts: a refused URL must leave it at
zero. No database: ``clausebook.netguard`` is framework-free.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from clausebook import netguard


class CountingListener:
    """A real HTTP server on 127.0.0.1 that counts connections and answers 200 (or a redirect)."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.connections = 0
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                listener.connections += 1
                super().setup()

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _answer  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CountingListener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    with CountingListener() as running:
        yield running


REFUSED = (netguard.UnsafeURL, httpx.InvalidURL)


def spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/",
        f"http://2130706433:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://0x7f.0.0.1:{port}/",
        f"http://0x7f.1:{port}/",
        f"http://127.1:{port}/",
        f"http://127.0.1:{port}/",
        f"http://[::1]:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::ffff:7f00:1]:{port}/",
        f"http://[::127.0.0.1]:{port}/",
        f"http://[64:ff9b::7f00:1]:{port}/",
        f"http://[64:ff9b::127.0.0.1]:{port}/",
        f"http://[2002:7f00:1::]:{port}/",
        f"http://localhost:{port}/",
        f"http://localhost.:{port}/",
        f"http://LOCALHOST:{port}/",
        f"http://app.localhost:{port}/",
        f"http://127.0.0.1.:{port}/",
        f"http://evil@127.0.0.1:{port}/",
        f"http://user:pass@127.0.0.1:{port}/",
        f"http://example.com@127.0.0.1:{port}/",
        f"http://127.0.0.1:{port}\\@example.com/",
        f"http://0.0.0.0:{port}/",
        f"http://0:{port}/",
        f"http://[::]:{port}/",
    ]


OTHER_PRIVATE = [
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[2002:a9fe:a9fe::]/",
    "http://[64:ff9b::a9fe:a9fe]/",
]

NON_HTTP = [
    "ftp://example.com/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "javascript:alert(1)",
    "//example.com/",
    "example.com/v1",
    "",
]


def test_every_spelling_of_loopback_is_refused_and_nothing_connects(listener):
    for url in spellings(listener.port):
        with pytest.raises(netguard.UnsafeURL):
            netguard.validate_url(url)
        # httpx refuses a few spellings itself before the transport sees them: refused either way.
        with netguard.guarded_client() as client, pytest.raises(REFUSED):
            client.get(url)
    assert listener.connections == 0


@pytest.mark.parametrize("url", OTHER_PRIVATE)
def test_private_link_local_metadata_multicast_and_reserved_targets_are_refused(url):
    with pytest.raises(netguard.UnsafeURL):
        netguard.validate_url(url)


@pytest.mark.parametrize("url", NON_HTTP)
def test_only_http_and_https_urls_are_accepted(url):
    with pytest.raises(netguard.UnsafeURL):
        netguard.validate_url(url)


def test_a_refusal_says_what_the_address_is():
    with pytest.raises(netguard.UnsafeURL, match="metadata"):
        netguard.validate_url("http://169.254.169.254/")
    with pytest.raises(netguard.UnsafeURL, match="ambiguous spelling"):
        netguard.validate_url("http://2130706433/")
    with pytest.raises(netguard.UnsafeURL, match="carries a loopback"):
        netguard.validate_url("http://[::ffff:127.0.0.1]/")


def test_a_public_address_is_accepted():
    target = netguard.validate_url("https://1.1.1.1/v1")
    assert (target.scheme, target.host, target.port) == ("https", "1.1.1.1", 443)


def test_a_name_that_resolves_to_a_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(netguard, "resolve", lambda host, port: [ipaddress.ip_address("10.1.2.3")])
    with pytest.raises(netguard.UnsafeURL, match="private"):
        netguard.validate_url("https://models.example.com/v1")


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    answers = [ipaddress.ip_address("1.1.1.1"), ipaddress.ip_address("127.0.0.1")]
    monkeypatch.setattr(netguard, "resolve", lambda host, port: answers)
    with pytest.raises(netguard.UnsafeURL, match="loopback"):
        netguard.validate_url("https://models.example.com/v1")


def test_dns_rebinding_between_validation_and_connection_is_refused(listener, monkeypatch):
    """The name answers a public address when saved and 127.0.0.1 when the call connects."""
    answers = iter([[ipaddress.ip_address("1.1.1.1")], [ipaddress.ip_address("127.0.0.1")]])
    monkeypatch.setattr(netguard, "resolve", lambda host, port: next(answers))
    url = f"http://rebind.example.com:{listener.port}/v1/chat/completions"

    netguard.validate_url(url)  # saved: looks public
    with netguard.guarded_client() as client, pytest.raises(netguard.UnsafeURL, match="loopback"):
        client.post(url, json={})
    assert listener.connections == 0


def test_the_connection_goes_to_the_address_that_was_checked(listener, monkeypatch):
    """Allowed by the operator, a name is connected to by the address resolved once, and the
    Host header still names the host the URL gave."""
    lookups: list[str] = []

    def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(netguard, "resolve", resolve)
    allowed = [f"models.internal:{listener.port}"]
    with netguard.guarded_client(allowed=allowed) as client:
        response = client.get(f"http://models.internal:{listener.port}/")
    assert response.status_code == 200
    assert response.request.headers["host"] == f"models.internal:{listener.port}"
    assert lookups == ["models.internal"]
    assert listener.connections == 1


def test_a_redirect_to_a_private_address_is_not_followed(listener):
    target = f"http://127.0.0.1:{listener.port}/"
    with (
        CountingListener(redirect_to=target) as redirecting,
        netguard.guarded_client(allowed=[f"127.0.0.1:{redirecting.port}"]) as client,
    ):
        response = client.get(f"http://127.0.0.1:{redirecting.port}/")
    assert response.status_code == 302
    assert listener.connections == 0


def test_a_redirect_followed_anyway_is_checked_again_at_connect_time(listener):
    with CountingListener(redirect_to=f"http://127.0.0.1:{listener.port}/") as redirecting:
        with (
            netguard.guarded_client(allowed=[f"127.0.0.1:{redirecting.port}"]) as client,
            pytest.raises(netguard.UnsafeURL, match="loopback"),
        ):
            client.get(f"http://127.0.0.1:{redirecting.port}/", follow_redirects=True)
        assert redirecting.connections == 1
    assert listener.connections == 0


def test_the_allow_list_names_a_host_and_port_not_the_whole_host(listener):
    allowed = [f"127.0.0.1:{listener.port + 1}"]
    with pytest.raises(netguard.UnsafeURL):
        netguard.validate_url(f"http://127.0.0.1:{listener.port}/", allowed=allowed)
    with netguard.guarded_client(allowed=allowed) as client, pytest.raises(netguard.UnsafeURL):
        client.get(f"http://127.0.0.1:{listener.port}/")
    assert listener.connections == 0
    netguard.validate_url(
        f"http://127.0.0.1:{listener.port}/", allowed=[f"127.0.0.1:{listener.port}"]
    )


def test_proxy_variables_do_not_route_around_the_guard(listener, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{listener.port}")
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{listener.port}")
    monkeypatch.setattr(netguard, "resolve", lambda host, port: [ipaddress.ip_address("10.0.0.9")])
    with netguard.guarded_client() as client, pytest.raises(netguard.UnsafeURL):
        client.get("http://models.example.com/")
    assert listener.connections == 0


def test_the_real_resolver_reads_numeric_answers():
    assert netguard.resolve("127.0.0.1", 80) == [ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(netguard.UnsafeURL, match="does not resolve"):
        netguard.resolve("no-such-host.invalid", 80)


def test_unix_sockets_are_refused():
    backend = netguard.GuardedNetworkBackend(frozenset())
    with pytest.raises(netguard.UnsafeURL):
        backend.connect_unix_socket("/var/run/docker.sock")


def test_a_transport_error_is_an_httpx_error_not_a_leak(monkeypatch):
    """A public address that refuses the connection is an ordinary connect error."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        netguard.guarded_client(allowed=[f"127.0.0.1:{port}"]) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get(f"http://127.0.0.1:{port}/")
