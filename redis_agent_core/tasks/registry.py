"""What a worker may run: named models, embedders, limiters, caches and index classes.

A task message is data written by whoever can write to the broker, so it never names
code: it carries a *name*, and the worker looks the name up in this registry, which
only code running in the worker process fills (its ``celery -A`` module, say)::

    from redis_agent_core.tasks import create_app, register_model

    app = create_app()
    register_model("gpt-mini", lambda: my_batch_model)   # factory(**model_kwargs)

A name nobody registered fails the task with :class:`NotRegisteredError`; nothing
is imported. Built in: the index ``"vector_index"``
(:class:`~redis_agent_core.vectors.VectorIndex`) and the shipped MiniLM under
both its names, ``DEFAULT_MODEL_NAME`` (float32) and ``INT8_MODEL_NAME`` (the
default). The registry is per process: register
the same names in the submitting process only when it needs them too (an index
class is looked up there by type, see :func:`index_name_for`).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

__all__ = [
    "KINDS",
    "NotRegisteredError",
    "check_name",
    "index_name_for",
    "lookup",
    "register_adapted",
    "register_cache",
    "register_embedder",
    "register_index",
    "register_limiter",
    "register_model",
    "registered",
    "resolve",
    "unregister",
]

# kind -> (what it is, the function that registers it)
KINDS: dict[str, tuple[str, str]] = {
    "model": ("batch model", "register_model"),
    "embedder": ("embedder", "register_embedder"),
    "limiter": ("rate limiter", "register_limiter"),
    "cache": ("LLM cache", "register_cache"),
    "index": ("index class", "register_index"),
}
_MAX_NAME = 200


class NotRegisteredError(ConfigError, LookupError):
    """A task message named something this worker did not register (nothing was
    imported or called); the message says how to register it."""


_lock = threading.Lock()
_registry: dict[str, dict[str, Any]] = {kind: {} for kind in KINDS}
_builtins_loaded = False


def check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > _MAX_NAME:
        raise ConfigError(
            f"a {KINDS[kind][0]} name must be a non-empty string of at most {_MAX_NAME} "
            f"characters, got {name!r}"
        )
    if any(ord(c) < 32 for c in name):
        raise ConfigError(f"a {KINDS[kind][0]} name must not contain control characters")
    return name


def _register(kind: str, name: str, obj: Any, replace: bool) -> None:
    check_name(kind, name)
    if not callable(obj):
        raise ConfigError(f"{KINDS[kind][1]}({name!r}, ...) needs a callable, got {obj!r}")
    _load_builtins()
    with _lock:
        current = _registry[kind].get(name)
        if current is not None and _origin(current) is not _origin(obj) and not replace:
            raise ConfigError(
                f"{KINDS[kind][0]} {name!r} is already registered to {current!r}: pick "
                f"another name, or pass replace=True to {KINDS[kind][1]}()"
            )
        _registry[kind][name] = obj


def _origin(obj: Any) -> Any:
    # adapters wrap what they register and set __wrapped__: registering the same model
    # twice (a worker module imported twice) is then not a conflict
    return getattr(obj, "__wrapped__", obj)


def register_model(name: str, factory: Callable[..., Any], *, replace: bool = False) -> None:
    """Let batch jobs use ``model=name``: the worker calls ``factory(**model_kwargs)``
    once per process for each distinct kwargs, and gets ``prompt -> str | (text, usage) | dict``.
    ``model_kwargs`` come from the message: accept only what you expect."""
    _register("model", name, factory, replace)


def register_embedder(name: str, factory: Callable[[], Any], *, replace: bool = False) -> None:
    """Let ingestion jobs use ``embedder=name`` (``factory()`` returns a core
    :class:`~redis_agent_core.embeddings.Embedder`). Registering under the embedder's
    own name (the one an index's spec records) also serves jobs that name none."""
    _register("embedder", name, factory, replace)


def register_limiter(name: str, factory: Callable[[Any], Any], *, replace: bool = False) -> None:
    """Let batch jobs use ``limiter=name``: ``factory(config)`` returns a
    :class:`~redis_agent_core.ratelimit.RateLimiter`."""
    _register("limiter", name, factory, replace)


def register_cache(name: str, factory: Callable[[Any], Any], *, replace: bool = False) -> None:
    """Let batch jobs use ``cache=name``: ``factory(config)`` returns an object with
    ``lookup(prompt, scope)`` and ``update(prompt, scope, text, usage=...)``."""
    _register("cache", name, factory, replace)


def register_index(name: str, cls: type, *, replace: bool = False) -> None:
    """Let ingestion jobs rebuild indexes of ``cls`` (``to_spec`` / ``from_spec`` /
    ``add``). Register it in the submitting process too, or pass ``index_type=name``."""
    if not isinstance(cls, type) or not callable(getattr(cls, "from_spec", None)):
        raise ConfigError(f"register_index({name!r}, ...) needs a class with from_spec()")
    _register("index", name, cls, replace)


def register_adapted(
    kind: str,
    name: str,
    obj: Any,
    *,
    accepts: type | tuple[type, ...],
    adapt: Callable[[Any], Any],
    what: str,
    replace: bool = False,
) -> None:
    """For framework adapters: register ``obj``, an instance of ``accepts`` or a factory
    of one, as a ``kind`` (``"model"`` or ``"embedder"``); the worker gets ``adapt(it)``.
    An instance takes no kwargs from the message; a factory gets them."""
    if kind not in ("model", "embedder"):
        raise ConfigError(f"register_adapted registers models or embedders, not {kind!r}")
    if not isinstance(obj, accepts) and not callable(obj):
        raise ConfigError(f"registering {KINDS[kind][0]} {name!r} needs {what} or a factory")

    def factory(**kwargs: Any) -> Any:
        if isinstance(obj, accepts):
            if kwargs:
                raise ConfigError(
                    f"{KINDS[kind][0]} {name!r} is registered as an instance and takes no "
                    f"kwargs (got {sorted(kwargs)}); register a factory to accept them"
                )
            return adapt(obj)
        built = obj(**kwargs)
        if not isinstance(built, accepts):
            raise ConfigError(
                f"the factory of {KINDS[kind][0]} {name!r} returned "
                f"{type(built).__name__}, not {what}"
            )
        return adapt(built)

    factory.__wrapped__ = obj  # type: ignore[attr-defined]
    _register(kind, name, factory, replace)


def unregister(kind: str, name: str) -> None:
    """Forget a registration (no error if absent)."""
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    with _lock:
        _registry[kind].pop(name, None)


def registered(kind: str) -> list[str]:
    """The names registered for ``kind`` in this process, sorted."""
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    _load_builtins()
    with _lock:
        return sorted(_registry[kind])


def resolve(kind: str, name: object) -> Any:
    """The factory or class registered as ``name``; :class:`NotRegisteredError` if none.

    ``name`` comes from a task message: it is only ever a dictionary key here.
    """
    what, how = KINDS[kind]
    _load_builtins()
    with _lock:
        obj = _registry[kind].get(name) if isinstance(name, str) else None
        known = sorted(_registry[kind])
    if obj is not None:
        return obj
    hint = ""
    if isinstance(name, str) and ":" in name:  # looks like the old 'module:attr' form
        hint = " (task messages carry registered names; import paths are never imported)"
    raise NotRegisteredError(
        f"{what} {name!r} is not registered on this worker{hint}. Register it in the "
        f"worker process, e.g. in the module given to 'celery -A': {how}({name!r}, ...). "
        f"Registered: {', '.join(map(repr, known)) or 'none'}"
    )


def lookup(kind: str, name: str) -> Any | None:
    """The registered factory or class, or None (no error)."""
    _load_builtins()
    with _lock:
        return _registry[kind].get(name)


def index_name_for(cls: type) -> str:
    """The name ``cls`` is registered under (the submitting side of ingestion)."""
    _load_builtins()
    with _lock:
        names = [n for n, c in _registry["index"].items() if c is cls]
    if not names:
        raise ConfigError(
            f"{cls.__module__}.{cls.__qualname__} is not a registered index class: call "
            f"register_index('my_index', {cls.__qualname__}) in the submitting and the "
            "worker processes, or pass index_type='<name registered on the worker>'"
        )
    return sorted(names)[0]


def _load_builtins() -> None:
    # imported on first use: the vectors and embeddings modules are heavier than this one
    global _builtins_loaded
    if _builtins_loaded:
        return
    from ..embeddings import DEFAULT_MODEL_NAME, INT8_MODEL_NAME, builtin_embedder
    from ..vectors import VectorIndex

    with _lock:
        if not _builtins_loaded:
            _registry["index"].setdefault("vector_index", VectorIndex)
            # the shipped model under both its names (float32, int8): an index records
            # the one it was built with
            for name in (DEFAULT_MODEL_NAME, INT8_MODEL_NAME):
                _registry["embedder"].setdefault(name, functools.partial(builtin_embedder, name))
            _builtins_loaded = True
