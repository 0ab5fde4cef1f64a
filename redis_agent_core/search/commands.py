"""Pure builders of RediSearch commands (argument lists for ``execute_command`` or a
pipeline). The schema of an index is a redisvl ``IndexSchema``: its fields give the
FT.CREATE arguments, so the pack and redisvl describe an index the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.commands.search.index_definition import IndexDefinition, IndexType
from redisvl.schema import IndexSchema

__all__ = [
    "DIALECT",
    "aggregate_command",
    "alias_update_command",
    "create_command",
    "drop_command",
    "drop_hint",
    "explain_command",
    "info_command",
    "knn_clause",
    "list_command",
    "search_command",
]

DIALECT = 2


def create_command(schema: IndexSchema) -> list[Any]:
    """FT.CREATE for ``schema`` (what redisvl's ``SearchIndex.create`` sends)."""
    prefix = schema.index.prefix
    storage = IndexType.JSON if schema.index.storage_type.value == "json" else IndexType.HASH
    definition = IndexDefinition(
        prefix=prefix if isinstance(prefix, list) else [prefix], index_type=storage
    )
    args: list[Any] = ["FT.CREATE", schema.index.name, *definition.args]
    stopwords = schema.index.stopwords
    if stopwords is not None:
        args += ["STOPWORDS", len(stopwords), *stopwords]
    args.append("SCHEMA")
    for f in schema.fields.values():
        args += f.as_redis_field().redis_args()
    return args


def info_command(index: str) -> list[Any]:
    return ["FT.INFO", index]


def drop_command(index: str, *, delete_documents: bool = False) -> list[Any]:
    return ["FT.DROPINDEX", index, "DD"] if delete_documents else ["FT.DROPINDEX", index]


def alias_update_command(alias: str, index: str) -> list[Any]:
    """Point ``alias`` at ``index`` (created when missing; one atomic step)."""
    return ["FT.ALIASUPDATE", alias, index]


def list_command() -> list[Any]:
    return ["FT._LIST"]


def drop_hint(index: str, *, delete_documents: bool = True) -> str:
    """The command a user can run to drop ``index`` (for error messages)."""
    return " ".join(map(str, drop_command(index, delete_documents=delete_documents)))


def explain_command(index: str, query: str = "*") -> list[Any]:
    return ["FT.EXPLAIN", index, query]


def knn_clause(
    k: int,
    field: str,
    *,
    param: str = "vec",
    ef_runtime: int | None = None,
    hybrid_policy: str | None = None,
    distance_as: str,
) -> str:
    """``=>[KNN k @field $param ... AS distance_as]`` (append to a filter clause)."""
    knn = f"KNN {k} @{field} ${param}"
    if ef_runtime is not None:
        knn += f" EF_RUNTIME {ef_runtime}"
    if hybrid_policy is not None:
        knn += f" HYBRID_POLICY {hybrid_policy}"
    return f"=>[{knn} AS {distance_as}]"


def search_command(
    index: str,
    query: str,
    *,
    return_fields: Sequence[Any] | None = None,
    nocontent: bool = False,
    scorer: str | None = None,
    sort_by: str | None = None,
    offset: int = 0,
    limit: int = 10,
    params: Sequence[Any] = (),
    inkeys: Sequence[Any] = (),
) -> list[Any]:
    """FT.SEARCH (dialect 2). ``return_fields`` are RETURN's items as given (``$.x AS x``
    forms included); ``scorer`` adds WITHSCORES; ``params`` are ``name, value`` pairs;
    ``inkeys`` limits the search to those keys."""
    args: list[Any] = ["FT.SEARCH", index, query]
    if scorer is not None:
        args += ["WITHSCORES", "SCORER", scorer]
    if nocontent:
        args.append("NOCONTENT")
    elif return_fields is not None:
        args += ["RETURN", len(return_fields), *return_fields]
    if sort_by is not None:
        args += ["SORTBY", sort_by, "ASC"]
    if inkeys:
        args += ["INKEYS", len(inkeys), *inkeys]
    args += ["LIMIT", offset, limit]
    if params:
        args += ["PARAMS", len(params), *params]
    return [*args, "DIALECT", DIALECT]


def aggregate_command(index: str, args: Sequence[Any], params: Sequence[Any] = ()) -> list[Any]:
    """FT.AGGREGATE with ``args`` (e.g. a redisvl aggregate query's ``build_args()``)."""
    out: list[Any] = ["FT.AGGREGATE", index, *args]
    if params:
        out += ["PARAMS", len(params), *params]
    return out
