"""API keys for services built on the pack: issued per user, stored hashed in Redis.

A key reads ``rak_<key id>_<secret>``. Redis holds, per key id, the user it belongs
to and the SHA-256 of the secret, never the secret: someone who can read Redis
cannot act as a user. Verification looks the id up and compares the digests in
constant time. Managed with ``redis-agent keys create|list|revoke``.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .config import RedisAgentConfig, get_default_config
from .errors import ConfigError
from .redis_errors import translate_errors

__all__ = ["ApiKeyInfo", "ApiKeys", "validate_user"]

# \Z, not $: $ also matches before a final newline, so 'name\n' passed
_USER_RE = re.compile(r"\A[A-Za-z0-9_.@-]{1,64}\Z")
_KEY_ID_RE = re.compile(r"\A[0-9a-f]{16}\Z")
_KEY_RE = re.compile(r"\Arak_([0-9a-f]{16})_([A-Za-z0-9_-]{43})\Z")


def validate_user(user: str) -> str:
    """Return ``user`` if it is a valid principal name, else raise :class:`ConfigError`."""
    if not isinstance(user, str) or not _USER_RE.match(user):
        raise ConfigError(
            f"invalid user name {user!r}: use 1-64 characters from letters, digits, "
            "'_', '.', '@', '-'"
        )
    return user


@dataclass(frozen=True)
class ApiKeyInfo:
    """What :meth:`ApiKeys.list` shows of a key: never the key itself."""

    key_id: str
    user: str
    created: float


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parse(record: Any) -> dict[str, Any] | None:
    # a record someone else wrote (or a damaged one) is treated as no key at all
    try:
        value = orjson.loads(record)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("sha256"), str):
        return None
    if not isinstance(value.get("user"), str):
        return None
    return dict(value)


class ApiKeys:
    """Issue, verify, list and revoke API keys (sync and asyncio).

    Args:
        config: connection and namespace (``None``: the process default); keys live
            in one hash, ``<namespace>:auth:keys``.

    Construction does no I/O.
    """

    def __init__(self, config: RedisAgentConfig | None = None) -> None:
        self.config = config or get_default_config()
        self.key = self.config.keys.api_keys()

    def __repr__(self) -> str:
        return f"ApiKeys(key={self.key!r})"

    @staticmethod
    def _new(user: str) -> tuple[str, str, bytes]:
        validate_user(user)
        key_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        record = orjson.dumps({"user": user, "sha256": _digest(secret), "created": time.time()})
        return f"rak_{key_id}_{secret}", key_id, record

    @staticmethod
    def _split(key: str) -> tuple[str, str] | None:
        m = _KEY_RE.match(key) if isinstance(key, str) else None
        return (m.group(1), m.group(2)) if m else None

    @staticmethod
    def _check(secret: str, record: Any) -> str | None:
        if record is None:
            return None
        value = _parse(record)
        if value is None:
            return None
        ok = hmac.compare_digest(_digest(secret), value["sha256"])
        return str(value["user"]) if ok else None

    @staticmethod
    def _check_key_id(key_id: str | None) -> None:
        if key_id is not None and (not isinstance(key_id, str) or not _KEY_ID_RE.match(key_id)):
            raise ConfigError(
                f"invalid key id {key_id!r:.40}: a key id is the 16 hex digits after 'rak_' "
                "(as `redis-agent keys list` shows them)"
            )

    @staticmethod
    def _revoked(user: str, key_id: str | None, infos: Any) -> list[str]:
        """The ids to delete: every key of ``user``, or its key ``key_id`` only (none
        when that key is another user's)."""
        return [
            i.key_id for i in infos if i.user == user and (key_id is None or i.key_id == key_id)
        ]

    @staticmethod
    def _infos(records: Mapping[Any, Any]) -> list[ApiKeyInfo]:
        out = []
        for key_id, record in records.items():
            value = _parse(record)
            if value is not None:
                kid = key_id.decode() if isinstance(key_id, bytes) else str(key_id)
                out.append(ApiKeyInfo(kid, value["user"], float(value.get("created", 0))))
        return sorted(out, key=lambda i: (i.user, i.created))

    # -- sync --
    def create(self, user: str) -> str:
        """A new key for ``user`` (other keys of the user stay valid). Shown once:
        only its digest is stored."""
        key, key_id, record = self._new(user)
        with translate_errors(self.config, "create API key"):
            self.config.get_client().hset(self.key, key_id, record)
        return key

    def verify(self, key: str) -> str | None:
        """The user ``key`` belongs to, or ``None`` (malformed, unknown or revoked)."""
        parts = self._split(key)
        if parts is None:
            return None
        with translate_errors(self.config, "verify API key"):
            record = self.config.get_client().hget(self.key, parts[0])
        return self._check(parts[1], record)

    def list(self) -> list[ApiKeyInfo]:
        """Every key's id, user and creation time, by user."""
        with translate_errors(self.config, "list API keys"):
            return self._infos(self.config.get_client().hgetall(self.key))

    def revoke(self, user: str, key_id: str | None = None) -> int:
        """Revoke every key of ``user``, or only its key ``key_id`` (the id ``list``
        shows): a leaked key, or the old one once its replacement is in use, without
        cutting off the user's other keys. Returns how many were revoked."""
        validate_user(user)
        self._check_key_id(key_id)
        ids = self._revoked(user, key_id, self.list())
        if not ids:
            return 0
        with translate_errors(self.config, "revoke API keys"):
            return int(self.config.get_client().hdel(self.key, *ids))

    # -- asyncio --
    async def acreate(self, user: str) -> str:
        """Async :meth:`create`."""
        key, key_id, record = self._new(user)
        with translate_errors(self.config, "create API key"):
            await self.config.get_async_client().hset(self.key, key_id, record)
        return key

    async def averify(self, key: str) -> str | None:
        """Async :meth:`verify`."""
        parts = self._split(key)
        if parts is None:
            return None
        with translate_errors(self.config, "verify API key"):
            record = await self.config.get_async_client().hget(self.key, parts[0])
        return self._check(parts[1], record)

    async def alist(self) -> builtins.list[ApiKeyInfo]:
        """Async :meth:`list`."""
        with translate_errors(self.config, "list API keys"):
            return self._infos(await self.config.get_async_client().hgetall(self.key))

    async def arevoke(self, user: str, key_id: str | None = None) -> int:
        """Async :meth:`revoke`."""
        validate_user(user)
        self._check_key_id(key_id)
        ids = self._revoked(user, key_id, await self.alist())
        if not ids:
            return 0
        with translate_errors(self.config, "revoke API keys"):
            return int(await self.config.get_async_client().hdel(self.key, *ids))
