"""The public kit of the adapters: what the LangChain and LlamaIndex adapters share
beyond each role's own classes, in one place.

Adapters import the core only from ``redis_agent_core``, its packages' ``__init__``,
its top-level modules and this one, never a module inside a role's package nor a
``_private`` name (tests/test_architecture.py checks it; docs/architecture.md).

- prompt rendering for the semantic cache: :func:`conversation_text`,
  :func:`block_text` (an image or file block), :func:`tool_call_text`,
  :func:`scope_with_sent_besides_text` (a scope narrowed by what messages send besides that
  text); :func:`check_ttl` (a cache entry's TTL in seconds, checked where it is configured);
- vector stores: :func:`to_matrix` (embedding lists to one float32 matrix), argument
  checks (:func:`check_k`, :func:`check_kwargs`, :func:`check_index_options`,
  :func:`first_invalid`: the document ``VectorIndex.add`` would refuse),
  metadata field specs (:data:`MetadataSpec`, :func:`parse_metadata_fields`),
  :func:`check_finite_metadata` (NaN / infinity, which JSON would store as null);
- bus tools: :class:`~redis_agent_core.bus.BusTools` carries the tools' names and
  descriptions (``BusTools.descriptions``), so both frameworks show agents the same text.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from .cache.entry import check_ttl
from .cache.prompt_text import (
    block_text,
    conversation_text,
    scope_with_sent_besides_text,
    tool_call_text,
)
from .vectors.checks import INDEX_HINTS, check_k, check_kwargs
from .vectors.index import VectorIndex
from .vectors.schema import (
    MetadataSpec,
    check_finite_metadata,
    first_invalid,
    parse_metadata_fields,
    to_matrix,
)

__all__ = [
    "MetadataSpec",
    "block_text",
    "check_finite_metadata",
    "check_index_options",
    "check_k",
    "check_kwargs",
    "check_ttl",
    "conversation_text",
    "first_invalid",
    "parse_metadata_fields",
    "scope_with_sent_besides_text",
    "to_matrix",
    "tool_call_text",
]


def check_index_options(owner: str, options: Mapping[str, Any]) -> None:
    """``TypeError`` for ``options`` that :class:`VectorIndex` does not take, with the
    option to use instead (e.g. ``redis_url=`` → ``config=``)."""
    if not options:
        return
    accepted = tuple(inspect.signature(VectorIndex).parameters)
    check_kwargs(owner, options, accepted=accepted, hints=INDEX_HINTS)
