"""Argument checks shared by the vector index and both adapters' vector stores.

Every check runs before any I/O and raises with the problem and the fix: a ``k`` the
server would refuse (or that would silently return nothing), a query vector holding
NaN or infinity, text that cannot be sent (lone surrogates), and keyword arguments a
method does not take. Framework methods take ``**kwargs`` by signature, so without
:func:`check_kwargs` a misspelt or foreign option (``distance_threshold=`` from
langchain-redis, ``embeddings=`` on ``add_texts``) was silently ignored and the call
returned unfiltered results or dropped the vectors.
"""

from __future__ import annotations

import re
import string
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ConfigError, ZeroVectorError
from ..keys import check_text, check_texts  # one text check for the whole pack

__all__ = [
    "DEFAULT_STOPWORDS",
    "INDEX_HINTS",
    "MAX_EXACT_INT",
    "MAX_K",
    "NUL",
    "SEARCH_HINTS",
    "TEXT_SEPARATORS",
    "WORD_SYNTAX",
    "check_ef",
    "check_exact_number",
    "check_k",
    "check_kwargs",
    "check_nonzero",
    "check_query_vector",
    "check_text",
    "check_texts",
    "nul_id_error",
    "text_words",
]

# RediSearch's MAXSEARCHRESULTS default: a larger LIMIT / KNN k is refused by the server.
MAX_K = 1_000_000

# Options of other vector stores (langchain-redis, redisvl, other backends) that users
# carry over, with what to use here instead.
SEARCH_HINTS: dict[str, str] = {
    "distance_threshold": (
        "use score_threshold= (a relevance in [0, 1], 1 = identical; for cosine, "
        "score_threshold = 1 - distance_threshold / 2)"
    ),
    "sort_by": "results always come nearest first; narrow them with filter=",
    "return_all": "use filter= with a larger k, or the index's find(filter) to list documents",
    "return_metadata": "metadata is always returned",
    "include_metadata": "metadata is always returned",
    "with_vectors": "use the core VectorIndex.search(..., return_vectors=True)",
    "return_vectors": "use the core VectorIndex.search(..., return_vectors=True)",
    "include_vectors": "use the core VectorIndex.search(..., return_vectors=True)",
    "filter_expression": "pass the expression as filter=",
    "filters": "pass the filter as filter= (a dict, F(...) or a redisvl FilterExpression)",
    "where": "pass the filter as filter= (a dict, F(...) or a redisvl FilterExpression)",
    "num_results": "use k=",
    "top_k": "use k=",
    "limit": "use k=",
    "fetch_k": "fetch_k applies to MMR only: use max_marginal_relevance_search (or "
    "search_type='mmr')",
    "lambda_mult": "lambda_mult applies to MMR only: use max_marginal_relevance_search (or "
    "search_type='mmr')",
}


# Constructor options of other Redis vector stores (langchain-redis, redisvl,
# llama-index-vector-stores-redis) and what to pass here instead.
_CONFIG_HINT = "pass config=RedisAgentConfig(url=...) (or set REDIS_URL)"
INDEX_HINTS: dict[str, str] = {
    "redis_url": _CONFIG_HINT,
    "redis_client": _CONFIG_HINT,
    "url": _CONFIG_HINT,
    "key_prefix": "keys live under the config's namespace: RedisAgentConfig(namespace=...)",
    "prefix": "keys live under the config's namespace: RedisAgentConfig(namespace=...)",
    "distance_metric": "use metric= ('cosine', 'l2' or 'ip')",
    "vector_datatype": "use dtype= ('float32' or 'float16')",
    "datatype": "use dtype= ('float32' or 'float16')",
    "schema": "declare filterable metadata with metadata_fields={'name': 'tag', ...}",
    "index_schema": "declare filterable metadata with metadata_fields={'name': 'tag', ...}",
    "metadata_schema": "declare filterable metadata with metadata_fields={'name': 'tag', ...}",
    "ttl_seconds": "use ttl=",
    "overwrite": "an existing index is reused (or a SchemaMismatchError says how it "
    "differs); call drop() first to rebuild it",
}


# How RediSearch (2.10, default separators) splits indexed text into words, measured on
# the server: every ASCII punctuation character but '_' and '\' separates words, as do
# space and tab; '\' puts the next character into the word as it is ('alpha\beta' is
# 'alphabeta', 'x\,y' is 'x,y'); other ASCII control characters, newlines included,
# are dropped ('hello<LF>world' is 'helloworld'); everything else is part of a word.
TEXT_SEPARATORS = frozenset(string.punctuation + " \t") - {"_", "\\"}
_SYNTAX = re.escape("".join(sorted(TEXT_SEPARATORS)) + "\\")
# A separator or backslash inside a word (it came escaped): query syntax there.
WORD_SYNTAX = re.compile(f"[{_SYNTAX}]+")
_WORD = re.compile(rf"(?:\\[\s\S]|[^{_SYNTAX}])+")
_ESCAPE = re.compile(r"\\([\s\S])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# The words RediSearch does not index unless FT.CREATE gives another STOPWORDS list
# (measured on the server: a phrase of one of them never matches, and the words around
# it in a document are adjacent in phrases: "lord rings" matches "lord of the rings").
DEFAULT_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that their "
    "the then there these they this to was will with".split()
)


def text_words(text: str) -> list[str]:
    """The words RediSearch indexes ``text`` as (before case folding and stemming).
    Queries and text filters use it so that a user's text matches the way a document
    holding it was indexed (a word may hold a separator or '\\' that came escaped)."""
    words = []
    for match in _WORD.finditer(text):
        word = match.group()
        if "\\" in word:
            word = _ESCAPE.sub(r"\1", word)
        word = _CONTROL.sub("", word)
        if word:
            words.append(word)
    return words


# RediSearch NUMERIC fields hold doubles: every int within +-2**53 is one, beyond it
# neighbours share a double (1234567890123456789 and ...790 are one number to the index).
MAX_EXACT_INT = 2**53


def check_exact_number(value: float, field: str, error: type[ConfigError] = ConfigError) -> None:
    """Refuse an int a numeric field cannot hold exactly: one beyond +-:data:`MAX_EXACT_INT`
    (a snowflake id). A filter for it matched, and a delete by filter removed, the
    documents of its neighbours. Floats are doubles already: kept."""
    if type(value) is float or -MAX_EXACT_INT <= value <= MAX_EXACT_INT:
        return
    raise error(
        f"field {field!r} is numeric, and {value!r} is beyond +-2**53 ({MAX_EXACT_INT:,}): "
        "the index holds numbers as doubles, which cannot hold it exactly, so values next "
        "to it (ids that differ by 1) would match the same filters. Store such ids as "
        f"strings in a tag field (metadata_fields={{{field!r}: 'tag'}}), which compares "
        "them exactly"
    )


NUL = "\x00"


def nul_id_error(doc_id: str, what: str | None = None) -> ConfigError:
    """The error of a document id holding a NUL (``what`` names it; default: the id
    itself): RediSearch loads a hit's fields from its key cut there, so the hit of id
    ``"a\\x00x"`` (tenant acme) returned the text and metadata of document ``"a"``
    (tenant globex)."""
    return ConfigError(
        f"{what or f'document id {doc_id!r}'} holds a NUL character at position "
        f"{doc_id.index(NUL)}: RediSearch reads a document's key up to it, so a search "
        "would return another document's text and metadata; remove it (or encode the id, "
        "e.g. in hex)"
    )


def check_kwargs(
    method: str,
    kwargs: Mapping[str, Any],
    *,
    accepted: Collection[str] = (),
    hints: Mapping[str, str] | None = None,
) -> None:
    """Raise ``TypeError`` for keyword arguments ``method`` does not take, naming the
    supported alternative when there is one (``hints``, then :data:`SEARCH_HINTS`)."""
    unknown = [name for name in kwargs if name not in accepted]
    if not unknown:
        return
    name = unknown[0]
    hint = (hints or {}).get(name) or SEARCH_HINTS.get(name)
    takes = f"; it takes {', '.join(sorted(accepted))}" if accepted else ""
    raise TypeError(
        f"{method}() got an unexpected keyword argument {name!r}"
        + (f": {hint}" if hint else takes)
        + (f" (also unexpected: {', '.join(map(repr, unknown[1:]))})" if unknown[1:] else "")
    )


def check_k(k: Any, name: str = "k") -> int:
    """``k`` as an int in ``[1, MAX_K]``; raises :class:`ConfigError` otherwise."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ConfigError(f"{name} must be a positive int, got {k!r}")
    if k > MAX_K:
        raise ConfigError(
            f"{name}={k} is above the server's maximum of {MAX_K:,} results per query "
            "(RediSearch MAXSEARCHRESULTS); ask for fewer, or page through find(filter, "
            "limit=, offset=)"
        )
    return int(k)


def check_alpha(alpha: Any) -> float:
    """A hybrid query's ``alpha`` (the vector side's weight) as a float in ``[0, 1]``;
    :class:`ConfigError` otherwise (``None``, a bool, a str or NaN included)."""
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, (int, float, np.integer, np.floating))
        or not 0.0 <= alpha <= 1.0
    ):
        raise ConfigError(
            f"alpha must be a number within [0, 1] (1: vector similarity only, 0: text "
            f"only), got {alpha!r}"
        )
    return float(alpha)


def check_ef(ef_runtime: Any) -> int | None:
    """A query's ``ef_runtime``: ``None`` (the tuned or the index's own) or an int in
    ``[1, MAX_K]``; :class:`ConfigError` otherwise."""
    if ef_runtime is None:
        return None
    if (
        isinstance(ef_runtime, bool)
        or not isinstance(ef_runtime, (int, np.integer))
        or not 1 <= ef_runtime <= MAX_K
    ):
        raise ConfigError(
            f"ef_runtime must be an int in [1, {MAX_K:,}] (HNSW's candidate list; None: "
            f"the tuned value, else the index's own), got {ef_runtime!r}"
        )
    return int(ef_runtime)


def check_query_vector(array: np.ndarray) -> None:
    """Refuse a query vector holding NaN or infinity (the server would rank by garbage
    distances, as a document vector holding one is refused on write)."""
    if not np.isfinite(array).all():
        raise ConfigError(
            "the query vector contains NaN or infinity; check the embedding model's output "
            "(a document vector like it is refused on write)"
        )


def check_nonzero(vectors: np.ndarray, metric: str, ids: Sequence[str] | None = None) -> None:
    """:class:`ZeroVectorError` for an all-zero vector under the cosine metric: a query
    vector (1-d) or a row of documents' vectors (``ids``: theirs)."""
    if metric != "cosine":
        return
    zero = ~vectors.any(axis=-1)
    if not zero.any():
        return
    fix = (
        "check the embedding model's output for that text (some return zeros for an empty "
        "or unknown input), or use an index with metric='l2' or 'ip'"
    )
    if ids is None:
        raise ZeroVectorError(
            "the query vector is all zeros: a cosine index compares directions and a zero "
            "vector has none (the server scores it NaN against every document, and the "
            f"search returned arbitrary hits); {fix}. Nothing was sent"
        )
    row = int(np.argmax(zero))
    raise ZeroVectorError(
        f"the vector of document {ids[row]!r} (row {row}) is all zeros: a cosine index "
        "compares directions and a zero vector has none (it scores NaN against every "
        f"query, and as a query it returns arbitrary hits); {fix}. Nothing was written"
    )


def check_target(target: float | None) -> float | None:
    """``target`` as a float in (0, 1], or None; raises otherwise."""
    if target is None:
        return None
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target <= 1:
        raise ConfigError(f"recall_target must be a number in (0, 1] or None, got {target!r}")
    return float(target)
