"""A uuid.UUID or an enum.Enum in vector metadata is refused like a datetime: orjson
wrote it as its str / its value, which read back as a different type."""

from __future__ import annotations

import enum
import uuid
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core.schema import TextNode

from langchain_redis_agent import RedisVectorStore as LCStore
from llamaindex_redis_agent import RedisVectorStore as LIStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.vectors import VectorIndex


class Color(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


ID = uuid.UUID(int=7)
# (metadata, the path and fix the error names)
BAD = [
    ({"ref": ID}, r"UUID.*at \['ref'\].*str\(value\)"),
    ({"tenant": "t", "tags": [1, Color.RED]}, r"RED.*at \['tags'\]\[1\].*value\.value"),
    ({"level": {"n": Level.HIGH}}, r"HIGH.*at \['level'\]\['n'\].*value\.value"),
]
PLAIN = {"s": "x", "i": 1, "f": 0.5, "b": True, "n": None, "l": [1, "a"], "d": {"k": [2]}}


@pytest.mark.parametrize("storage", ["hash", "json"])
@pytest.mark.parametrize(("bad", "match"), BAD)
def test_core_add_refuses_uuid_and_enum_and_writes_nothing(
    config: RedisAgentConfig, storage: str, bad: dict[str, Any], match: str
) -> None:
    index = VectorIndex(
        f"ue{storage}", config=config, dims=4, metadata_fields={"tenant": "tag"}, storage=storage
    )
    metas = [{"tenant": "t"}] * 4 + [bad]
    with pytest.raises(ConfigError, match="metadata #4 holds .*" + match):
        index.add(["t"] * 5, ids=list("abcde"), metadatas=metas, vectors=[[1.0, 0, 0, 0]] * 5)
    with pytest.raises(ConfigError, match=match):
        index.add(["t"], ids=["z"], metadatas=[bad], vectors=[[1.0, 0, 0, 0]])
    assert index.count() == 0
    index.add(["t"], ids=["p"], metadatas=[PLAIN], vectors=[[1.0, 0, 0, 0]])
    assert index.get(["p"])[0].metadata == PLAIN


@pytest.mark.parametrize(("bad", "match"), BAD)
def test_adapters_refuse_uuid_and_enum_and_write_nothing(
    config: RedisAgentConfig, bad: dict[str, Any], match: str
) -> None:
    lc = LCStore(DeterministicFakeEmbedding(size=4), index_name="uelc", config=config)
    with pytest.raises(ConfigError, match=match):
        lc.add_documents([Document("ok"), Document("x", metadata=bad)], ids=["a", "b"])
    assert lc.get_by_ids(["a", "b"]) == []
    li = LIStore("ueli", config=config, dims=4)
    nodes = [TextNode(id_=i, text="x", embedding=[1.0, 0, 0, 0], metadata=m)
             for i, m in (("a", {}), ("b", bad))]  # fmt: skip
    with pytest.raises(ConfigError, match=match):
        li.add(nodes)
    assert li.get_nodes(node_ids=["a", "b"]) == []
    li.add([TextNode(id_="p", text="x", embedding=[1.0, 0, 0, 0], metadata=PLAIN)])
    assert li.get_nodes(node_ids=["p"])[0].metadata == PLAIN
