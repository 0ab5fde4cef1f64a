"""What users rely on beyond the conformance suite: nothing unpickled, clear errors,
one hash tag per thread, TTL."""

from __future__ import annotations

import json
import pickle
import sys
from collections.abc import Iterator

import ormsgpack
import pytest
import redis
from langgraph.checkpoint.base import SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langchain_redis_agent.checkpoint import (
    AsyncRedisSaver,
    RedisSaver,
    ShallowRedisSaver,
    safe_serializer,
)
from langchain_redis_agent.node_cache import RedisNodeCache
from redis_agent_core.checkpoints.records import pack_typed
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError
from tests.conftest import keys_matching


def _checkpoint(cid: str, **values: object) -> dict:
    return {
        "v": 4,
        "id": cid,
        "ts": "2026-12-03T00:00:00+00:00",
        "channel_values": dict(values),
        "channel_versions": {k: f"{1:032}.0" for k in values},
        "versions_seen": {},
        "updated_channels": None,
    }


def _cfg(thread: str, ns: str = "", cid: str | None = None) -> dict:
    conf: dict = {"thread_id": thread, "checkpoint_ns": ns}
    if cid:
        conf["checkpoint_id"] = cid
    return {"configurable": conf}


def test_a_pickle_planted_in_redis_is_refused(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config)
    cp = _checkpoint("1f0-a", answer=42)
    stored = saver.put(_cfg("t1"), cp, {"source": "input", "step": 0}, cp["channel_versions"])
    assert saver.get_tuple(stored).checkpoint["channel_values"] == {"answer": 42}  # type: ignore[union-attr]

    class Boom:
        def __reduce__(self) -> tuple:
            return (print, ("pickle ran",))

    # an attacker with write access swaps the value for a pickle
    client = config.get_client()
    blobs = config.keys.checkpoint_blobs("t1", "")
    (field,) = client.hkeys(blobs)
    client.hset(blobs, field, pack_typed(("pickle", pickle.dumps(Boom()))))
    with pytest.raises(DataCorruptionError, match="pickle"):
        saver.get_tuple(_cfg("t1"))


NEVER = "tests.checkpoints.never_imported"  # importable, and never imported by the suite


@pytest.fixture
def unimported() -> Iterator[None]:
    assert NEVER not in sys.modules
    yield
    sys.modules.pop(NEVER, None)  # so that each case fails on its own


def _ext(code: int, *fields: object) -> tuple[str, bytes]:
    """A msgpack value whose LangGraph extension names ``NEVER.Planted``."""
    return ("msgpack", ormsgpack.packb(ormsgpack.Ext(code, ormsgpack.packb((NEVER, *fields)))))


def _constructor(lc: int) -> tuple[str, bytes]:
    envelope = {"lc": lc, "type": "constructor", "id": [*NEVER.split("."), "Planted"], "kwargs": {}}
    return ("json", json.dumps(envelope).encode())


def _saved_then_replaced(config: RedisAgentConfig, value: tuple[str, bytes]) -> RedisSaver:
    """A saver whose one checkpoint of thread ``t1`` had its channel value replaced in
    Redis by the typed ``value``."""
    saver = RedisSaver(config)
    cp = _checkpoint("1f0-a", answer=42)
    saver.put(_cfg("t1"), cp, {"source": "input", "step": 0}, cp["channel_versions"])
    client = config.get_client()
    blobs = config.keys.checkpoint_blobs("t1", "")
    (field,) = client.hkeys(blobs)
    client.hset(blobs, field, pack_typed(value))
    return saver


@pytest.mark.parametrize(
    ("planted", "refusal"),
    [
        (_ext(0, "Planted", "x"), ConfigError),  # constructor, one argument
        (_ext(1, "Planted", ["x"]), ConfigError),  # positional arguments
        (_ext(2, "Planted", {"a": 1}), ConfigError),  # keyword arguments
        (_ext(3, "Planted", "x", "run"), ConfigError),  # a class method
        (_ext(5, "Planted", {"a": 1}, "model_validate_json"), ConfigError),  # pydantic
        (_constructor(1), ValueError),  # langchain_core's reviver refuses it
        (_constructor(2), ConfigError),  # the reviver leaves it as a dict: refused
    ],
    ids=["ext-arg", "ext-args", "ext-kwargs", "ext-method", "ext-pydantic", "json-lc1", "json-lc2"],
)
@pytest.mark.usefixtures("unimported")
def test_a_type_naming_an_unimported_module_is_refused_and_never_imported(
    config: RedisAgentConfig, planted: tuple[str, bytes], refusal: type[Exception]
) -> None:
    # an attacker with write access swaps the value for one naming their module
    saver = _saved_then_replaced(config, planted)
    with pytest.raises(refusal, match="never_imported"):
        saver.get_tuple(_cfg("t1"))
    assert NEVER not in sys.modules


def test_a_serializer_with_pickle_fallback_is_refused(config: RedisAgentConfig) -> None:
    with pytest.raises(ConfigError, match="pickle_fallback"):
        RedisSaver(config, serde=JsonPlusSerializer(pickle_fallback=True))
    # the default refuses pickle and imports nothing outside the allowlist
    serde = safe_serializer()
    assert serde.pickle_fallback is False


class _XorCipher:
    """A stand-in cipher (LangGraph's ``CipherProtocol``) for EncryptedSerializer."""

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        return "xor", bytes(b ^ 0x5A for b in plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        return bytes(b ^ 0x5A for b in ciphertext)


@pytest.mark.parametrize(
    "serde",
    [
        JsonPlusSerializer(),  # LangGraph's default: every msgpack type, with a warning
        JsonPlusSerializer(allowed_msgpack_modules=True),
        JsonPlusSerializer(allowed_msgpack_modules=None, allowed_json_modules=True),
        # unencrypted values reach the inner serializer: anyone can plant one
        EncryptedSerializer(_XorCipher(), JsonPlusSerializer()),
        EncryptedSerializer(_XorCipher(), JsonPlusSerializer(pickle_fallback=True)),
    ],
    ids=["default", "msgpack-true", "json-true", "encrypted-default", "encrypted-pickle"],
)
def test_a_serializer_that_imports_any_name_is_refused(
    config: RedisAgentConfig, serde: SerializerProtocol
) -> None:
    with pytest.raises(ConfigError, match="safe_serializer"):
        RedisSaver(config, serde=serde)
    with pytest.raises(ConfigError, match="safe_serializer"):
        AsyncRedisSaver(config, serde=serde)
    with pytest.raises(ConfigError, match="safe_serializer"):
        RedisNodeCache(config, serde=serde)


@pytest.mark.usefixtures("unimported")
def test_an_encrypted_saver_never_imports_a_planted_unencrypted_value(
    config: RedisAgentConfig,
) -> None:
    saver = RedisSaver(config, serde=EncryptedSerializer(_XorCipher(), safe_serializer()))
    cp = _checkpoint("1f0-a", answer=42)
    stored = saver.put(_cfg("t1"), cp, {"source": "input", "step": 0}, cp["channel_versions"])
    assert saver.get_tuple(stored).checkpoint["channel_values"] == {"answer": 42}  # type: ignore[union-attr]
    client = config.get_client()
    blobs = config.keys.checkpoint_blobs("t1", "")
    (field,) = client.hkeys(blobs)
    assert client.hget(blobs, field).startswith(b"msgpack+xor\x00")  # type: ignore[union-attr]
    client.hset(blobs, field, pack_typed(_ext(0, "Planted", "x")))  # not encrypted
    with pytest.raises(ConfigError, match="never_imported"):
        saver.get_tuple(_cfg("t1"))
    assert NEVER not in sys.modules


def test_config_without_thread_id_names_the_fix(config: RedisAgentConfig) -> None:
    with pytest.raises(ConfigError, match="thread_id"):
        RedisSaver(config).get_tuple({"configurable": {}})


def test_every_key_of_a_thread_shares_one_slot(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config)
    for i, ns in enumerate(["", "sub:1", "sub:2|x"]):
        cp = _checkpoint(f"1f0-{i}", a=i, b=str(i))
        stored = saver.put(_cfg("th{e}ad:1", ns), cp, {"step": i}, cp["channel_versions"])
        saver.put_writes(stored, [("a", 1), ("b", 2)], "task")
        # a second checkpoint per namespace: its parent is the first (same namespace)
        cp = _checkpoint(f"1f1-{i}", a=i + 1)
        saver.put(stored, cp, {"step": i + 1}, cp["channel_versions"])
    client = config.get_client()
    keys = list(client.scan_iter(match=f"{config.namespace}:*"))
    assert len(keys) >= 8
    slots = {redis.cluster.key_slot(k) for k in keys}
    assert len(slots) == 1


def test_ttl_expires_a_thread_and_refresh_on_read_keeps_it(config: RedisAgentConfig) -> None:
    client = config.get_client()
    saver = RedisSaver(config, ttl=100)
    cp = _checkpoint("1f0-a", x=1)
    stored = saver.put(_cfg("t"), cp, {}, cp["channel_versions"])
    saver.put_writes(stored, [("x", 2)], "task")
    keys = list(client.scan_iter(match=f"{config.namespace}:*"))
    assert keys and all(0 < client.ttl(k) <= 100 for k in keys)

    # a read without refresh leaves the expiry alone; with refresh it is pushed back
    for k in keys:
        client.expire(k, 5)
    assert saver.get_tuple(_cfg("t")) is not None
    assert all(client.ttl(k) <= 5 for k in keys)
    refreshing = RedisSaver(config, ttl=100, refresh_on_read=True)
    assert refreshing.get_tuple(_cfg("t")) is not None
    assert all(client.ttl(k) > 5 for k in keys)

    # without ttl nothing expires
    forever = RedisSaver(config)
    cp2 = _checkpoint("1f0-b", x=3)
    forever.put(_cfg("u"), cp2, {}, cp2["channel_versions"])
    assert all(client.ttl(k) == -1 for k in client.scan_iter(match=f"{config.namespace}:cp:{{u}}*"))


def test_shallow_keeps_one_checkpoint_and_drops_old_writes(config: RedisAgentConfig) -> None:
    saver = ShallowRedisSaver(config)
    parent = None
    for i in range(5):
        cp = _checkpoint(f"1f0-{i}", n=i)
        stored = saver.put(_cfg("t", "", parent), cp, {"step": i}, cp["channel_versions"])
        saver.put_writes(stored, [("n", i * 10)], f"task{i}")
        parent = cp["id"]
    tuples = list(saver.list(_cfg("t")))
    assert [t.checkpoint["id"] for t in tuples] == ["1f0-4"]
    assert tuples[0].checkpoint["channel_values"] == {"n": 4}
    assert [w[2] for w in tuples[0].pending_writes or []] == [40]
    assert saver.get_tuple(_cfg("t", "", "1f0-3")) is None
    client = config.get_client()
    # the index, the namespace set and one hash: nothing grows with the steps
    assert len(keys_matching(client, f"{config.namespace}:*")) == 3


def test_list_across_threads_and_delete(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config)
    for thread in ("a", "b"):
        for i in range(3):
            cp = _checkpoint(f"1f0-{i}", n=i)
            saver.put(_cfg(thread), cp, {"step": i, "who": thread}, cp["channel_versions"])
    every = list(saver.list(None))
    assert len(every) == 6
    assert [t.metadata["step"] for t in saver.list(None, filter={"who": "b"})] == [2, 1, 0]
    saver.delete_thread("a")
    assert {t.config["configurable"]["thread_id"] for t in saver.list(None)} == {"b"}
    assert not list(config.get_client().scan_iter(match=f"{config.namespace}:cp:{{a}}*"))


def test_bad_input_is_refused_before_anything_is_written(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config)
    cp = _checkpoint("1f0-a", x=1)
    with pytest.raises(ConfigError, match="NUL"):
        saver.put(_cfg("t", "a\x00b"), cp, {}, cp["channel_versions"])
    with pytest.raises(ConfigError, match="surrogate"):
        saver.put(_cfg("bad\udcff"), cp, {}, cp["channel_versions"])
    with pytest.raises(ConfigError, match="checkpoint_id"):
        saver.put_writes(_cfg("t"), [("x", 1)], "task")
    with pytest.raises(ConfigError, match="ttl"):
        RedisSaver(config, ttl=0)
    assert not list(config.get_client().scan_iter(match=f"{config.namespace}:*"))


async def test_latest_is_right_when_an_older_id_is_put_last(config: RedisAgentConfig) -> None:
    # the head (id + value references of the latest put) is then stale: reads must
    # notice and still return the newest id with its own values
    saver = RedisSaver(config)
    newer, older = _checkpoint("1f0-b", x="new"), _checkpoint("1f0-a", x="old")
    older["channel_versions"] = {"x": f"{2:032}.0"}
    saver.put(_cfg("t"), newer, {"step": 1}, newer["channel_versions"])
    saver.put(_cfg("t"), older, {"step": 0}, older["channel_versions"])
    for tup in (saver.get_tuple(_cfg("t")), await saver.aget_tuple(_cfg("t"))):
        assert tup is not None
        assert tup.checkpoint["id"] == "1f0-b"
        assert tup.checkpoint["channel_values"] == {"x": "new"}
    await config.aclose()


def test_a_damaged_record_raises_a_clear_error(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config)
    cp = _checkpoint("1f0-a", x=1)
    stored = saver.put(_cfg("t"), cp, {}, cp["channel_versions"])
    saver.put_writes(stored, [("x", 2)], "task")
    client = config.get_client()
    key = config.keys.checkpoint("t", "", "1f0-a")
    (field,) = [f for f in client.hkeys(key) if f.startswith(b"w")]
    client.hset(key, field, b"\x00\x00\x00\x09abc")  # a length running past the end
    with pytest.raises(DataCorruptionError, match="truncated"):
        saver.get_tuple(_cfg("t"))


@pytest.mark.parametrize(
    "planted",
    [("weird", b"x"), ("msgpack", b"\xc1garbage"), ("json", b"{not json")],
    ids=["unknown-type", "msgpack", "json"],
)
def test_a_damaged_value_is_data_corruption(
    config: RedisAgentConfig, planted: tuple[str, bytes]
) -> None:
    # was the parser's own NotImplementedError / ValueError / JSONDecodeError
    saver = _saved_then_replaced(config, planted)
    with pytest.raises(
        DataCorruptionError, match=f"serialized as '{planted[0]}'\\) does not decode"
    ):
        saver.get_tuple(_cfg("t1"))
    with pytest.raises(DataCorruptionError, match="does not decode"):
        list(saver.list(_cfg("t1")))


@pytest.mark.parametrize("saver_class", [RedisSaver, ShallowRedisSaver])
async def test_a_decoding_redis_client_reads_checkpoints(
    decoding_config: RedisAgentConfig, saver_class: type[RedisSaver]
) -> None:
    # a client built with decode_responses=True (what peers' users pass): records and
    # serialized values (not UTF-8) used to raise UnicodeDecodeError / AttributeError
    saver = saver_class(decoding_config)
    parent = None
    for i in range(3):
        cp = _checkpoint(f"1f0-{i}", blob=b"\xff\x80" * (i + 1))
        stored = saver.put(_cfg("t", "", parent), cp, {"step": i}, cp["channel_versions"])
        saver.put_writes(stored, [("w", b"\x80\xfe")], f"task{i}")
        parent = cp["id"]
    latest = saver.get_tuple(_cfg("t"))
    assert latest is not None and latest.checkpoint["channel_values"] == {"blob": b"\xff\x80" * 3}
    assert [w[2] for w in latest.pending_writes or []] == [b"\x80\xfe"]
    steps = [t.metadata["step"] for t in saver.list(_cfg("t"))]
    assert steps == ([2] if saver_class is ShallowRedisSaver else [2, 1, 0])
    saver.copy_thread("t", "u")
    saver.prune(["u"])
    copied = await saver.aget_tuple(_cfg("u"))
    assert copied is not None and copied.checkpoint["channel_values"] == {"blob": b"\xff\x80" * 3}
    assert [t.checkpoint["id"] async for t in saver.alist(_cfg("u"))] == ["1f0-2"]
    await saver.acopy_thread("u", "v")
    await saver.aprune(["v"])
    await saver.adelete_thread("u")
    saver.delete_thread("t")
    assert [t.config["configurable"]["thread_id"] for t in saver.list(None)] == ["v"]
