"""Real LangGraph graphs on the savers: interrupt in one saver instance (or process),
resume in another; a LangChain v1 agent remembering a thread; the same on a cluster."""

from __future__ import annotations

import operator
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
import redis
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from pydantic import BaseModel

from langchain_redis_agent.checkpoint import (
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    RedisSaver,
    ShallowRedisSaver,
)
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


class State(TypedDict):
    items: Annotated[list[str], operator.add]
    approved: bool


def _draft(state: State) -> dict[str, Any]:
    return {"items": ["draft"]}


def _review(state: State) -> dict[str, Any]:
    answer = interrupt({"question": "approve?", "items": state["items"]})
    return {"items": [f"reviewed:{answer}"], "approved": answer == "yes"}


def build_graph(checkpointer: Any) -> Any:
    builder = StateGraph(State)
    builder.add_node("draft", _draft)
    builder.add_node("review", _review)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", END)
    return builder.compile(checkpointer=checkpointer)


@pytest.mark.parametrize("cls", [RedisSaver, ShallowRedisSaver])
def test_interrupt_in_one_saver_resumes_in_another(config: RedisAgentConfig, cls: Any) -> None:
    thread = {"configurable": {"thread_id": "order-7"}}
    first = build_graph(cls(config)).invoke({"items": [], "approved": False}, thread)
    assert first["__interrupt__"][0].value == {"question": "approve?", "items": ["draft"]}

    # a fresh saver and a fresh config object: only Redis carries the state
    other = RedisAgentConfig(url=config.url, namespace=config.namespace)
    graph = build_graph(cls(other))
    assert graph.get_state(thread).next == ("review",)
    done = graph.invoke(Command(resume="yes"), thread)
    assert done == {"items": ["draft", "reviewed:yes"], "approved": True}
    assert graph.get_state(thread).next == ()
    history = list(graph.get_state_history(thread))
    if cls is RedisSaver:
        assert len(history) >= 4  # input, draft, review pending, done
    else:
        assert len(history) == 1
    other.close()


@pytest.mark.parametrize("cls", [AsyncRedisSaver, AsyncShallowRedisSaver])
async def test_async_graph_interrupts_and_resumes(aconfig: RedisAgentConfig, cls: Any) -> None:
    thread = {"configurable": {"thread_id": "order-8"}}
    graph = build_graph(cls(aconfig))
    first = await graph.ainvoke({"items": [], "approved": False}, thread)
    assert "__interrupt__" in first
    done = await build_graph(cls(aconfig)).ainvoke(Command(resume="no"), thread)
    assert done == {"items": ["draft", "reviewed:no"], "approved": False}


def _resume_in_a_new_process(config: RedisAgentConfig, thread_id: str) -> None:
    thread = {"configurable": {"thread_id": thread_id}}
    graph = build_graph(RedisSaver(config))
    graph.invoke({"items": [], "approved": False}, thread)
    history = [s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(thread)]
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(ROOT)!r})
        from langgraph.types import Command
        from langchain_redis_agent.checkpoint import RedisSaver
        from redis_agent_core.config import RedisAgentConfig
        from tests.checkpoints.test_graphs import build_graph

        cfg = RedisAgentConfig(url={config.url!r}, namespace={config.namespace!r})
        graph = build_graph(RedisSaver(cfg))
        thread = {{"configurable": {{"thread_id": {thread_id!r}}}}}
        history = [s.config["configurable"]["checkpoint_id"]
                   for s in graph.get_state_history(thread)]
        pending = graph.get_state(thread).next
        out = graph.invoke(Command(resume="yes"), thread)
        print(json.dumps({{"history": history, "pending": list(pending), "out": out}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {
        "history": history,  # every checkpoint of the first process, in order
        "pending": ["review"],
        "out": {"items": ["draft", "reviewed:yes"], "approved": True},
    }
    # and this process sees what the other one wrote
    state = build_graph(RedisSaver(config)).get_state(thread)
    assert state.values["approved"] is True
    assert len(list(graph.get_state_history(thread))) > len(history)


def test_a_new_process_resumes_the_thread(config: RedisAgentConfig) -> None:
    _resume_in_a_new_process(config, "proc-1")


@pytest.mark.cluster
def test_a_new_process_resumes_the_thread_on_the_cluster(cluster_config: RedisAgentConfig) -> None:
    _resume_in_a_new_process(cluster_config, "proc-c")


class CountingModel(BaseChatModel):
    """Answers with how many messages it was shown; counts its calls."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "counting"

    def _generate(
        self,
        messages: Sequence[BaseMessage],  # type: ignore[override]
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        text = f"I saw {len(messages)} messages"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def test_create_agent_remembers_a_thread_across_savers(config: RedisAgentConfig) -> None:
    from langchain.agents import create_agent

    model = CountingModel()
    thread = {"configurable": {"thread_id": "chat-1"}}
    agent = create_agent(model, tools=[], checkpointer=RedisSaver(config))
    agent.invoke({"messages": [HumanMessage("hello")]}, thread)

    again = create_agent(model, tools=[], checkpointer=RedisSaver(config))
    out = again.invoke({"messages": [HumanMessage("still there?")]}, thread)
    assert [m.content for m in out["messages"]] == [
        "hello",
        "I saw 1 messages",
        "still there?",
        "I saw 3 messages",
    ]
    assert isinstance(out["messages"][0], HumanMessage)
    assert model.calls == 2


@pytest.mark.cluster
def test_graph_on_the_cluster_keeps_each_thread_in_one_slot(
    cluster_config: RedisAgentConfig,
) -> None:
    threads = [f"c-{i}" for i in range(6)]
    for name in threads:
        thread = {"configurable": {"thread_id": name}}
        build_graph(RedisSaver(cluster_config)).invoke({"items": [], "approved": False}, thread)
        done = build_graph(RedisSaver(cluster_config)).invoke(Command(resume="ok"), thread)
        assert done["items"] == ["draft", "reviewed:ok"]
    saver = RedisSaver(cluster_config)
    assert {t.config["configurable"]["thread_id"] for t in saver.list(None)} == set(threads)
    client = cluster_config.get_client()
    slots_by_thread: dict[str, set[int]] = {}
    nodes = set()
    for node in client.get_primaries():  # type: ignore[union-attr]
        for key in node.redis_connection.scan_iter(match=f"{cluster_config.namespace}:*"):
            text = key.decode()
            thread = text.split("{", 1)[1].split("}", 1)[0]
            slots_by_thread.setdefault(thread, set()).add(redis.cluster.key_slot(key))
            nodes.add(node.name)
    assert set(slots_by_thread) == set(threads)
    assert all(len(slots) == 1 for slots in slots_by_thread.values())
    assert len(nodes) > 1  # the threads really are spread over the cluster
    saver.delete_thread("c-0")
    assert saver.get_tuple({"configurable": {"thread_id": "c-0"}}) is None


@pytest.mark.cluster
async def test_async_saver_on_the_cluster(cluster_config: RedisAgentConfig) -> None:
    thread = {"configurable": {"thread_id": "ac-1"}}
    graph = build_graph(AsyncRedisSaver(cluster_config))
    await graph.ainvoke({"items": [], "approved": False}, thread)
    done = await build_graph(AsyncRedisSaver(cluster_config)).ainvoke(Command(resume="y"), thread)
    assert done["items"] == ["draft", "reviewed:y"]
    saver = AsyncRedisSaver(cluster_config)
    assert [t.config async for t in saver.alist(None)]
    await saver.adelete_thread("ac-1")
    assert await saver.aget_tuple(thread) is None
    await cluster_config.aclose()


def test_copy_then_prune_keeps_a_resumable_thread(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config)
    source = {"configurable": {"thread_id": "src"}}
    build_graph(saver).invoke({"items": [], "approved": False}, source)
    saver.copy_thread("src", "fork")
    fork = {"configurable": {"thread_id": "fork"}}
    graph = build_graph(saver)
    assert len(list(graph.get_state_history(fork))) == len(list(graph.get_state_history(source)))
    # the fork resumes on its own; the source still waits
    assert graph.invoke(Command(resume="no"), fork)["items"] == ["draft", "reviewed:no"]
    assert graph.get_state(source).next == ("review",)

    client = config.get_client()
    blobs = config.keys.checkpoint_blobs("fork", "")
    before = client.hlen(blobs)
    saver.prune(["fork"])
    assert len(list(graph.get_state_history(fork))) == 1
    assert graph.get_state(fork).values == {"items": ["draft", "reviewed:no"], "approved": False}
    assert client.hlen(blobs) < before  # values only older checkpoints used are gone
    saver.prune(["fork"], strategy="delete")
    assert graph.get_state(fork).values == {}
    with pytest.raises(ConfigError, match="keep_latest"):
        saver.prune(["src"], strategy="latest")


class Order(BaseModel):
    sku: str
    qty: int


@dataclass
class Note:
    text: str


class OrderState(TypedDict):
    order: Order
    notes: Annotated[list[Note], operator.add]


def _order_graph(checkpointer: Any) -> Any:
    def bump(state: OrderState) -> dict[str, Any]:
        return {"order": Order(sku="x", qty=state["order"].qty + 1), "notes": [Note("bumped")]}

    def confirm(state: OrderState) -> dict[str, Any]:
        return {"notes": [Note(interrupt("ok?"))]}

    builder = StateGraph(OrderState)
    builder.add_node("bump", bump)
    builder.add_node("confirm", confirm)
    builder.add_edge(START, "bump")
    builder.add_edge("bump", "confirm")
    builder.add_edge("confirm", END)
    return builder.compile(checkpointer=checkpointer)


def test_own_state_types_need_allowing_and_never_come_back_as_dicts(
    config: RedisAgentConfig,
) -> None:
    thread = {"configurable": {"thread_id": "o1"}}
    start = {"order": Order(sku="x", qty=1), "notes": []}
    # not allowed: refused at the first write, naming the type and the fix, with nothing
    # in Redis (a run that succeeded would leave a thread no later resume could read)
    refused = r"test_graphs\.Order.*nothing was written.*allowed_types"
    with pytest.raises(ConfigError, match=refused):
        _order_graph(RedisSaver(config)).invoke(start, thread)
    assert RedisSaver(config).get_tuple(thread) is None
    saver = RedisSaver(config, allowed_types=[Order, Note])
    assert _order_graph(saver).invoke(start, thread)["__interrupt__"]
    # another saver, allowed the same types, resumes it: the models come back as models
    again = RedisSaver(config, allowed_types=[Order, Note])
    done = _order_graph(again).invoke(Command(resume="yes"), thread)
    assert done == {"order": Order(sku="x", qty=2), "notes": [Note("bumped"), Note("yes")]}


def test_a_nested_type_outside_the_allowlist_is_refused_before_any_write(
    config: RedisAgentConfig,
) -> None:
    """Order is allowed, a Note inside a pending write is not: the node's writes are
    refused as they are saved, and the thread keeps only what preceded them."""
    thread = {"configurable": {"thread_id": "o2"}}
    saver = RedisSaver(config, allowed_types=[Order])
    with pytest.raises(ConfigError, match=r"test_graphs\.Note.*nothing was written"):
        _order_graph(saver).invoke({"order": Order(sku="x", qty=1), "notes": []}, thread)
    stored = list(saver.list(thread))  # what was written before reads back
    assert stored and all(
        isinstance(t.checkpoint["channel_values"].get("order", Order(sku="", qty=0)), Order)
        and all(w[2] == [] for w in t.pending_writes if w[1] == "notes")  # the input's
        for t in stored
    )


class FanState(TypedDict):
    results: Annotated[list[str], operator.add]


def test_a_failed_branch_is_retried_alone_from_the_pending_writes(
    config: RedisAgentConfig,
) -> None:
    """Parallel branches: the writes of the branch that succeeded are saved as pending
    writes, so resuming after the other branch failed does not run the first again."""
    calls = {"fast": 0, "flaky": 0}
    fail = {"flaky": True}

    def fast(state: FanState) -> dict[str, Any]:
        calls["fast"] += 1
        return {"results": ["fast"]}

    def flaky(state: FanState) -> dict[str, Any]:
        calls["flaky"] += 1
        if fail["flaky"]:
            raise RuntimeError("upstream timeout")
        return {"results": ["flaky"]}

    def build(saver: Any) -> Any:
        builder = StateGraph(FanState)
        builder.add_node("fast", fast)
        builder.add_node("flaky", flaky)
        builder.add_edge(START, "fast")
        builder.add_edge(START, "flaky")
        builder.add_edge("fast", END)
        builder.add_edge("flaky", END)
        return builder.compile(checkpointer=saver)

    thread = {"configurable": {"thread_id": "fan"}}
    with pytest.raises(RuntimeError, match="upstream timeout"):
        build(RedisSaver(config)).invoke({"results": []}, thread)
    state = build(RedisSaver(config)).get_state(thread)
    assert state.next == ("flaky",)  # fast's writes were saved: it is done
    assert [t.name for t in state.tasks if t.error] == ["flaky"]  # errors are writes too

    fail["flaky"] = False
    out = build(RedisSaver(config)).invoke(None, thread)  # resume the same step
    assert sorted(out["results"]) == ["fast", "flaky"]
    assert calls == {"fast": 1, "flaky": 2}


@pytest.mark.parametrize("durability", ["async", "exit"])
def test_other_durability_modes_keep_the_thread_resumable(
    config: RedisAgentConfig, durability: str
) -> None:
    # "async" writes checkpoints in the background (possibly out of order), "exit" only
    # when the run stops: either way the latest state and the interrupt are found
    thread = {"configurable": {"thread_id": f"d-{durability}"}}
    graph = build_graph(RedisSaver(config))
    first = graph.invoke({"items": [], "approved": False}, thread, durability=durability)
    assert "__interrupt__" in first
    other = build_graph(RedisSaver(config))
    assert other.get_state(thread).next == ("review",)
    done = other.invoke(Command(resume="yes"), thread, durability=durability)
    assert done == {"items": ["draft", "reviewed:yes"], "approved": True}
    # writes saved before their checkpoint were noted only until it was saved
    client = config.get_client()
    assert not client.exists(config.keys.checkpoint_unindexed(f"d-{durability}"))
    other.checkpointer.delete_thread(f"d-{durability}")
    assert not list(client.scan_iter(match=f"{config.namespace}:*"))


@pytest.mark.parametrize("cls", [RedisSaver, ShallowRedisSaver])
def test_the_interrupt_is_in_the_state_with_background_saves(
    config: RedisAgentConfig, cls: Any
) -> None:
    # LangGraph's default durability ("async") saves in the background: the interrupt's
    # write could land before the checkpoint it belongs to (or the one before it), and the
    # shallow saver's put, which emptied its hash, lost it: get_state showed no interrupt
    # for about half of these runs (a UI asking "what waits for approval?" saw nothing)
    graph = build_graph(cls(config))
    missing = []
    for i in range(40):
        thread = {"configurable": {"thread_id": f"bg-{i}"}}
        graph.invoke({"items": [], "approved": False}, thread)
        state = graph.get_state(thread)
        if not [t.interrupts for t in state.tasks if t.interrupts]:
            missing.append(i)
    assert missing == []


def test_a_shallow_saver_keeps_writes_saved_before_their_checkpoint(
    config: RedisAgentConfig,
) -> None:
    saver = ShallowRedisSaver(config)
    ids = sorted(f"1f0-{i}" for i in range(3))  # LangGraph's ids sort by time

    def checkpoint(cid: str) -> dict[str, Any]:
        return {"v": 4, "id": cid, "ts": "2026-12-06T00:00:00+00:00", "channel_values": {},
                "channel_versions": {}, "versions_seen": {}, "updated_channels": None}  # fmt: skip

    def at(cid: str | None = None) -> dict[str, Any]:
        conf = {"thread_id": "t", "checkpoint_ns": ""}
        return {"configurable": {**conf, "checkpoint_id": cid} if cid else conf}

    saver.put(at(), checkpoint(ids[0]), {}, {})
    saver.put_writes(at(ids[2]), [("__interrupt__", "approve?")], "task-2")  # early, twice
    saver.put_writes(at(ids[1]), [("items", ["x"])], "task-1")
    saver.put(at(ids[0]), checkpoint(ids[1]), {}, {})
    assert saver.get_tuple(at()).pending_writes == [("task-1", "items", ["x"])]
    saver.put(at(ids[1]), checkpoint(ids[2]), {}, {})
    assert saver.get_tuple(at()).pending_writes == [("task-2", "__interrupt__", "approve?")]
    saver.put_writes(at(ids[1]), [("items", ["late"])], "task-9")  # late: for an old one
    assert saver.get_tuple(at()).pending_writes == [("task-2", "__interrupt__", "approve?")]


async def test_shallow_savers_on_the_cluster(cluster_config: RedisAgentConfig) -> None:
    # the shallow put's script runs inside the thread's MULTI/EXEC, in its slot
    for i, cls in enumerate([ShallowRedisSaver, AsyncShallowRedisSaver]):
        thread = {"configurable": {"thread_id": f"sc-{i}"}}
        graph = build_graph(cls(cluster_config))
        if cls is ShallowRedisSaver:
            graph.invoke({"items": [], "approved": False}, thread)
            assert [t.interrupts for t in graph.get_state(thread).tasks if t.interrupts]
            done = graph.invoke(Command(resume="y"), thread)
        else:
            await graph.ainvoke({"items": [], "approved": False}, thread)
            state = await graph.aget_state(thread)
            assert [t.interrupts for t in state.tasks if t.interrupts]
            done = await graph.ainvoke(Command(resume="y"), thread)
        assert done["items"] == ["draft", "reviewed:y"]
    await cluster_config.aclose()
