"""The reference service (FastAPI), its LLM wiring and ``redis-agent demo``.

Names load on first use, so ``redis-agent --help`` does not import FastAPI or torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AgentService", "ServiceSettings", "create_app", "run_demo"]

_LAZY = {
    "AgentService": ".app",
    "ServiceSettings": ".app",
    "create_app": ".app",
    "run_demo": ".demo",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)
