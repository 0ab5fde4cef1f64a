"""The LlamaIndex read fast path builds exactly what full validation builds.

``decode_messages`` validates the common stored shape with a narrow pydantic-core
schema and everything else with ``ChatMessage.model_validate_json``. These tests
compare it with full validation over every message and block shape of LlamaIndex
0.14, generated at random (fixed seeds) and hand-written odd payloads: the same
objects (``==``, type, ``model_dump``, JSON, fields set at every level) or the same
failure.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import orjson
import pytest
from llama_index.core.base.llms import types as li
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from pydantic import BaseModel

from llamaindex_redis_agent import chat_store
from llamaindex_redis_agent.chat_store import decode_messages, encode_messages
from redis_agent_core.errors import DataCorruptionError

WORDS = [
    "hello",
    "",
    " ",
    "ünïcödé",
    "你好",
    "🚀",
    "a\nb",
    'q"uote',
    "\\",
    "\x00",
    "\u2028",
    "x" * 300,
]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) for _ in range(rng.randint(0, 4)))


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "none", "bigint"]
    if depth < 3:
        kinds += ["list", "dict"]
    kind = rng.choice(kinds)
    if kind == "str":
        return _text(rng)
    if kind == "int":
        return rng.randint(-(2**63), 2**63 - 1)
    if kind == "bigint":
        return rng.choice([2**64 + 1, -(2**70), 10**30])
    if kind == "float":
        return rng.choice([0.1, -0.0, 1e300, 1.5, 2.0, 1e-320, 123456789.123456789])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {_text(rng) or "k": _json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _block(rng: random.Random) -> Any:
    kind = rng.choice(
        ["text"] * 6
        + ["image", "image_url", "audio", "video", "document", "cache", "citable", "citation"]
        + ["thinking", "tool_call"]
    )
    if kind == "text":
        return TextBlock(text=_text(rng))
    if kind == "image":
        return li.ImageBlock(image=PNG, detail=rng.choice([None, "low"]))
    if kind == "image_url":
        return li.ImageBlock(url="https://example.com/cat.png", image_mimetype="image/png")
    if kind == "audio":
        return li.AudioBlock(audio=b"RIFF\x00\x00\x00\x00WAVEfmt ", format="wav")
    if kind == "video":
        return li.VideoBlock(url="https://example.com/v.mp4")
    if kind == "document":
        return li.DocumentBlock(data=b"%PDF-1.4 hello", title="doc.pdf")
    if kind == "cache":
        return li.CachePoint(cache_control=li.CacheControl(type="ephemeral"))
    if kind == "citable":
        return li.CitableBlock(content=[TextBlock(text=_text(rng))], source="s", title="t")
    if kind == "citation":
        return li.CitationBlock(
            cited_content=TextBlock(text=_text(rng)),
            source="s",
            title="t",
            additional_location_info={},
        )
    if kind == "thinking":
        return li.ThinkingBlock(content=_text(rng) or None, num_tokens=rng.choice([None, 3]))
    return li.ToolCallBlock(
        tool_call_id=rng.choice([None, "call_1"]),
        tool_name="search",
        tool_kwargs=rng.choice([{"q": _text(rng)}, '{"q": 1}']),
    )


def _message(rng: random.Random) -> ChatMessage:
    role = rng.choice(list(MessageRole))
    kwargs: dict[str, Any] = {}
    if rng.random() < 0.4:
        kwargs = {_text(rng) or "k": _json_value(rng) for _ in range(rng.randint(1, 3))}
    if rng.random() < 0.15:
        kwargs["tool_calls"] = [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]
    shape = rng.random()
    if shape < 0.3:
        return ChatMessage(role=role, content=_text(rng), additional_kwargs=kwargs)
    if shape < 0.4:
        return ChatMessage(role=role, content=None, additional_kwargs=kwargs)
    blocks = [_block(rng) for _ in range(rng.randint(0, 4))]
    return ChatMessage(role=role, blocks=blocks, additional_kwargs=kwargs)


def _fields_sets(obj: Any) -> Any:
    """Every fields set in an object tree (equality ignores them, dumps do not)."""
    if isinstance(obj, BaseModel):
        inner = {k: _fields_sets(v) for k, v in obj.__dict__.items()}
        return (type(obj), sorted(obj.model_fields_set), obj.__pydantic_extra__, inner)
    if isinstance(obj, list):
        return [_fields_sets(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _fields_sets(v) for k, v in obj.items()}
    return (type(obj), obj)


def assert_same(fast: list[ChatMessage], full: list[ChatMessage]) -> None:
    assert len(fast) == len(full)
    for a, b in zip(fast, full, strict=True):
        assert type(a) is type(b) is ChatMessage
        assert a == b
        assert a.model_dump() == b.model_dump()
        assert a.model_dump(exclude_unset=True) == b.model_dump(exclude_unset=True)
        assert a.model_dump_json() == b.model_dump_json()
        assert _fields_sets(a) == _fields_sets(b)
        assert a.content == b.content


def test_fast_path_is_on() -> None:
    # if LlamaIndex changed its models the fast path turns itself off; these tests
    # would then compare full validation with itself, so say so loudly
    assert chat_store._COMMON is not None
    # the same for the encoder: a text message is written by orjson, not pydantic
    assert chat_store._text_json(ChatMessage(role="user", content="hi")) is not None


@pytest.mark.parametrize("seed", range(8))
def test_generated_messages_decode_as_full_validation(seed: int) -> None:
    rng = random.Random(seed)
    messages = [_message(rng) for _ in range(250)]
    payloads = [m.model_dump_json().encode() for m in messages]
    fast = decode_messages("k", payloads)
    full = decode_messages("k", payloads, fast=False)
    assert_same(fast, full)
    assert_same(fast, [ChatMessage.model_validate_json(p) for p in payloads])
    assert fast == messages  # and both are what was stored
    assert encode_messages(messages) == payloads  # the adapter writes model_dump_json's bytes


def test_common_shapes_take_the_fast_path_and_others_do_not(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    common = [
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content=""),
        ChatMessage(role="tool", content=None, additional_kwargs={"tool_call_id": "c1"}),
        ChatMessage(role="system", blocks=[TextBlock(text="a"), TextBlock(text="b")]),
        ChatMessage(role="user", content="x", additional_kwargs={"n": 2**80, "f": 0.1}),
    ]
    other = [
        ChatMessage(role="user", blocks=[li.ImageBlock(image=PNG)]),
        ChatMessage(role="assistant", blocks=[li.ThinkingBlock(content="hm"), TextBlock(text="a")]),
        ChatMessage(role="assistant", blocks=[li.ToolCallBlock(tool_name="f", tool_kwargs={})]),
    ]
    calls: list[bytes] = []
    full = chat_store._validate_json

    def counting(payload: bytes) -> ChatMessage:
        calls.append(payload)
        return full(payload)

    monkeypatch.setattr(chat_store, "_validate_json", counting)
    payloads = [m.model_dump_json().encode() for m in common + other]
    assert decode_messages("k", payloads) == common + other
    assert calls == payloads[len(common) :]


# Hand-written payloads: odd fields, missing fields, legacy forms, wrong types, bad JSON.
ODD = [
    b'{"role":"user","additional_kwargs":{},"blocks":[{"block_type":"text","text":"a"}]}',
    b'{"role":"user","additional_kwargs":{},"blocks":[]}',
    b'{"role":"user","blocks":[{"block_type":"text","text":"a"}]}',  # default kwargs
    b'{"additional_kwargs":{},"blocks":[{"block_type":"text","text":"a"}]}',  # default role
    b'{"role":"user","additional_kwargs":{},"blocks":[{"text":"a"}]}',  # no block_type
    b'{"role":"user","additional_kwargs":{}}',  # default blocks
    b'{"role":"user","content":"legacy content field"}',
    b'{"role":"user","content":null,"additional_kwargs":{},"blocks":[]}',
    b'{"role":"user","additional_kwargs":{},"blocks":[],"extra":1}',
    b'{"role":"user","additional_kwargs":{},"blocks":[{"block_type":"text","text":"a","x":1}]}',
    b'{"role":"user","role":"assistant","additional_kwargs":{},"blocks":[]}',
    b'{"role":"user","additional_kwargs":{"a":1,"a":2},"blocks":[]}',
    b'{"role":"user","additional_kwargs":{"big":123456789012345678901234567890},"blocks":[]}',
    b'{"role":"user","additional_kwargs":{"f":1e400},"blocks":[]}',
    b'{"role":"user","additional_kwargs":{"f":1.0,"g":-0.0,"h":1E2},"blocks":[]}',
    b'{"role":"user","additional_kwargs":{"images":[]},"blocks":[]}',
    b'{"role":"user","additional_kwargs":{"images":null},"blocks":[]}',
    b'{"role":"user","additional_kwargs":{},"blocks":[{"block_type":"text","text":"\\u00e9\\ud83d\\ude80"}]}',
    b' {"role":"user","additional_kwargs":{},"blocks":[]} ',
    b'{"role":"USER","additional_kwargs":{},"blocks":[]}',  # not a role value
    b'{"role":"bogus","additional_kwargs":{},"blocks":[]}',
    b'{"role":1,"additional_kwargs":{},"blocks":[]}',
    b'{"role":"user","additional_kwargs":[],"blocks":[]}',
    b'{"role":"user","additional_kwargs":{},"blocks":[{"block_type":"text","text":1}]}',
    b'{"role":"user","additional_kwargs":{},"blocks":[{"block_type":"nope","text":"a"}]}',
    b'{"role":"user","additional_kwargs":{},"blocks":{}}',
    b'{"role":"user","additional_kwargs":{},"blocks":[]',  # truncated
    b'{"role":"user","additional_kwargs":{"s":"\\ud800"},"blocks":[]}',  # lone surrogate
    b"\xff\xfe",
    b"[]",
    b"null",
    b'"a string"',
    b"",
]


@pytest.mark.parametrize("payload", ODD, ids=range(len(ODD)))
def test_odd_payloads_match_full_validation(payload: bytes) -> None:
    try:
        expected = [ChatMessage.model_validate_json(payload)]
    except Exception:
        expected = None
    if expected is None:
        with pytest.raises(DataCorruptionError, match="index 3"):
            decode_messages("k", [payload], start=3)
        assert decode_messages("k", [payload], "skip") == []
    else:
        assert_same(decode_messages("k", [payload]), expected)


def test_str_payloads_and_mixed_corruption() -> None:
    good = ChatMessage(role="user", content="ok")
    payloads: list[Any] = [good.model_dump_json(), b"{not json", good.model_dump_json().encode()]
    assert decode_messages("k", payloads, "skip") == [good, good]
    with pytest.raises(DataCorruptionError, match=r"'k'.*index 11"):
        decode_messages("k", payloads, start=10)


def test_stored_dicts_do_not_alias() -> None:
    # two decodes of the same payload give independent objects
    payload = orjson.dumps(
        {
            "role": "user",
            "additional_kwargs": {"a": [1]},
            "blocks": [{"block_type": "text", "text": "t"}],
        }
    )
    one, two = decode_messages("k", [payload, payload])
    one.additional_kwargs["a"].append(2)
    one.blocks[0].text = "changed"
    assert two.additional_kwargs == {"a": [1]} and two.blocks[0].text == "t"
