"""Cache scopes for multi-turn answers: who may be served an answer that depended on
the conversation so far.

A chain that caches the answer to "where do I live?" under the question alone serves
user A's address to user B. :func:`context_scope` keys such an answer on a digest of
the exact messages the model saw besides the question (the history window), so it is
only ever served to a request whose model input had the same history; the ``share``
policy narrows that further to the same user or the same session. A context-free
answer (the model saw no history) keeps the base scope and is shared by everyone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

import orjson

from ..errors import ConfigError
from .entry import make_scope

__all__ = ["SHARE_POLICIES", "Share", "context_digest", "context_scope"]

#: Who may be served an answer that depended on the conversation history:
#: ``"global"`` anyone whose model input had the same history, ``"user"`` the same
#: user with the same history, ``"session"`` the same session with the same history.
Share = Literal["global", "user", "session"]
SHARE_POLICIES: tuple[str, ...] = get_args(Share)


def context_digest(messages: Sequence[tuple[str, str] | Mapping[str, Any]]) -> str | None:
    """SHA-256 of the exact messages the model saw besides the question, or ``None``
    when there were none (the answer cannot depend on a history).

    Each message is a ``(role, text)`` pair or a JSON-like mapping (role, content,
    tool calls...): anything that changes what the model reads must be in it.
    """
    if not messages:
        return None
    items: list[Any] = []
    for m in messages:
        if isinstance(m, Mapping):
            items.append(dict(m))
        elif isinstance(m, tuple) and len(m) == 2:
            items.append(list(m))
        else:
            raise ConfigError(
                f"context messages must be (role, text) pairs or mappings, got {type(m).__name__}"
            )
    data = orjson.dumps(items, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr)
    return hashlib.sha256(data).hexdigest()


def context_scope(
    base_scope: str,
    context: Sequence[tuple[str, str] | Mapping[str, Any]],
    *,
    share: Share = "user",
    user: str | None = None,
    session: str | None = None,
) -> str:
    """The cache scope of an answer given the history the model saw.

    Args:
        base_scope: the model's scope (:func:`make_scope` of its identity).
        context: the messages the model saw besides the question (system prompt and
            current question excluded); empty for a first turn.
        share: who else may be served a history-dependent answer (see :data:`Share`).
            Default ``"user"``: never another user, even with an identical history.
        user: the authenticated principal (required by ``share="user"``).
        session: the session id (required by ``share="session"``).

    Returns ``base_scope`` when ``context`` is empty (a context-free answer, shared by
    every user); otherwise a scope derived from the history digest and, per policy,
    the user or the session. Pure: no I/O.
    """
    if share not in SHARE_POLICIES:
        raise ConfigError(f"share must be one of {', '.join(SHARE_POLICIES)}; got {share!r}")
    digest = context_digest(context)
    if digest is None:
        return base_scope
    identity: dict[str, Any] = {"base": base_scope, "context": digest, "share": share}
    if share == "user":
        if not user:
            raise ConfigError("share='user' needs user=: the principal the answer belongs to")
        identity["user"] = user
    elif share == "session":
        if not session:
            raise ConfigError("share='session' needs session=: the session the answer belongs to")
        identity["user"] = user or ""
        identity["session"] = session
    return make_scope(identity)
