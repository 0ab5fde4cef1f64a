"""Coming from langchain-redis or LlamaIndex's Redis packages: their constructor
arguments mapped onto the pack's settings (:mod:`.peer`), and their stored vector
indexes copied into the pack's layout without embedding again (:mod:`.vectors`,
``redis-agent migrate vectors``)."""

from __future__ import annotations

from .peer import (
    client_url,
    doc_prefix,
    metadata_fields_from_peer,
    options_from_redisvl,
    peer_config,
)
from .vectors import (
    PEERS,
    MigrationReport,
    PeerIndex,
    migrate_vectors,
    peer_document,
    read_peer_index,
)

__all__ = [
    "PEERS",
    "MigrationReport",
    "PeerIndex",
    "client_url",
    "doc_prefix",
    "metadata_fields_from_peer",
    "migrate_vectors",
    "options_from_redisvl",
    "peer_config",
    "peer_document",
    "read_peer_index",
]
