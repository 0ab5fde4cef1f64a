"""Probe once what a Redis server can do (kept here for its public import path; the
implementation lives in the search layer, :mod:`redis_agent_core.search.capabilities`)."""

from __future__ import annotations

from .search.capabilities import (
    Capabilities,
    aget_capabilities,
    aprobe,
    arequire_search,
    get_capabilities,
    module_versions,
    probe,
    require_search,
    supports_acked_trim,
)

__all__ = [
    "Capabilities",
    "aget_capabilities",
    "aprobe",
    "arequire_search",
    "get_capabilities",
    "module_versions",
    "probe",
    "require_search",
    "supports_acked_trim",
]
