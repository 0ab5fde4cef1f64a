"""Where webhooks may go: a destination policy checked on every resolved address.

A webhook URL comes from whoever submitted the job (and, on the worker, from a task
message), so the worker refuses to POST to its own network: loopback, private,
link-local (cloud metadata at 169.254.169.254), site-local (fec0::/10), multicast,
reserved and unspecified addresses, in every spelling (IPv4-mapped / -compatible IPv6,
NAT64, 6to4, Teredo, ``0x7f.1``-style forms, which the resolver turns into the
addresses checked here).
Every address a name resolves to must pass, unless the allowlist permits it
(``webhook_allow=`` / ``REDIS_AGENT_WEBHOOK_ALLOW``: CIDRs, IPs or host names).

The check runs at submit time (an early, clear error) and again on the worker before
each try; the POST then connects to the very address that was checked (the name only
travels in the ``Host`` header and TLS SNI / certificate check), so a name that
resolves elsewhere a moment later (DNS rebinding) cannot move it. Redirects are never
followed, and no proxy is used.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from ..errors import ConfigError
from ..redis_errors import describe_url, unescaped_password

__all__ = [
    "ENV_WEBHOOK_ALLOW",
    "Destination",
    "DestinationPolicy",
    "DestinationRefusedError",
    "refusal",
    "split_url",
]

ENV_WEBHOOK_ALLOW = "REDIS_AGENT_WEBHOOK_ALLOW"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPAT = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible IPv6


class DestinationRefusedError(ConfigError):
    """A webhook URL resolves to an address the destination policy refuses (nothing
    was sent); the message names the address, why, and how to allow it."""


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64 or (ip in _COMPAT and int(ip) > 1):  # '::' and '::1' are themselves
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination, or None if it is."""
    inner = _embedded_v4(ip)
    if inner is not None:
        reason = refusal(inner)
        if reason is not None:
            return f"{reason} ({inner} inside {ip})"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:  # before private: Python counts 240.0.0.0/4 as both
        return "reserved"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        # fec0::/10: deprecated, but some networks still route it internally, and
        # Python's is_private does not cover it
        return "site-local"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class Destination:
    """A checked target: connect to one of ``addresses``; ``host`` is only the name."""

    scheme: str
    host: str
    port: int
    target: str  # path and query
    addresses: tuple[str, ...]


def split_url(url: str) -> tuple[SplitResult, int]:
    """``url`` split, and the port the POST goes to; :class:`ConfigError` for a URL it
    could not use, or that says what the POST would not do: port 0 (``urlsplit`` reads
    it as no port: the POST went to 80 / 443) and a user name or password (never sent:
    the receiver answered 401, and the password was kept in the job record, the task
    message and the dead letter). The URL is shown only through
    :func:`~redis_agent_core.redis_errors.describe_url`, and a password holding an
    unescaped ``/``, ``?``, ``#`` or ``@`` (which ``urlsplit`` reads in part as the
    host, the port or the path, and its error message shows) is refused first."""
    shown = describe_url(url)
    if unescaped_password(url):
        raise ConfigError(_with_userinfo(shown))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a bad port or an unbalanced '[': not a secret
        raise ConfigError(f"webhook url {shown!r} is malformed: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"webhook url must be http(s)://host/..., got {shown!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(_with_userinfo(shown))
    if port == 0:
        raise ConfigError(
            f"webhook url {shown!r} names port 0, which nothing listens on: give the "
            "receiver's port, or none for the default"
        )
    return parts, port or (443 if parts.scheme == "https" else 80)


def _with_userinfo(shown: str) -> str:
    return (
        f"webhook url {shown!r} carries a user name or password, which is never sent (no "
        "Authorization header is made from it): remove 'user:password@'; receivers "
        "authenticate deliveries by their signature header (verify_signature)"
    )


def _host_key(host: str) -> str:
    return host.lower().rstrip(".")


@dataclass(frozen=True)
class DestinationPolicy:
    """Public addresses only, plus what the allowlist names."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, allow: str | Iterable[str] | None) -> DestinationPolicy:
        """From ``"10.0.0.0/8, hooks.internal"`` (commas or spaces) or a list."""
        if allow is None:
            return cls()
        entries = allow.replace(",", " ").split() if isinstance(allow, str) else list(allow)
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in entries:
            if not isinstance(entry, str) or not entry.strip():
                raise ConfigError(f"webhook allowlist entries are CIDRs or hosts, got {entry!r}")
            entry = entry.strip()
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or ":" in entry or any(c.isspace() for c in entry):
                    raise ConfigError(
                        f"webhook allowlist entry {entry!r} is neither a CIDR nor a host name"
                    ) from None
                hosts.add(_host_key(entry))
        return cls(tuple(networks), frozenset(hosts))

    @classmethod
    def from_env(cls) -> DestinationPolicy:
        return cls.parse(os.environ.get(ENV_WEBHOOK_ALLOW))

    def allows(self, ip: IPAddress) -> bool:
        inner = _embedded_v4(ip)
        return any(
            candidate.version == net.version and candidate in net
            for net in self.networks
            for candidate in (ip, inner)
            if candidate is not None
        )

    def check(self, url: str, *, resolve: bool = True) -> Destination:
        """Resolve ``url``'s host and check every address; :class:`DestinationRefusedError`
        if any is refused. ``resolve=False`` checks only an IP literal (no DNS); a name
        then passes with no addresses. A name that does not resolve raises
        :class:`socket.gaierror` (a network fault, worth a retry)."""
        parts, port = split_url(url)
        host = parts.hostname or ""
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            literal = None
        if literal is not None:
            ips = [literal]
        elif not resolve:
            return Destination(parts.scheme, host, port, target, ())
        else:
            ips = _resolve(host, port)
        named = _host_key(host) in self.hosts
        for ip in ips:
            if named or self.allows(ip):
                continue
            reason = refusal(ip)
            if reason is not None:
                shown = host if literal is not None else f"{host} resolves to {ip}:"
                raise DestinationRefusedError(
                    f"webhook destination refused: {shown} {reason} address. Webhooks go to "
                    "public addresses only; to allow this one, add it (or its network, or the "
                    f"host name) to create_app(webhook_allow=...) / {ENV_WEBHOOK_ALLOW} on the "
                    "submitter and the worker"
                )
        return Destination(parts.scheme, host, port, target, tuple(str(ip) for ip in ips))


def _resolve(host: str, port: int) -> list[IPAddress]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, IPAddress] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]
        seen.setdefault(text, ipaddress.ip_address(text))
    if not seen:
        raise socket.gaierror(f"{host} resolved to no address")
    return list(seen.values())


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to a checked address; ``host`` stays the name (Host header)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_PinnedHTTP):
    """TLS to a checked address, with SNI and certificate checks against the name."""

    default_port = 443

    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, address, timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


class _Watchdog:
    """Cuts a connection at a total deadline. http.client's timeout bounds each socket
    operation only, so an (untrusted) target sending one byte per read would hold the
    worker for as long as it likes; shutting the socket down wakes any blocked read."""

    def __init__(self, conn: http.client.HTTPConnection, seconds: float) -> None:
        self.fired = False
        self._conn = conn
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        self.fired = True
        sock = self._conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed: the request is over anyway

    def cancel(self) -> None:
        self._timer.cancel()


def _timed_out(timeout: float) -> TimeoutError:
    return TimeoutError(
        f"webhook request timed out: no answer within {timeout:g} s "
        "(connect, send and response head together)"
    )


def send(
    destination: Destination,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int, str]:
    """POST ``body`` to the first checked address that accepts a connection; returns
    ``(status, reason)``. ``timeout`` is the total for the whole request, over all
    addresses. Network errors raise :class:`OSError` (the last one), the deadline
    :class:`TimeoutError`."""
    if not destination.addresses:
        raise ConfigError("a destination must be checked with resolve=True before sending")
    deadline = time.monotonic() + timeout
    last: OSError | None = None
    for address in destination.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timed_out(timeout)
        conn: _PinnedHTTP
        if destination.scheme == "https":
            context = ssl_context or ssl.create_default_context()
            conn = _PinnedHTTPS(destination.host, destination.port, address, remaining, context)
        else:
            conn = _PinnedHTTP(destination.host, destination.port, address, remaining)
        watchdog = _Watchdog(conn, remaining)
        try:
            try:
                conn.connect()
            except OSError as exc:
                if watchdog.fired:
                    raise  # below: reported as the timeout
                last = exc
                continue
            conn.request("POST", destination.target, body=body, headers=dict(headers))
            response = conn.getresponse()
            response.read(64 * 1024)  # drain a little (cut at the deadline); not used
            return response.status, response.reason
        except Exception as exc:
            if watchdog.fired:  # the cut surfaces as EOF, BadStatusLine, ...: say why
                raise _timed_out(timeout) from exc
            raise
        finally:
            watchdog.cancel()
            conn.close()
    assert last is not None
    raise last
