"""Redis Sentinel URLs: parse ``redis+sentinel://`` and build the client of the master.

The form (the one most Redis clients and managed services document)::

    redis+sentinel://[[user]:password@]host1[:port1][,host2[:port2]...]/service[/db]
        [?sentinel_username=...&sentinel_password=...]

``rediss+sentinel://`` speaks TLS to the sentinels and the data nodes. The password in
the URL's userinfo is the data nodes' (the master's and replicas'); sentinels that need
their own credentials take them from the query. The default sentinel port is 26379.

A client built here asks the sentinels for the current master at connect time and
again after a connection fault, so a failover needs no restart: the next call after
the replica is promoted goes to the new master.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import redis
import redis.asyncio.sentinel as asentinel
import redis.sentinel

from .errors import ConfigError
from .fastpath import CheckedSentinelPool

__all__ = ["SENTINEL_SCHEMES", "SentinelURL", "is_sentinel_url", "parse_sentinel_url"]

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379
_QUERY_KEYS = frozenset({"sentinel_username", "sentinel_password"})
_EXAMPLE = "redis+sentinel://:password@sentinel1:26379,sentinel2:26379/mymaster/0"


def is_sentinel_url(url: str) -> bool:
    """Whether ``url`` names a Sentinel-managed master."""
    return url.partition("://")[0].lower() in SENTINEL_SCHEMES


@dataclass(frozen=True)
class SentinelURL:
    """A parsed ``redis+sentinel://`` URL (see the module docstring)."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    ssl: bool = False
    sentinel_username: str | None = None
    sentinel_password: str | None = None

    def _sentinel_kwargs(self, connection_kwargs: dict[str, Any]) -> dict[str, Any]:
        # sentinels get the same timeouts as the data nodes, their own credentials
        kwargs = {
            k: v
            for k, v in connection_kwargs.items()
            if k in ("socket_timeout", "socket_connect_timeout")
        }
        kwargs.update(username=self.sentinel_username, password=self.sentinel_password)
        if self.ssl:
            kwargs["ssl"] = True
        return kwargs

    def _master_kwargs(self, connection_kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(connection_kwargs, db=self.db)
        kwargs.update(username=self.username, password=self.password)
        if self.ssl:
            kwargs["ssl"] = True
        return kwargs

    def client(self, **connection_kwargs: Any) -> redis.Redis:
        """A sync client of the current master (no I/O until the first command)."""
        sentinel = redis.sentinel.Sentinel(
            list(self.sentinels), sentinel_kwargs=self._sentinel_kwargs(connection_kwargs)
        )
        return sentinel.master_for(self.service, **self._master_kwargs(connection_kwargs))

    def async_client(self, **connection_kwargs: Any) -> redis.asyncio.Redis:
        """An asyncio client of the current master (no I/O until the first command), whose
        pool checks an idle connection's socket before handing it out."""
        sentinel = asentinel.Sentinel(
            list(self.sentinels), sentinel_kwargs=self._sentinel_kwargs(connection_kwargs)
        )
        return sentinel.master_for(
            self.service,
            connection_pool_class=CheckedSentinelPool,
            **self._master_kwargs(connection_kwargs),
        )


def _host_port(item: str) -> tuple[str, int]:
    if item.startswith("["):  # [::1]:26379
        host, _, rest = item[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = item.rpartition(":") if ":" in item else (item, "", "")
    if not host:
        raise ValueError(f"sentinel address {item!r} has no host")
    if not port_text:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"sentinel address {item!r} has a bad port")
    return host, int(port_text)


def parse_sentinel_url(url: str) -> SentinelURL:
    """Parse a ``redis+sentinel://`` URL; :class:`ConfigError` says what is wrong."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in SENTINEL_SCHEMES:
        raise ConfigError(f"not a Sentinel URL: it must start with redis+sentinel://. {_EXAMPLE}")
    rest, _, query_text = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    username = password = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        username = unquote(user_text) or None
        password = unquote(password_text) if colon else None
    try:
        sentinels = tuple(_host_port(item) for item in hosts.split(",") if item)
    except ValueError as exc:
        raise ConfigError(f"bad Sentinel URL: {exc}. Use e.g. {_EXAMPLE}") from exc
    if not sentinels:
        raise ConfigError(f"a Sentinel URL needs at least one sentinel host: {_EXAMPLE}")
    parts = [p for p in path.split("/") if p]
    if not parts or len(parts) > 2:
        raise ConfigError(
            f"a Sentinel URL's path is /<service name>[/<db>], the master's name as the "
            f"sentinels know it: {_EXAMPLE}"
        )
    if len(parts) == 2 and not parts[1].isdigit():
        raise ConfigError(f"the database after the service name must be a number, not {parts[1]!r}")
    query = parse_qs(query_text, keep_blank_values=True)
    unknown = sorted(set(query) - _QUERY_KEYS)
    if unknown:
        raise ConfigError(
            f"unknown Sentinel URL option(s) {unknown}; allowed: {sorted(_QUERY_KEYS)}"
        )
    return SentinelURL(
        sentinels=sentinels,
        service=unquote(parts[0]),
        db=int(parts[1]) if len(parts) == 2 else 0,
        username=username,
        password=password,
        ssl=scheme.lower() == "rediss+sentinel",
        sentinel_username=query.get("sentinel_username", [None])[-1],
        sentinel_password=query.get("sentinel_password", [None])[-1],
    )
