"""Coming from langchain-redis or LlamaIndex's Redis packages: their constructor
arguments mapped onto the pack's settings (:mod:`.peer`)."""

from __future__ import annotations

from .peer import (
    client_url,
    doc_prefix,
    metadata_fields_from_peer,
    options_from_redisvl,
    peer_config,
)

__all__ = [
    "client_url",
    "doc_prefix",
    "metadata_fields_from_peer",
    "options_from_redisvl",
    "peer_config",
]
