"""Fixtures of the agent-middleware tests: a chat model that counts its calls and a
toy embedder (same words, same vector; anything else far apart)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from redis_agent_core.embeddings import CallableEmbedder

DIMS = 16


def word_vector(text: str) -> list[float]:
    """Equal up to case and punctuation -> the same unit vector (a paraphrase stand-in)."""
    words = " ".join(re.findall(r"\w+", text.lower()))
    seed = int.from_bytes(hashlib.sha256(words.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIMS)
    return (v / np.linalg.norm(v)).astype(np.float32).tolist()


@pytest.fixture
def embedder() -> CallableEmbedder:
    return CallableEmbedder(lambda texts: [word_vector(t) for t in texts], name="words", dims=DIMS)


class CountingModel(BaseChatModel):
    """Answers ``answer <n>: <question>`` (n counts calls, 10 tokens each); a question
    "<tool> in <city>?" first calls that tool, then answers with its result."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "counting"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> CountingModel:  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.calls += 1
        last = messages[-1]
        usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
        asked = re.fullmatch(r"(\w+) in (\w+)\?", str(last.content))
        if isinstance(last, HumanMessage) and asked:
            name, city = asked.groups()
            call = {"name": name, "args": {"city": city, "unit": "C"}, "id": f"c{self.calls}"}
            message = AIMessage(content="", tool_calls=[call], usage_metadata=usage)
        elif isinstance(last, ToolMessage):
            message = AIMessage(content=f"tool said {last.content}", usage_metadata=usage)
        else:
            text = f"answer {self.calls}: {last.content}"
            message = AIMessage(content=text, usage_metadata=usage)  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])


@pytest.fixture
def model() -> CountingModel:
    return CountingModel()
