"""A uuid.UUID or an enum.Enum in a message's additional_kwargs / response_metadata or
in session metadata is refused like a datetime: JSON read it back as a str / its value."""

from __future__ import annotations

import enum
import uuid

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_redis_agent import RedisChatMessageHistory
from llamaindex_redis_agent import RedisAsyncChatStore, RedisChatStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError


class Color(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


ID = uuid.UUID(int=7)
PLAIN = {"s": "x", "i": 1, "f": 0.5, "b": True, "n": None, "l": [1, "a"], "d": {"k": [2]}}


async def test_langchain_history_refuses_uuid_and_enum(aconfig: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("s", config=aconfig)
    history.add_messages([HumanMessage("kept")])
    cases = [
        (AIMessage("y", additional_kwargs={"run": ID}), r"\['additional_kwargs'\]\['run'\].*str\("),
        (AIMessage("y", response_metadata={"c": [Color.RED]}), r"\['c'\]\[0\].*value\.value"),
        (HumanMessage("y", additional_kwargs={"p": Level.HIGH}), r"\['p'\].*value\.value"),
    ]
    for message, match in cases:
        with pytest.raises(ConfigError, match=r"message 1 \(\w+\) holds .*" + match):
            history.add_messages([HumanMessage("x"), message])
        with pytest.raises(ConfigError, match=match):
            await history.aadd_messages([message])
    with pytest.raises(ConfigError, match=r"UUID.*str\(value\)"):
        history.update_metadata({"user": ID})
    assert [m.content for m in history.messages] == ["kept"]  # nothing written
    history.add_messages([AIMessage("p", additional_kwargs=PLAIN, response_metadata=PLAIN)])
    last = history.messages[-1]
    assert last.additional_kwargs == PLAIN and last.response_metadata == PLAIN


async def test_llamaindex_chat_store_refuses_uuid_and_enum(aconfig: RedisAgentConfig) -> None:
    store, astore = RedisChatStore(aconfig), RedisAsyncChatStore(aconfig)
    store.add_message("k", ChatMessage(role="user", content="kept"))
    cases = [
        ({"run": ID}, r"additional_kwargs holds UUID.*\['run'\].*str\(value\)"),
        ({"c": [Color.RED]}, r"additional_kwargs holds .*RED.*\['c'\]\[0\].*value\.value"),
        ({"p": {"q": Level.HIGH}}, r"\['p'\]\['q'\].*value\.value"),
    ]
    for kwargs, match in cases:
        message = ChatMessage(role="user", content="x", additional_kwargs=kwargs)
        with pytest.raises(ConfigError, match=r"message 0 \(user\) .*" + match):
            store.add_message("k", message)
        with pytest.raises(ConfigError, match=match):
            await astore.add_message("k", message)
    assert [m.content for m in store.get_messages("k")] == ["kept"]  # nothing written
    store.add_message("k", ChatMessage(role="user", content="p", additional_kwargs=PLAIN))
    assert store.get_messages("k")[-1].additional_kwargs == PLAIN
