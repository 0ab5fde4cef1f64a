"""Peer-style settings (langchain-redis, redisvl, LlamaIndex Redis stores) mapped onto
the pack's: a connection given as ``redis_url=`` / ``redis_client=``, a metadata schema
in langchain-redis's list-of-dicts form, and a redisvl ``IndexSchema`` (object, dict or
YAML file) turned into :class:`~redis_agent_core.vectors.VectorIndex` options.

Pure (no I/O). Anything that would change results without saying so (a text field with
``no_stem``, a vector datatype the pack does not store) raises naming the option.
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from redisvl.schema import IndexSchema

from ..config import RedisAgentConfig, get_default_config
from ..errors import ConfigError
from ..keys import validate_namespace
from ..vectors import MetadataField

__all__ = [
    "client_url",
    "doc_prefix",
    "metadata_fields_from_peer",
    "namespace_for_prefix",
    "options_from_redisvl",
    "peer_config",
]

# Field attributes that do not change which documents match or how they rank (or
# that the pack's layout always applies): accepted and left to the pack.
_NEUTRAL_ATTRS = frozenset(
    {"sortable", "unf", "index_missing", "index_empty", "withsuffixtrie", "separator",
     "case_sensitive", "no_index", "weight", "no_stem", "phonetic_matcher"}
)  # fmt: skip
# ... unless set to something else than these (their meaning then changes results).
_NEUTRAL_VALUES: dict[str, Any] = {
    "no_index": False,
    "weight": 1,
    "no_stem": False,
    "phonetic_matcher": None,
}
_VECTOR_ATTRS = frozenset(
    {"dims", "algorithm", "distance_metric", "datatype", "m", "ef_construction",
     "ef_runtime", "epsilon", "initial_cap", "block_size", "index_missing"}
)  # fmt: skip


def client_url(client: Any) -> str:
    """A URL reaching the server a redis-py client (sync or asyncio) talks to, so the
    pack can open its own pools beside it (asyncio clients belong to one event loop).
    Raises :class:`ConfigError` for a client whose connection it cannot describe."""
    pool = getattr(client, "connection_pool", None)
    kwargs: Mapping[str, Any] | None = getattr(pool, "connection_kwargs", None)
    if kwargs is None:
        if hasattr(client, "get_nodes"):  # RedisCluster: any node, flagged as a cluster
            node = client.get_nodes()[0]
            return f"redis://{node.host}:{node.port}?cluster=true"
        raise ConfigError(
            f"cannot tell which server the {type(client).__name__} talks to; pass "
            "redis_url= (or config=RedisAgentConfig(url=...)) instead of redis_client="
        )
    user = kwargs.get("username")
    password = kwargs.get("password")
    auth = ""
    if password is not None:
        auth = f"{quote(str(user or ''), safe='')}:{quote(str(password), safe='')}@"
    db = int(kwargs.get("db") or 0)
    if kwargs.get("path"):
        query = f"?db={db}" if db else ""
        return f"unix://{auth}{kwargs['path']}{query}"
    scheme = "rediss" if "SSL" in getattr(pool, "connection_class", type).__name__ else "redis"
    return f"{scheme}://{auth}{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


def peer_config(
    owner: str,
    *,
    config: Any = None,
    redis_url: str | None = None,
    redis_client: Any = None,
    namespace: str | None = None,
    redis_client_async: Any = None,
) -> RedisAgentConfig | None:
    """The config of a store built with a peer's connection arguments.

    ``redis_url=`` becomes the URL of a copy of ``config`` (default: the process-wide
    config, so its timeouts carry over); ``redis_client=`` is used as is for sync
    calls, and asyncio calls get pools of their own to the same server (an asyncio
    client given is used for asyncio calls, as is ``redis_client_async``, LlamaIndex's
    name for it); ``namespace`` replaces the config's.
    ``config`` itself when none is given. Stores built with the same arguments share
    one derived config, so one pool (peer code often builds a history per request).
    """
    if redis_client_async is not None:
        if redis_client is None:
            redis_client = redis_client_async
        elif not _is_async(redis_client_async) or _is_async(redis_client):
            raise ConfigError(
                f"{owner}: redis_client= takes a sync client and redis_client_async= an asyncio one"
            )
    if redis_url is None and redis_client is None and namespace is None:
        return config
    if redis_url is not None and redis_client is not None:
        raise ConfigError(f"{owner}: pass redis_url= or redis_client=, not both")
    if config is not None and not isinstance(config, RedisAgentConfig):
        raise ConfigError(f"{owner}: config= takes a RedisAgentConfig, got {type(config).__name__}")
    if redis_url is not None and not isinstance(redis_url, str):
        raise ConfigError(f"{owner}: redis_url must be a str, got {redis_url!r}")
    base = config or get_default_config()
    cache_key = (id(base), redis_url, id(redis_client), namespace, id(redis_client_async))
    with _LOCK:
        cached = _DERIVED.get(cache_key)
        if cached is not None and cached[0]() is base and cached[1] is redis_client:
            return cached[2]
    changes: dict[str, Any] = {}
    if namespace is not None:
        changes["namespace"] = namespace
    if redis_url is not None:
        changes.update(url=redis_url, client=None, async_client=None)
    elif redis_client is not None:
        url = client_url(redis_client)
        if _is_async(redis_client):
            changes.update(url=url, client=None, async_client=redis_client)
        else:
            changes.update(url=url, client=redis_client, async_client=redis_client_async)
    derived = base.with_options(**changes)
    with _LOCK:
        if len(_DERIVED) >= _MAX_DERIVED:
            _DERIVED.pop(next(iter(_DERIVED)))
        _DERIVED[cache_key] = (weakref.ref(base), redis_client, derived)
    return derived


# (id(base), url, id(client), namespace) -> (base ref, client, derived config)
_DERIVED: dict[tuple[Any, ...], tuple[Any, Any, RedisAgentConfig]] = {}
_MAX_DERIVED = 64
_LOCK = threading.Lock()


def _is_async(client: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(getattr(client, "execute_command", None))


def namespace_for_prefix(key_prefix: str) -> str:
    """The pack namespace standing for a peer's key prefix: ``"chat:"`` → ``"chat"``.
    A prefix that is no valid namespace (over 64 characters, or characters besides
    letters, digits, ``_``, ``.``, ``-``) keeps its valid characters and gets a digest
    of the whole prefix, so distinct prefixes stay distinct namespaces."""
    if not isinstance(key_prefix, str) or not key_prefix.rstrip(":"):
        raise ConfigError(f"key_prefix must be a non-empty str, got {key_prefix!r}")
    name = key_prefix.rstrip(":")
    try:
        return validate_namespace(name)
    except ConfigError:
        digest = hashlib.sha1(key_prefix.encode(), usedforsecurity=False).hexdigest()[:10]
        kept = re.sub(r"[^A-Za-z0-9_.\-]+", "_", name)[:53].strip("_") or "prefix"
        return f"{kept}-{digest}"


def doc_prefix(prefix: str, separator: str = ":") -> str:
    """The key prefix documents of a peer store live under: ``"docs"`` → ``"docs:"``
    (keys are ``prefix + separator + id`` there), unchanged when it already ends with
    the separator."""
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError(f"key_prefix must be a non-empty str, got {prefix!r}")
    return prefix if prefix.endswith(separator) else prefix + separator


def _attrs_error(owner: str, name: str, attrs: Mapping[str, Any]) -> None:
    for key, value in attrs.items():
        if key not in _NEUTRAL_ATTRS:
            raise ConfigError(
                f"{owner}: field {name!r} sets {key}={value!r}, which the pack does not "
                f"support; remove it (supported: {', '.join(sorted(_NEUTRAL_ATTRS))})"
            )
        if key in _NEUTRAL_VALUES and value != _NEUTRAL_VALUES[key]:
            raise ConfigError(
                f"{owner}: field {name!r} sets {key}={value!r}; the pack indexes every "
                f"field with {key}={_NEUTRAL_VALUES[key]!r}, so results would differ. "
                "Remove it, or keep the field out of the schema"
            )


def _metadata_field(owner: str, spec: Mapping[str, Any], explicit: Mapping[str, Any]) -> Any:
    name, kind = spec.get("name"), str(spec.get("type", "")).lower()
    if kind not in ("tag", "text", "numeric", "geo"):
        raise ConfigError(
            f"{owner}: metadata field {name!r} has type {spec.get('type')!r}; use tag, "
            "text, numeric or geo (the vector field is declared by the store)"
        )
    _attrs_error(owner, str(name), explicit)
    # A peer tag without case_sensitive matches case-insensitively (RediSearch's
    # default); keep that meaning rather than the pack's case-sensitive default.
    return MetadataField(name, kind, bool(explicit.get("case_sensitive", False)))  # type: ignore[arg-type]


def metadata_fields_from_peer(
    schema: Sequence[Mapping[str, Any]], owner: str = "metadata_schema"
) -> tuple[MetadataField, ...]:
    """langchain-redis's ``metadata_schema`` (``[{"name": "year", "type": "numeric"},
    {"name": "tags", "type": "tag", "attrs": {"separator": ","}}]``) as metadata fields."""
    if isinstance(schema, (str, bytes, Mapping)) or not isinstance(schema, Sequence):
        raise ConfigError(
            f"{owner} must be a list of {{'name': ..., 'type': ...}} dicts, got {schema!r}"
        )
    fields = []
    for spec in schema:
        if not isinstance(spec, Mapping) or "name" not in spec:
            raise ConfigError(f"{owner}: cannot read field declaration {spec!r}")
        extra = set(spec) - {"name", "type", "attrs", "path"}
        if extra:
            raise ConfigError(f"{owner}: field {spec['name']!r} has unknown keys {sorted(extra)}")
        fields.append(_metadata_field(owner, spec, spec.get("attrs") or {}))
    return tuple(fields)


def _load_schema(schema: Any) -> IndexSchema:
    if isinstance(schema, IndexSchema):
        return schema
    if isinstance(schema, Mapping):
        return IndexSchema.from_dict(dict(schema))
    if isinstance(schema, (str, Path)):
        if not Path(schema).is_file():
            raise ConfigError(f"schema file {str(schema)!r} does not exist")
        return IndexSchema.from_yaml(str(schema))
    raise ConfigError(
        f"schema must be a redisvl IndexSchema, a dict or a YAML path, got {type(schema).__name__}"
    )


def options_from_redisvl(
    schema: Any,
    *,
    content_field: str = "text",
    skip: Sequence[str] = (),
    owner: str = "schema",
) -> dict[str, Any]:
    """:class:`VectorIndex` options for a redisvl ``IndexSchema`` (object, dict or YAML
    path): ``name`` (the schema's index name), ``key_prefix``, ``storage``, its stop
    words, the vector field's settings and the other fields as metadata.
    ``content_field`` names the text field holding the document; fields in ``skip`` (a
    peer's own bookkeeping fields) are left out."""
    s = _load_schema(schema)
    vectors = [f for f in s.fields.values() if str(getattr(f.type, "value", f.type)) == "vector"]
    if len(vectors) != 1:
        raise ConfigError(
            f"{owner}: the pack's index holds exactly one vector field, the schema has "
            f"{len(vectors)} ({', '.join(f.name for f in vectors) or 'none'})"
        )
    vector = vectors[0]
    attrs = vector.attrs
    explicit = attrs.model_fields_set
    for key in explicit - _VECTOR_ATTRS:
        raise ConfigError(f"{owner}: vector attribute {key!r} is not supported by the pack")
    dtype = str(getattr(attrs.datatype, "value", attrs.datatype)).lower()
    options: dict[str, Any] = {
        "name": s.index.name,
        "key_prefix": doc_prefix(s.index.prefix, s.index.key_separator or ":"),
        "storage": str(getattr(s.index.storage_type, "value", s.index.storage_type)).lower(),
        "dims": int(attrs.dims),
        "algorithm": str(getattr(attrs.algorithm, "value", attrs.algorithm)).lower(),
        "metric": str(getattr(attrs.distance_metric, "value", attrs.distance_metric)).lower(),
        "dtype": dtype,
        "text_field": content_field,
        "vector_field": vector.name,
    }
    if s.index.stopwords is not None:  # text filters leave out the same words
        options["stopwords"] = list(s.index.stopwords)
    if options["algorithm"] == "hnsw":
        options.update(m=int(attrs.m), ef_construction=int(attrs.ef_construction))
        if "ef_runtime" in explicit:  # redisvl's default of 10 gives poor recall
            options["ef_runtime"] = int(attrs.ef_runtime)
    if content_field not in s.fields:
        raise ConfigError(
            f"{owner}: no field {content_field!r} holds the document text; add a text "
            f"field named {content_field!r} (fields: {', '.join(s.fields)})"
        )
    metadata = []
    for f in s.fields.values():
        if f is vector or f.name in (content_field, *skip):
            continue
        spec = {"name": f.name, "type": str(getattr(f.type, "value", f.type))}
        set_attrs = {k: getattr(f.attrs, k) for k in f.attrs.model_fields_set}
        metadata.append(_metadata_field(owner, spec, set_attrs))
    options["metadata_fields"] = tuple(metadata)
    return options
