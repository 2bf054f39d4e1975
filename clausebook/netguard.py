"""A guard against server-side request forgery for calls to URLs that workspace admins choose.

Contract:

- ``validate_url`` refuses (``UnsafeURL``) anything but ``http``/``https`` URLs without userinfo
  whose host, and every address that host resolves to, is publicly routable. Numeric hosts in any
  spelling other than dotted decimal (``2130706433``, ``0177.0.0.1``, ``0x7f000001``, ``127.1``)
  are refused outright: different parsers read them differently, so none is trusted.
- IPv6 addresses that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged
  by that IPv4 address as well.
- ``GuardedTransport`` resolves the host once, when it opens a connection, checks each address,
  connects to the address itself (TLS still uses the host name for SNI, and the Host header is
  the URL's) and checks the peer address of the socket it got. No second lookup happens between
  the check and the connection, so DNS rebinding has no window.
- ``allowed`` is the operator's allow-list (``host`` or ``host:port``); it comes from the server's
  environment, never from a workspace setting, so a tenant cannot reach the operator's network.

No Django imports: the settings pass the allow-list in.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = {"http": 80, "https": 443}

# Ranges Python's ``is_global`` already excludes are refused through it; these are the ones that
# carry another address inside and must be judged by that address as well.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}

_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_DOTTED_DECIMAL = re.compile(
    r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$"
)  # noqa: E501
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)  # noqa: E501


class UnsafeURL(ValueError):  # noqa: N818 - reads as a sentence: "raise UnsafeURL(...)"
    """The URL may not be called. The message says why and is safe to show to the user."""


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks: its scheme, canonical host and port."""

    scheme: str
    host: str
    port: int

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to. The one lookup the guard makes; tests replace it."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"the host {host!r} does not resolve") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    packed = int(address)
    if packed >> 32 == 0 and packed > 1:  # ::a.b.c.d, the deprecated IPv4-compatible form
        found.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    if any(address in network for network in _NAT64):
        found.append(ipaddress.IPv4Address(packed & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def refusal_reason(address: IPAddress) -> str | None:
    """Why a connection to ``address`` is refused, or None when it is publicly routable."""
    if address in _METADATA:
        return "a cloud metadata address"
    for inner in embedded_ipv4(address):
        reason = refusal_reason(inner)
        if reason is not None:
            return f"an IPv6 address that carries {reason}"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.IPv4Network(
        "100.64.0.0/10"
    ):
        return "a shared (CGNAT) address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if isinstance(address, ipaddress.IPv6Address) and address in _SIX_TO_FOUR:
        return "a 6to4 address"
    if not address.is_global:
        return "not a public address"
    return None


def check_address(address: IPAddress, *, host: str) -> None:
    reason = refusal_reason(address)
    if reason is not None:
        raise UnsafeURL(f"the host {host!r} is {reason} ({address})")


def _canonical_host(raw: str) -> tuple[str, IPAddress | None]:
    """The host in lower case without one trailing dot, and its address when it is a literal."""
    host = raw.lower()
    if host.startswith("[") and host.endswith("]"):
        try:
            address = ipaddress.IPv6Address(host[1:-1].split("%", 1)[0])
        except ValueError:
            raise UnsafeURL(f"{raw!r} is not an IPv6 address") from None
        if "%" in host:
            raise UnsafeURL("an IPv6 zone index is not allowed")
        return str(address), address
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise UnsafeURL("the URL has no host")
    labels = host.split(".")
    if _NUMERIC_LABEL.match(labels[-1]) or all(_NUMERIC_LABEL.match(label) for label in labels):
        # WHATWG and inet_aton read a numeric last label as an IPv4 address, in any base and with
        # fewer than four parts. Only the unambiguous form is accepted.
        if not _DOTTED_DECIMAL.match(host):
            raise UnsafeURL(
                f"the host {raw!r} is an IPv4 address in an ambiguous spelling: "
                "write it as four decimal numbers"
            )
        return host, ipaddress.IPv4Address(host)
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeURL(f"the host {raw!r} is not a valid host name") from None
    if not _HOST_NAME.match(host):
        raise UnsafeURL(f"the host {raw!r} is not a valid host name")
    if host == "localhost" or host.endswith(".localhost"):
        raise UnsafeURL(f"the host {raw!r} is a loopback name")
    return host, None


def parse_url(url: str) -> tuple[Target, IPAddress | None]:
    """Check the URL's form (scheme, userinfo, host spelling) without resolving it."""
    if not isinstance(url, str) or not url:
        raise UnsafeURL("the URL is empty")
    if any(character.isspace() or ord(character) < 32 or character == "\\" for character in url):
        raise UnsafeURL("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"the URL is not valid: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeURL("only http and https URLs are allowed")
    if "@" in parts.netloc:
        raise UnsafeURL("the URL may not contain a user name or password (use the secret)")
    if parts.netloc.startswith("["):
        raw_host = parts.netloc[: parts.netloc.index("]") + 1]
    else:
        raw_host = parts.netloc.split(":", 1)[0]
    host, literal = _canonical_host(raw_host)
    return Target(scheme=scheme, host=host, port=port or SCHEMES[scheme]), literal


def parse_allow_list(entries: Iterable[str]) -> frozenset[str]:
    """Canonical ``host`` and ``host:port`` entries of the operator's allow-list."""
    canonical: set[str] = set()
    for entry in entries:
        entry = entry.strip().lower()
        if not entry:
            continue
        host, _, port = entry.rpartition(":") if not entry.endswith("]") else (entry, "", "")
        if not host or not port.isdigit():
            host, port = entry, ""
        host = host.strip("[]").rstrip(".")
        with contextlib.suppress(ValueError):
            host = str(ipaddress.ip_address(host))
        canonical.add(f"{host}:{port}" if port else host)
    return frozenset(canonical)


def is_allowed(host: str, port: int, allowed: frozenset[str]) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    return host in allowed or f"{host}:{port}" in allowed


def validate_url(url: str, *, allowed: Iterable[str] = ()) -> Target:
    """The URL's target, or ``UnsafeURL`` saying why it may not be called (see the module doc)."""
    target, literal = parse_url(url)
    if is_allowed(target.host, target.port, parse_allow_list(allowed)):
        return target
    addresses = [literal] if literal is not None else resolve(target.host, target.port)
    if not addresses:
        raise UnsafeURL(f"the host {target.host!r} does not resolve")
    for address in addresses:
        check_address(address, host=target.host)
    return target


class GuardedNetworkBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to checked addresses, resolving each host exactly once."""

    def __init__(self, allowed: frozenset[str]) -> None:
        self._allowed = allowed
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        canonical, literal = _canonical_host(f"[{host}]" if ":" in host else host)
        allowed = is_allowed(canonical, port, self._allowed)
        addresses = [literal] if literal is not None else resolve(canonical, port)
        if not allowed:
            for address in addresses:
                check_address(address, host=canonical)
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
                continue
            if not allowed:
                self._check_peer(stream, host=canonical)
            return stream
        raise last_error or httpcore.ConnectError(f"could not connect to {canonical}")

    def _check_peer(self, stream: httpcore.NetworkStream, *, host: str) -> None:
        sock = stream.get_extra_info("socket")
        try:
            peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
            check_address(peer, host=host)
        except BaseException:
            stream.close()
            raise

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise UnsafeURL("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through ``GuardedNetworkBackend``."""

    def __init__(self, *, allowed: Iterable[str] = (), **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self._allowed = parse_allow_list(allowed)
        # httpx 0.28 takes no network backend, so the pool it built gets the guarded one; the
        # pool reads it each time it opens a connection.
        self._pool._network_backend = GuardedNetworkBackend(self._allowed)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        parse_url(str(request.url))
        return super().handle_request(request)


def guarded_client(*, allowed: Iterable[str] = (), **kwargs: Any) -> httpx.Client:
    """An httpx client that never follows redirects, ignores proxy variables and checks every
    connection it opens."""
    return httpx.Client(
        transport=GuardedTransport(allowed=allowed),
        follow_redirects=False,
        trust_env=False,
        **kwargs,
    )
