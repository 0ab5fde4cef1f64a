"""Coming from langchain-redis or LlamaIndex's Redis packages: their constructor
arguments mapped onto the pack's settings (:mod:`.peer`), and their stored vector
indexes and chat histories copied into the pack's layout without embedding again
(:mod:`.vectors`, :mod:`.history`; ``redis-agent migrate vectors|history``)."""

from __future__ import annotations

from .history import HistoryReport, migrate_history
from .peer import (
    client_url,
    doc_prefix,
    metadata_fields_from_peer,
    namespace_for_prefix,
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
    "HistoryReport",
    "MigrationReport",
    "PeerIndex",
    "client_url",
    "doc_prefix",
    "metadata_fields_from_peer",
    "migrate_history",
    "migrate_vectors",
    "namespace_for_prefix",
    "options_from_redisvl",
    "peer_config",
    "peer_document",
    "read_peer_index",
]
