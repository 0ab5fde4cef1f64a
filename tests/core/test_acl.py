"""A least-privilege user (``redis_agent_core.acl``) runs every role; outside its
namespace, and for dangerous commands, it is refused."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TypedDict

import numpy as np
import pytest
import redis
from langgraph.graph import START, StateGraph

from langchain_redis_agent.checkpoint import RedisSaver
from redis_agent_core import (
    AgentBus,
    ExactCache,
    KVStore,
    RateLimiter,
    RedisAgentConfig,
    RequestLimit,
    SemanticCache,
    SessionStore,
    TokenBudget,
    VectorIndex,
)
from redis_agent_core.acl import acl_rules, acl_setuser_command, server_commands
from redis_agent_core.apikeys import ApiKeys
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.vectors import F

from .topology import topology


def _embed(texts: list[str]) -> list[list[float]]:
    out = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
        vec = np.random.default_rng(seed).normal(size=16)
        out.append((vec / np.linalg.norm(vec)).tolist())
    return out


EMBED = CallableEmbedder(_embed)


class Counter(TypedDict):
    n: int


def _workload(config: RedisAgentConfig) -> None:
    exact = ExactCache(config=config)
    exact.update("p", "llm", "answer")
    assert exact.lookup("p", "llm") is not None
    semantic = SemanticCache(config=config, embedder=EMBED)
    semantic.update("what is redis", "llm", "a server")
    assert semantic.lookup("what is redis", "llm") is not None
    history = SessionStore(config=config, embedder=EMBED)
    history.append("s1", [b'{"role":"user","content":"hi"}'], texts=["hi"])
    assert history.read("s1") and history.relevant("s1", "hi", k=1)
    index = VectorIndex("docs", config=config, embedder=EMBED, metadata_fields={"t": "tag"})
    index.add(["alpha", "beta"], ids=["1", "2"], metadatas=[{"t": "x"}, {"t": "y"}])
    assert [h.id for h in index.search("alpha", k=1, filter=F("t") == "x")] == ["1"]
    index.delete(["2"])
    limiter = RateLimiter([RequestLimit.per_minute(5), TokenBudget.daily(100)], config=config)
    decision = limiter.acquire(user="u", tokens=10)
    assert limiter.settle(decision.reservation, actual_tokens=5)
    kv = KVStore(config=config)
    kv.mset([("k", b"v")])
    assert kv.mget(["k"]) == [b"v"] and list(kv.yield_keys()) == ["k"]
    bus = AgentBus(config, sender="planner")
    bus.publish("jobs", {"a": 1}, durable=True)
    consumer = bus.consumer("jobs", group="workers")
    for message in consumer.read(count=10, block=0.1):
        consumer.ack(message)
    bus.publish("events", {"b": 2})
    keys = ApiKeys(config)
    secret = keys.create("alice")
    assert keys.verify(secret) == "alice"

    saver = RedisSaver(config)
    graph = StateGraph(Counter)
    graph.add_node("inc", lambda state: {"n": state["n"] + 1})
    graph.add_edge(START, "inc")
    app = graph.compile(checkpointer=saver)
    thread = {"configurable": {"thread_id": "t1"}}
    app.invoke({"n": 1}, thread)
    assert app.get_state(thread).values == {"n": 2}
    saver.delete_thread("t1")

    async def async_side() -> None:
        assert await exact.alookup("p", "llm") is not None
        assert await index.asearch("beta", k=1) is not None

    asyncio.run(async_side())


def test_the_least_privilege_user_runs_every_role_and_nothing_else() -> None:
    with topology() as topo:
        port = topo.server(modules=True)
        admin = redis.Redis(port=port)
        line = acl_setuser_command("app", "tenant1", server_commands=server_commands(admin))
        admin.execute_command(line + " >pw")
        config = RedisAgentConfig(url=f"redis://app:pw@127.0.0.1:{port}/0", namespace="tenant1")
        _workload(config)
        assert not [k for k in admin.keys("*") if not k.startswith(b"tenant1:")]
        app = redis.Redis(port=port, username="app", password="pw")
        for denied in (
            lambda: app.set("other:key", "x"),  # outside the namespace
            lambda: app.flushall(),
            lambda: app.config_get("*"),
            lambda: app.keys("*"),
            lambda: app.publish("other:channel", "x"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                denied()
        _assert_server_wide_commands_denied(admin, app)


def _assert_server_wide_commands_denied(admin: redis.Redis, app: redis.Redis) -> None:
    """Nothing that flushes or lists other users' code, keys or channels is allowed."""
    admin.function_load("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    sha = admin.script_load("return 'admin script'")
    admin.set("other:key", "x")
    for command in (
        ("FUNCTION", "FLUSH"),
        ("FUNCTION", "DELETE", "lib"),
        ("FUNCTION", "LIST"),
        ("FCALL", "f", "0"),
        ("SCRIPT", "FLUSH"),
        ("SCRIPT", "KILL"),
        ("RANDOMKEY",),
        ("DBSIZE",),
        ("PUBSUB", "CHANNELS"),
        ("PUBSUB", "NUMSUB", "other:channel"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)
    assert admin.function_list() and admin.script_exists(sha) == [True]


def test_a_runtime_user_without_index_admin_uses_indexes_an_admin_created() -> None:
    with topology() as topo:
        port = topo.server(modules=True)
        admin = redis.Redis(port=port)
        known = server_commands(admin)
        _workload(RedisAgentConfig(url=f"redis://127.0.0.1:{port}/0", namespace="tenant1"))
        line = acl_setuser_command("app", "tenant1", index_admin=False, server_commands=known)
        admin.execute_command(line + " >pw")
        _workload(RedisAgentConfig(url=f"redis://app:pw@127.0.0.1:{port}/0", namespace="tenant1"))
        admin.hset("tenant2:secret", "body", "private")
        app = redis.Redis(port=port, username="app", password="pw")
        for command in (  # an index over another namespace's keys, and the admin's indexes
            ("FT.CREATE", "tenant1:spy", "PREFIX", "1", "tenant2:", "SCHEMA", "body", "TEXT"),
            ("FT.DROPINDEX", "tenant1:spy", "DD"),
            ("FT.ALTER", "tenant1:spy", "SCHEMA", "ADD", "x", "TEXT"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                app.execute_command(*command)
        assert admin.exists("tenant2:secret")


def test_a_confined_user_creates_its_indexes_beside_another_tenants() -> None:
    """Creating an index reads the other indexes' prefixes (nested prefixes would share
    documents); another tenant's index, which ACL key patterns forbid this user to read
    (FT.INFO: NoPermissionError), is skipped instead of failing the creation."""
    with topology() as topo:
        port = topo.server(modules=True)
        admin = redis.Redis(port=port)
        admin.execute_command(
            "FT.CREATE", "tenant2:vec:docs:idx", "PREFIX", "1", "tenant2:", "SCHEMA", "t", "TAG"
        )
        line = acl_setuser_command("app", "tenant1", server_commands=server_commands(admin))
        admin.execute_command(line + " >pw")
        config = RedisAgentConfig(url=f"redis://app:pw@127.0.0.1:{port}/0", namespace="tenant1")
        index = VectorIndex("docs", dims=2, config=config, algorithm="flat")
        index.add(["a"], ids=["a"], vectors=[[1.0, 0.0]])
        assert [h.id for h in index.search([1.0, 0.0], 1)] == ["a"]
        config.close()


def test_acl_rules_refuse_bad_names() -> None:
    assert "~ns:*" in acl_rules("ns") and "+ft.search" in acl_rules("ns")
    assert "+ft.search" not in acl_rules("ns", search=False)
    assert "+ft.create" not in acl_rules("ns", index_admin=False)
    assert "-function" not in acl_rules("ns", server_commands={"get", "script"})
    with pytest.raises(ConfigError, match="no spaces"):
        acl_setuser_command("a b")


def test_cli_refuses_a_bad_user_name_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    from redis_agent_core.cli import main

    # a ValueError traceback before
    assert main(["acl", "a b", "--offline"]) == 2
    assert "error: an ACL user name has no spaces" in capsys.readouterr().err


def test_cli_prints_a_line_the_server_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from redis_agent_core.cli import main

    with topology() as topo:
        port = topo.server(modules=True)
        url = f"redis://127.0.0.1:{port}/0"
        assert main(["acl", "bot", "--namespace", "ns1", "--url", url]) == 0
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert line.startswith("ACL SETUSER bot ") and "+ft.hybrid" not in line
        redis.Redis(port=port).execute_command(line + " >pw")
        user = redis.Redis(port=port).acl_getuser("bot")
        assert user["keys"] == ["~ns1:*"]
        assert main(["acl", "bot2", "--namespace", "ns1", "--url", url, "--no-index-admin"]) == 0
        line = capsys.readouterr().out.strip().splitlines()[-1]
        assert "+ft.search" in line and "+ft.create" not in line and "-function" in line
        redis.Redis(port=port).execute_command(line + " >pw")
