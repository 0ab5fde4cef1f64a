"""Durable LlamaIndex workflows on the real Redis: the workflows server's handler store
(handlers, logs, state across a server restart) and Context snapshots resumed in
another process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_agents.client.protocol.serializable_events import EventEnvelopeWithMetadata
from llama_agents.server import HandlerQuery, PersistentHandler, WorkflowServer
from workflows import Context, Workflow, step
from workflows.context import JsonSerializer
from workflows.context.serializers import PickleSerializer
from workflows.events import StartEvent, StopEvent

from llamaindex_redis_agent.workflows import RedisContextStore, RedisWorkflowStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError
from redis_agent_core.kvstore import KVStore

from .approval import AnswerEvent, Approval, AskEvent

ROOT = Path(__file__).resolve().parents[2]


def _handler(hid: str, run: str, status: Any = "running", **kw: Any) -> PersistentHandler:
    return PersistentHandler(
        handler_id=hid, workflow_name="approval", status=status, run_id=run, **kw
    )


async def test_handlers_query_update_delete(config: RedisAgentConfig) -> None:
    store = RedisWorkflowStore(config)
    await store.update(_handler("h1", "r1"))
    await store.update(_handler("h2", "r2", status="completed", result=StopEvent(result="ok")))
    await store.update(_handler("h1", "r1", status="failed", error="boom"))  # replaces
    by_id = await store.query(HandlerQuery(handler_id_in=["h1"]))
    assert [(h.status, h.error) for h in by_id] == [("failed", "boom")]
    (done,) = await store.query(HandlerQuery(run_id_in=["r2"]))
    assert isinstance(done.result, StopEvent) and done.result.result == "ok"
    assert {h.handler_id for h in await store.query(HandlerQuery())} == {"h1", "h2"}
    assert await store.query(HandlerQuery(status_in=[])) == []  # an empty list matches nothing
    assert [h.handler_id for h in await store.query(HandlerQuery(status_in=["completed"]))] == [
        "h2"
    ]
    assert await store.query(HandlerQuery(is_idle=True)) == []
    assert (
        await store.delete(HandlerQuery(workflow_name_in=["approval"], status_in=["failed"])) == 1
    )
    assert await store.query(HandlerQuery(run_id_in=["r1"])) == []
    # another store object on the same name (a restarted server) sees the same handlers
    assert [h.handler_id for h in await RedisWorkflowStore(config).query(HandlerQuery())] == ["h2"]
    assert await RedisWorkflowStore(config, name="other").query(HandlerQuery()) == []


async def test_a_delete_with_no_condition_deletes_nothing(config: RedisAgentConfig) -> None:
    # as the server's SQLite and Postgres stores: it deleted every handler (and the
    # results of finished runs with them)
    store = RedisWorkflowStore(config)
    await store.update(_handler("h1", "r1"))
    await store.update(_handler("h2", "r2", status="completed", result=StopEvent(result="ok")))
    assert await store.delete(HandlerQuery()) == 0
    assert {h.handler_id for h in await store.query(HandlerQuery())} == {"h1", "h2"}
    assert await store.delete(HandlerQuery(is_idle=False)) == 2  # one condition is enough


async def test_event_and_tick_logs_are_ordered_with_sequences(config: RedisAgentConfig) -> None:
    store = RedisWorkflowStore(config)
    for i in range(5):
        envelope = EventEnvelopeWithMetadata(
            value={"i": i}, qualified_name=None, type="Tick", types=None
        )
        await store.append_event("r1", envelope)
    events = await store.query_events("r1")
    assert [(e.sequence, e.event.value["i"]) for e in events] == [(i, i) for i in range(5)]
    assert [e.sequence for e in await store.query_events("r1", after_sequence=2)] == [3, 4]
    assert [e.sequence for e in await store.query_events("r1", after_sequence=0, limit=2)] == [1, 2]
    assert await store.query_events("other") == []
    await asyncio.gather(*(store.append_tick("r1", {"n": n}) for n in range(20)))
    ticks = await store.get_ticks("r1")
    assert [t.sequence for t in ticks] == list(range(20))  # concurrent appends never collide
    assert sorted(t.tick_data["n"] for t in ticks) == list(range(20))


async def test_state_store_persists_and_copies(config: RedisAgentConfig) -> None:
    store = RedisWorkflowStore(config)
    state = store.create_state_store("r1")
    await state.set("draft", "memo")
    await store.create_state_store("r1", namespace=("child",)).set("x", 1)
    # a fresh store object (a restarted server) reads it back from Redis
    again = RedisWorkflowStore(config).create_state_store("r1")
    assert await again.get("draft") == "memo"
    handle = await state.serialize_for_handoff(JsonSerializer())
    assert handle["store_type"] == "redis" and handle["run_id"] == "r1"
    copy = RedisWorkflowStore(config).create_state_store("r2", serialized_state=handle)
    assert await copy.get("draft") == "memo"
    other = RedisWorkflowStore(config, name="other")
    with pytest.raises(ConfigError, match="other"):
        other.create_state_store("r3", serialized_state=handle)
    with pytest.raises(ConfigError, match="Pickle"):
        store.create_state_store("r4", serializer=PickleSerializer())


async def test_state_a_reader_would_refuse_is_refused_unwritten(config: RedisAgentConfig) -> None:
    """A model outside the state store's allowed classes raises as it is set, naming the
    class and the fix, with nothing in Redis (before: stored, then every read raised). The
    framework re-raises a state value's error as a ValueError carrying its message."""
    store = RedisWorkflowStore(config)
    state = store.create_state_store("r1")
    with pytest.raises(ValueError, match=r"approval\.AskEvent.*nothing was written"):
        await state.set("asked", AskEvent(question="q"))
    # nested, through a serializer the server gives
    with pytest.raises(ValueError, match=r"AskEvent.*allowed_types"):
        server_given = JsonSerializer(allowed_types=[])
        await store.create_state_store("r1", serializer=server_given, namespace=("sub",)).set(
            "asked", {"all": [AskEvent(question="q")]}
        )
    assert await store.records.load_state("r1", "") is None
    assert await store.records.load_state("r1", "sub") is None
    allowing = JsonSerializer(allowed_types=[AskEvent])  # (a store keeps a run's first facade)
    await (
        RedisWorkflowStore(config)
        .create_state_store("r1", serializer=allowing)
        .set("asked", AskEvent(question="q"))
    )
    again = RedisWorkflowStore(config).create_state_store("r1", serializer=allowing)
    assert await again.get("asked") == AskEvent(question="q")


NEVER = "tests.checkpoints.never_imported"  # importable, and never imported by the suite


async def test_records_naming_a_class_never_import_it(config: RedisAgentConfig) -> None:
    assert NEVER not in sys.modules
    store = RedisWorkflowStore(config)  # no server: no result decoder of the workflow's
    await store.update(_handler("h1", "r1", status="completed", result=StopEvent(result="ok")))
    allowing = JsonSerializer(allowed_types=[AskEvent])
    await store.create_state_store("r1", serializer=allowing).set("asked", AskEvent(question="q"))
    # an attacker with write access names their module in the result and the state
    raw = (await store.records.handlers(["h1"]))[0]
    assert b'"workflows.events.StopEvent"' in raw
    await store.records.put_handler("h1", "r1", raw.replace(b"workflows.events", NEVER.encode()))
    state = await store.records.load_state("r1", "")
    assert state is not None and b"tests.wf_durable.approval" in state
    await store.records.save_state(
        "r1", "", state.replace(b"tests.wf_durable.approval", NEVER.encode())
    )
    (handler,) = await RedisWorkflowStore(config).query(HandlerQuery())
    assert handler.result is None and handler.result_unreadable
    with pytest.raises(ValueError, match="allowed types"):
        await RedisWorkflowStore(config).create_state_store("r1").get("asked")
    assert NEVER not in sys.modules


async def test_a_finished_run_expires_with_finished_ttl(config: RedisAgentConfig) -> None:
    store = RedisWorkflowStore(config, finished_ttl=600)
    envelope = EventEnvelopeWithMetadata(value={}, qualified_name=None, type="E", types=None)
    await store.append_event("r1", envelope)
    await store.append_tick("r1", {"n": 1})
    await store.create_state_store("r1").set("k", "v")
    await store.update(_handler("h1", "r1"))
    keys = [store.records.log_key("events", "r1"), store.records.log_key("ticks", "r1")]
    keys.append(store.records.state_key("r1"))
    client = config.get_client()
    assert [client.ttl(k) for k in keys] == [-1, -1, -1]  # running: kept
    await store.update(_handler("h1", "r1", status="completed"))
    assert all(0 < client.ttl(k) <= 600 for k in keys)
    assert [h.status for h in await store.query(HandlerQuery())] == ["completed"]  # stays
    with pytest.raises(ConfigError, match="finished_ttl"):
        RedisWorkflowStore(config, finished_ttl=0)


def _server(config: RedisAgentConfig) -> WorkflowServer:
    server = WorkflowServer(workflow_store=RedisWorkflowStore(config, name="served"))
    server.add_workflow("approval", Approval(timeout=30))
    return server


async def _wait(client: httpx.AsyncClient, path: str, ok: Any, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        reply = await client.get(path)
        if reply.status_code in (200, 202) and ok(reply.json()):  # 202: still running
            return reply.json()
        assert asyncio.get_running_loop().time() < deadline, reply.text
        await asyncio.sleep(0.05)


async def test_served_workflow_survives_a_server_restart(config: RedisAgentConfig) -> None:
    first = _server(config)
    async with first.contextmanager():
        transport = httpx.ASGITransport(app=first.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            started = await client.post(
                "/workflows/approval/run-nowait", json={"start_event": {"draft": "memo"}}
            )
            assert started.status_code == 200, started.text
            handler_id = started.json()["handler_id"]
            run_id = started.json()["run_id"]
            # the run is waiting for a human (its question is in the event log) when the
            # server goes away
            store = RedisWorkflowStore(config, name="served")
            for _ in range(200):
                if any(e.event.type == "AskEvent" for e in await store.query_events(run_id)):
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the workflow never asked")
    second = _server(config)
    async with second.contextmanager():
        transport = httpx.ASGITransport(app=second.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            listed = (await client.get("/handlers")).json()
            assert handler_id in [h["handler_id"] for h in listed["handlers"]]
            sent = await client.post(
                f"/events/{handler_id}",
                json={"event": {"type": "AnswerEvent", "value": {"answer": "yes"}}},
            )
            assert sent.status_code == 200, sent.text
            done = await _wait(
                client, f"/handlers/{handler_id}", lambda h: h["status"] == "completed"
            )
            assert "memo: yes" in str(done["result"])


async def test_context_paused_here_is_resumed_in_another_process(
    config: RedisAgentConfig,
) -> None:
    contexts = RedisContextStore(config, allowed_types=[AskEvent, AnswerEvent])
    await contexts.asave("approval-1", await _paused_ctx())
    script = textwrap.dedent(
        f"""
        import asyncio
        from llamaindex_redis_agent.workflows import RedisContextStore
        from redis_agent_core.config import RedisAgentConfig
        from tests.wf_durable.approval import AnswerEvent, Approval, AskEvent

        async def main():
            config = RedisAgentConfig(url={config.resolve_url()!r}, namespace={config.namespace!r})
            contexts = RedisContextStore(config, allowed_types=[AskEvent, AnswerEvent])
            workflow = Approval(timeout=10)
            ctx = await contexts.aload("approval-1", workflow)
            handler = workflow.run(ctx=ctx)
            handler.ctx.send_event(AnswerEvent(answer="yes"))
            print(await handler)

        asyncio.run(main())
        """
    )
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "memo: yes"


async def test_two_workers_taking_one_paused_run_resume_it_once(
    config: RedisAgentConfig,
) -> None:
    # a duplicated answer (a retried webhook) reached two workers: with load both resumed
    # the run and it finished twice; take gives the context to one of them
    contexts = RedisContextStore(config, allowed_types=[AskEvent, AnswerEvent])
    await contexts.asave("approval-2", await _paused_ctx())

    async def worker() -> Any:
        workflow = Approval(timeout=10)
        ctx = await contexts.atake("approval-2", workflow)
        if ctx is None:
            return None  # another worker has it
        resumed = workflow.run(ctx=ctx)
        resumed.ctx.send_event(AnswerEvent(answer="yes"))
        return await resumed

    assert sorted(map(str, await asyncio.gather(worker(), worker()))) == ["None", "memo: yes"]
    assert await contexts.aload("approval-2", Approval()) is None
    # a snapshot the taker may not restore stays for one that may
    await contexts.asave("approval-3", await _paused_ctx(asked=True))
    with pytest.raises(ValueError, match="allowed types"):
        RedisContextStore(config).take("approval-3", Approval())
    assert contexts.take("approval-3", Approval()) is not None
    assert contexts.take("approval-3", Approval()) is None


async def _paused_ctx(*, asked: bool = False) -> Any:
    """The context of a run paused at its question (``asked``: holding the question, a
    model, in its state)."""
    handler = Approval(timeout=10).run(draft="memo")
    async for event in handler.stream_events():
        if isinstance(event, AskEvent):
            break
    if asked:
        await handler.ctx.store.set("asked", AskEvent(question="approve memo?"))
    await handler.cancel_run()
    return handler.ctx


def test_context_store_sync_forms_and_refusals(config: RedisAgentConfig) -> None:
    contexts = RedisContextStore(config, allowed_types=[AskEvent, AnswerEvent])

    ctx = asyncio.run(_paused_ctx(asked=True))  # a model in the state
    # a store that would refuse to restore the snapshot refuses to save it (nothing written)
    with pytest.raises(ConfigError, match=r"approval\.AskEvent.*nothing was written"):
        RedisContextStore(config, allowed_types=[AnswerEvent]).save("c1", ctx)
    assert KVStore(config, name="contexts").mget(["c1"], collection="ctx") == [None]
    contexts.save("c1", ctx)
    assert contexts.load("missing", Approval()) is None
    restored = contexts.load("c1", Approval())
    assert restored is not None
    assert asyncio.run(restored.store.get("asked")) == AskEvent(question="approve memo?")
    # a snapshot holding a class the reader does not allow is refused, never imported
    with pytest.raises(ValueError, match="allowed types"):
        RedisContextStore(config).load("c1", Approval())
    raw = KVStore(config, name="contexts").mget(["c1"], collection="ctx")[0]
    assert raw is not None and b"tests.wf_durable.approval.AskEvent" in raw
    forged = raw.replace(b"tests.wf_durable.approval.AskEvent", b"antigravity.Fly")
    KVStore(config, name="contexts").mset([("forged", forged)], collection="ctx")
    with pytest.raises(ValueError, match="antigravity"):
        contexts.load("forged", Approval())
    assert "antigravity" not in sys.modules
    assert contexts.delete("c1") is True and contexts.delete("c1") is False
    with pytest.raises(ConfigError, match="Pickle"):
        RedisContextStore(config, serializer=PickleSerializer())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="allowed_types"):  # it would import any class named
        RedisContextStore(config, serializer=JsonSerializer())
    assert RedisContextStore(config, serializer=JsonSerializer(allowed_types=[AskEvent]))
    with pytest.raises(ConfigError, match="Context"):
        contexts.save("c2", {"not": "a context"})  # type: ignore[arg-type]


async def test_a_blank_context_id_is_refused_not_shared(config: RedisAgentConfig) -> None:
    # an app saving each paused run under the caller's session id, blank for a caller
    # without one: every such caller saved over, and took, the same run
    contexts = RedisContextStore(config, allowed_types=[AskEvent, AnswerEvent])
    ctx = await _paused_ctx(asked=True)
    for call in (
        lambda: contexts.save("", ctx),
        lambda: contexts.load("", Approval()),
        lambda: contexts.take("", Approval()),
        lambda: contexts.delete(""),
    ):
        with pytest.raises(ConfigError, match=r"ctx_id is blank.*its own id"):
            call()
    with pytest.raises(ConfigError, match="ctx_id is blank"):
        await contexts.asave("", ctx)
    with pytest.raises(ConfigError, match="ctx_id is blank"):
        await contexts.atake("", Approval())
    assert KVStore(config, name="contexts").mget([""], collection="ctx") == [None]


@pytest.mark.parametrize(
    "stored",
    [b"{", b"[1, 2]", b"null", b'"text"', b'{"state": 5}', b'{"version": 2, "workers": 7}'],
)
async def test_a_stored_context_that_is_not_a_snapshot_is_data_corruption(
    config: RedisAgentConfig, stored: bytes
) -> None:
    # JSON of another shape raised AttributeError / KeyError from Context.from_dict
    contexts = RedisContextStore(config)
    KVStore(config, name="contexts").mset([("bad", stored)], collection="ctx")
    with pytest.raises(DataCorruptionError, match="'bad'"):
        contexts.load("bad", Approval())
    with pytest.raises(DataCorruptionError, match="'bad'"):
        await contexts.aload("bad", Approval())


@pytest.mark.cluster
async def test_workflow_store_on_the_cluster(cluster_config: RedisAgentConfig) -> None:
    store = RedisWorkflowStore(cluster_config, name="served")
    await store.update(_handler("h1", "r1"))
    assert [h.handler_id for h in await store.query(HandlerQuery(run_id_in=["r1"]))] == ["h1"]
    envelope = EventEnvelopeWithMetadata(value={}, qualified_name=None, type="E", types=None)
    await store.append_event("r1", envelope)
    assert [e.sequence for e in await store.query_events("r1")] == [0]
    state = store.create_state_store("r1")
    await state.set("k", "v")
    handle = await state.serialize_for_handoff(JsonSerializer())
    copy = RedisWorkflowStore(cluster_config, name="served").create_state_store(
        "r2", serialized_state=handle
    )
    assert await copy.get("k") == "v"
    assert await store.delete(HandlerQuery(handler_id_in=["h1"])) == 1


class _Other(Workflow):
    @step
    async def go(self, ctx: Context, ev: StartEvent) -> StopEvent:
        return StopEvent(result="other")


async def test_a_snapshot_of_another_workflow_is_refused_and_kept(
    config: RedisAgentConfig,
) -> None:
    # a ctx id sent to another workflow's endpoint (or a worker handling several kinds):
    # the framework restored it into a workflow without its steps, the run waited until
    # its timeout, and take() had deleted the paused run's snapshot for good
    contexts = RedisContextStore(config, allowed_types=[AskEvent, AnswerEvent])
    await contexts.asave("c", await _paused_ctx())
    for take in (contexts.atake, contexts.aload):
        with pytest.raises(ConfigError, match=r"snapshot of another workflow: its steps ask, "):
            await take("c", _Other())
    with pytest.raises(ConfigError, match="take\\(\\) puts it back"):
        contexts.take("c", _Other())
    ctx = await contexts.atake("c", Approval())  # still there for the right workflow
    assert ctx is not None
    resumed = Approval(timeout=10).run(ctx=ctx)
    resumed.ctx.send_event(AnswerEvent(answer="yes"))
    assert str(await resumed) == "memo: yes"
