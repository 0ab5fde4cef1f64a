"""Agent state: our LangGraph checkpointers vs langgraph-checkpoint-redis 0.5.2.

Same server (the embedded one, which has the RedisJSON + RediSearch modules the peer
needs), same run, rounds interleaved. LangGraph's ``InMemorySaver`` is the floor
(no I/O: what serialisation and LangGraph's own work cost).

- put: one checkpoint of a chat thread (10 messages of ≈ 200 B + a counter; the
  messages channel changes), appended to a thread already holding 100;
- get latest: ``get_tuple`` of that thread without an id;
- list 100: ``list`` of a thread's 100 checkpoints, consumed; the peer's ``list``
  returns each message as a dict (``{'lc': 1, 'type': 'constructor', ...}``), not the
  message object its ``get_tuple`` and InMemorySaver return (so ``get_state_history``
  gives dicts), so a second row makes its output equal with its own reviver
  (``_deserialize_channel_values``, what its ``get_tuple`` applies);
- agent run: 20 threads x 50 turns of a one-node StateGraph (add_messages), the
  time of the whole run and the server memory it added per checkpoint (``used_memory``
  delta, so the peer's search indexes count too).
"""

from __future__ import annotations

import operator
import os
import statistics
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import redis

from benchmarks.common import bench_server, machine_note, table

warnings.filterwarnings("ignore")

TEXT = "Could you summarise the main points of the quarterly report for the sales team? " * 2


def _messages(n: int) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage

    return [(HumanMessage if i % 2 == 0 else AIMessage)(f"{i} {TEXT}"[:200]) for i in range(n)]


def _checkpoint(step: int, messages: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.base.id import uuid6

    cp = empty_checkpoint()
    cp["id"] = str(uuid6(clock_seq=-1))
    version = f"{step + 1:032}.0000000000000000"
    cp["channel_values"] = {"messages": messages, "step": step}
    cp["channel_versions"] = {"messages": version, "step": version}
    cp["versions_seen"] = {"model": {"messages": version}}
    return cp, {"messages": version, "step": version}


class Chat(TypedDict):
    messages: Annotated[list[Any], operator.add]


def _graph(saver: Any) -> Any:
    from langchain_core.messages import AIMessage
    from langgraph.graph import END, START, StateGraph

    def model(state: Chat) -> dict[str, Any]:
        return {"messages": [AIMessage(f"answer {len(state['messages'])} {TEXT}"[:200])]}

    builder = StateGraph(Chat)
    builder.add_node("model", model)
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    return builder.compile(checkpointer=saver)


def _fill(saver: Any, thread: str, n: int, messages: list[Any]) -> dict[str, Any]:
    config: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    for step in range(n):
        cp, versions = _checkpoint(step, messages)
        config = saver.put(config, cp, {"source": "loop", "step": step}, versions)
    return config


def _peer_list_revived(saver: Any, config: dict[str, Any]) -> list[Any]:
    """The peer's list with messages made objects by the peer's own reviver, as its
    get_tuple returns them (its list leaves them as dicts)."""
    out = list(saver.list(config, limit=100))
    for tup in out:
        values = tup.checkpoint["channel_values"]
        tup.checkpoint["channel_values"] = saver._deserialize_channel_values(values)
    return out


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def store_section(url: str, rounds: int) -> list[str]:
    """LangGraph stores: put one item, get it, search a namespace with a filter.

    1,000 items of ≈ 200 B in 10 namespaces are stored first; search is
    ``search(("users", "u3"), filter={"kind": "fact"}, limit=10)`` (100 items in the
    namespace, half of them facts). No semantic index on either side.
    """
    from langgraph.store.memory import InMemoryStore
    from langgraph.store.redis import RedisStore as PeerStore

    from langchain_redis_agent.store import RedisStore
    from redis_agent_core.config import RedisAgentConfig

    cfg = RedisAgentConfig(url=url, namespace="bench-store")
    peer = PeerStore(redis.Redis.from_url(url))
    peer.setup()
    stores: dict[str, Any] = {"ours": RedisStore(cfg), "peer": peer, "floor": InMemoryStore()}
    for store in stores.values():
        for i in range(1000):
            value = {"text": f"{i} {TEXT}"[:200], "kind": "fact" if i % 2 else "note", "i": i}
            store.put(("users", f"u{i % 10}"), f"k{i}", value)
    samples: dict[str, dict[str, list[float]]] = {
        op: {n: [] for n in stores} for op in ("put", "get", "search")
    }
    n = [0]
    for _ in range(rounds):
        for name, store in stores.items():
            for _ in range(40):
                n[0] += 1
                value = {"text": TEXT[:200], "kind": "fact", "i": n[0]}
                start = time.perf_counter()
                store.put(("users", "u3"), f"new{n[0] % 50}", value)
                samples["put"][name].append(time.perf_counter() - start)
                start = time.perf_counter()
                store.get(("users", "u3"), f"k{n[0] % 1000}")
                samples["get"][name].append(time.perf_counter() - start)
                start = time.perf_counter()
                found = store.search(("users", "u3"), filter={"kind": "fact"}, limit=10)
                samples["search"][name].append(time.perf_counter() - start)
                assert len(found) == 10
    rows = []
    for op, label in (("put", "store put"), ("get", "store get"), ("search", "store search")):
        ours, theirs, floor = (_median_ms(samples[op][k]) for k in ("ours", "peer", "floor"))
        rows.append(
            (
                label,
                f"{ours:.3f} ms",
                f"{theirs:.3f} ms",
                f"{ours / theirs:.2f}x",
                f"{floor:.3f} ms",
            )
        )
    cfg.close()
    return [
        f"## Store (LangGraph BaseStore; median of {rounds} interleaved rounds x 40)",
        "",
        table(
            ["operation", "ours", "langgraph-checkpoint-redis", "ratio", "InMemoryStore (floor)"],
            rows,
        ),
        "",
        "1,000 items in 10 namespaces; search: one namespace (100 items), filter on a field, "
        "limit 10; no semantic index.",
        "",
    ]


_WORDS: dict[str, Any] = {}


def _embed(texts: list[str]) -> list[list[float]]:
    """A cheap, deterministic 384-d embedding (sum of fixed random word vectors), the
    same for every store: the rows measure the stores, not a model."""
    import numpy as np

    out = []
    for text in texts:
        total = np.zeros(384)
        for word in text.lower().split():
            if word not in _WORDS:
                seed = int.from_bytes(word.encode()[:8].ljust(8, b"\0"), "little") ^ len(word)
                _WORDS[word] = np.random.default_rng(seed).standard_normal(384)
            total += _WORDS[word]
        out.append(total.tolist())
    return out


def semantic_section(url: str, rounds: int) -> list[str]:
    """Semantic search of LangGraph stores at their defaults (``index={"dims": 384,
    "embed": ..., "fields": ["text"]}``; both peers default to an exact FLAT index).

    1,000 items in 10 namespaces, each ``text`` embedded on put; search is
    ``search(("users", "u3"), query=..., limit=10)``, then the same with
    ``filter={"kind": "fact"}``. The embed function is the same cheap one for all.
    """
    from langgraph.store.memory import InMemoryStore
    from langgraph.store.redis import RedisStore as PeerStore

    from langchain_redis_agent.store import RedisStore
    from redis_agent_core.config import RedisAgentConfig

    index: Any = {"dims": 384, "embed": _embed, "fields": ["text"]}
    words = "tea coffee oslo fjord green black morning work report sales team quarter".split()
    cfg = RedisAgentConfig(url=url, namespace="bench-semantic")
    peer = PeerStore(redis.Redis.from_url(url), index=index)
    peer.setup()
    stores: dict[str, Any] = {
        "ours": RedisStore(cfg, name="semantic", index=index),
        "peer": peer,
        "floor": InMemoryStore(index=index),
    }
    for store in stores.values():
        for i in range(1000):
            text = " ".join(words[(i * k) % len(words)] for k in (1, 3, 7)) + f" {i}"
            value = {"text": text, "kind": "fact" if i % 2 else "note", "i": i}
            store.put(("users", f"u{i % 10}"), f"k{i}", value)
    ops = ("put", "search", "filtered")
    samples: dict[str, dict[str, list[float]]] = {op: {n: [] for n in stores} for op in ops}
    found: dict[str, dict[str, set[int]]] = {op: {n: set() for n in stores} for op in ops[1:]}
    n = [0]
    for _ in range(rounds):
        for name, store in stores.items():
            for _ in range(20):
                n[0] += 1
                query = f"{words[n[0] % 12]} {words[(n[0] * 5) % 12]}"
                kind = "fact" if n[0] % 2 else "note"  # the filter keeps half of the new items
                value = {"text": query + " new", "kind": kind, "i": -n[0]}
                start = time.perf_counter()
                store.put(("users", "u3"), f"new{n[0] % 20}", value)
                samples["put"][name].append(time.perf_counter() - start)
                start = time.perf_counter()
                got = store.search(("users", "u3"), query=query, limit=10)
                samples["search"][name].append(time.perf_counter() - start)
                found["search"][name].add(len(got))
                start = time.perf_counter()
                got = store.search(("users", "u3"), query=query, filter={"kind": "fact"}, limit=10)
                samples["filtered"][name].append(time.perf_counter() - start)
                found["filtered"][name].add(len(got))
    rows = []
    labels = {
        "put": "store put (1 text embedded)",
        "search": "store semantic search",
        "filtered": "store semantic search + filter",
    }
    for op in ops:
        ours, theirs, floor = (_median_ms(samples[op][k]) for k in ("ours", "peer", "floor"))
        rows.append(
            (
                labels[op],
                f"{ours:.3f} ms",
                f"{theirs:.3f} ms",
                f"{ours / theirs:.2f}x",
                f"{floor:.3f} ms",
            )
        )
    cfg.close()
    start = time.perf_counter()
    _embed([f"{words[i % 12]} {words[(i * 5) % 12]}" for i in range(1000)])
    embed_ms = time.perf_counter() - start
    counts = "; ".join(
        f"{op}: " + ", ".join(f"{k} {sorted(v)}" for k, v in found[op].items()) for op in ops[1:]
    )
    return [
        f"## Store semantic search (median of {rounds} interleaved rounds x 20)",
        "",
        table(
            ["operation", "ours", "langgraph-checkpoint-redis", "ratio", "InMemoryStore (floor)"],
            rows,
        ),
        "",
        "1,000 items in 10 namespaces, `text` embedded (384-d, the same cheap embed "
        f"function for all, {embed_ms:.3f} ms a text); search in one namespace (≈ 100 items), "
        "limit 10.",
        f"Items returned per search (distinct counts seen): {counts}.",
        "",
    ]


def main(full: bool) -> str:
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.redis import RedisSaver as PeerSaver

    from langchain_redis_agent.checkpoint import RedisSaver
    from redis_agent_core.config import RedisAgentConfig

    rounds = 7 if full else 5
    per_round = 60 if full else 30
    threads, turns = (20, 50)
    load = os.getloadavg()
    out = ["# Agent state benchmark (LangGraph checkpointers)", "", machine_note()]
    out.append(f"Load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.")
    out.append("")
    with bench_server() as url:
        raw = redis.Redis.from_url(url)
        raw.flushall()
        cfg = RedisAgentConfig(url=url, namespace="bench")
        ours = RedisSaver(cfg)
        peer = PeerSaver(redis_url=url)
        peer.setup()
        floor = InMemorySaver()
        savers: dict[str, Any] = {"ours": ours, "peer": peer, "InMemorySaver": floor}
        messages = _messages(10)

        # -- put / get latest / list 100 on a thread of 100 checkpoints --
        threads_of = {name: f"t-{name}-{uuid.uuid4().hex[:6]}" for name in savers}
        last = {name: _fill(s, threads_of[name], 100, messages) for name, s in savers.items()}
        spare = {name: f"p-{name}-{uuid.uuid4().hex[:6]}" for name in savers}
        put_cfg = {name: _fill(s, spare[name], 100, messages) for name, s in savers.items()}
        samples: dict[str, dict[str, list[float]]] = {
            op: {n: [] for n in savers} for op in ("put", "get", "list", "list_same")
        }
        step = [1000]

        def timed(fn: Callable[[], object]) -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

        for _ in range(rounds):
            for name, saver in savers.items():
                thread_cfg = {"configurable": {"thread_id": threads_of[name], "checkpoint_ns": ""}}
                for _ in range(per_round):
                    step[0] += 1
                    cp, versions = _checkpoint(step[0], messages)
                    md = {"source": "loop", "step": step[0]}
                    c = put_cfg[name]
                    samples["put"][name].append(
                        timed(lambda s=saver, c=c, cp=cp, v=versions, md=md: s.put(c, cp, md, v))
                    )
                    samples["get"][name].append(timed(lambda s=saver, t=thread_cfg: s.get_tuple(t)))
                for _ in range(max(3, per_round // 6)):
                    samples["list"][name].append(
                        timed(lambda s=saver, t=thread_cfg: list(s.list(t, limit=100)))
                    )
                    if name == "peer":
                        samples["list_same"][name].append(
                            timed(lambda s=saver, t=thread_cfg: _peer_list_revived(s, t))
                        )
        assert all(last.values())
        n_listed = {
            n: len(list(s.list({"configurable": {"thread_id": threads_of[n]}}, limit=100)))
            for n, s in savers.items()
        }
        kinds = {}
        for n, s in savers.items():
            t = {"configurable": {"thread_id": threads_of[n]}}
            got = _peer_list_revived(s, t) if n == "peer" else list(s.list(t, limit=100))
            kinds[n] = type(got[0].checkpoint["channel_values"]["messages"][0]).__name__
            if n != "peer":
                samples["list_same"][n] = samples["list"][n]
        raw_kind = type(
            next(
                peer.list({"configurable": {"thread_id": threads_of["peer"]}}, limit=1)
            ).checkpoint["channel_values"]["messages"][0]
        ).__name__
        assert len(set(kinds.values())) == 1, kinds  # the same output on every side
        rows = []
        for op, label in (
            ("put", "put"),
            ("get", "get latest"),
            ("list", "list 100"),
            ("list_same", "list 100, peer's messages revived (same output)"),
        ):
            ours_ms = _median_ms(samples[op]["ours"])
            peer_ms = _median_ms(samples[op]["peer"])
            floor_ms = _median_ms(samples[op]["InMemorySaver"])
            rows.append(
                (
                    label,
                    f"{ours_ms:.3f} ms",
                    f"{peer_ms:.3f} ms",
                    f"{ours_ms / peer_ms:.2f}x",
                    f"{floor_ms:.3f} ms",
                )
            )
        out.append(f"## Single operations (median of {rounds} interleaved rounds)")
        out.append("")
        out.append(
            table(
                [
                    "operation",
                    "ours",
                    "langgraph-checkpoint-redis",
                    "ratio",
                    "InMemorySaver (floor)",
                ],
                rows,
            )
        )
        out.append("")
        out.append(f"Checkpoints listed: {n_listed}.")
        list_peer = _median_ms(samples["list"]["peer"])
        list_floor = _median_ms(samples["list"]["InMemorySaver"])
        if list_floor > 0.5 * list_peer:
            out.append(
                f"Target list 100 <= 0.5x the peer's `list` ({0.5 * list_peer:.3f} ms) is below "
                f"the floor: InMemorySaver, with no I/O, takes {list_floor:.3f} ms to build the "
                "same messages; against the peer's equal output (next row) the target holds."
            )
        out.append(
            f"Messages in a listed checkpoint: peer `list` {raw_kind}; ours, InMemorySaver and "
            f"the peer revived by its own `_deserialize_channel_values` {kinds['ours']}. "
            "The peer's `list` skips the reviver its `get_tuple` applies, so its "
            "`graph.get_state_history()` returns messages as dicts: the second list row is "
            "the comparison of equal outputs."
        )
        out.append("")

        # -- 20 threads x 50 turns through a graph; memory per checkpoint --
        run_rows = []
        for name, saver in savers.items():
            if name != "InMemorySaver":
                raw.flushall()
                if name == "peer":
                    saver = PeerSaver(redis_url=url)
                    saver.setup()
                else:
                    saver = RedisSaver(RedisAgentConfig(url=url, namespace="bench"))
            time.sleep(0.2)
            before = int(raw.info("memory")["used_memory"])
            graph = _graph(saver)
            start = time.perf_counter()
            for t in range(threads):
                config = {"configurable": {"thread_id": f"run-{t}"}}
                for turn in range(turns):
                    graph.invoke(
                        {"messages": [HumanMessage(f"question {turn} {TEXT}"[:200])]}, config
                    )
            elapsed = time.perf_counter() - start
            count = sum(
                len(list(saver.list({"configurable": {"thread_id": f"run-{t}"}})))
                for t in range(threads)
            )
            after = int(raw.info("memory")["used_memory"])
            per_cp = (after - before) / count if name != "InMemorySaver" else float("nan")
            run_rows.append(
                (
                    name,
                    f"{elapsed:.2f} s",
                    count,
                    f"{elapsed / count * 1000:.2f} ms",
                    f"{per_cp:,.0f} B",
                )
            )
        out.append(
            f"## Agent run: {threads} threads x {turns} turns (one model node, add to messages)"
        )
        out.append("")
        out.append(
            table(
                ["saver", "total", "checkpoints", "per checkpoint", "server memory per checkpoint"],
                run_rows,
            )
        )
        out.append("")
        by = {r[0]: r for r in run_rows}
        t_ours = float(by["ours"][1].split()[0])
        t_peer = float(by["peer"][1].split()[0])
        b_ours = float(by["ours"][4].split()[0].replace(",", ""))
        b_peer = float(by["peer"][4].split()[0].replace(",", ""))
        out.append(
            f"Ratios: run time {t_ours / t_peer:.2f}x, server memory per checkpoint "
            f"{b_ours / b_peer:.2f}x (ours / peer)."
        )
        out.append("")
        out.extend(store_section(url, rounds))
        out.extend(semantic_section(url, rounds))
        load = os.getloadavg()
        out.append(f"Load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.")
        cfg.close()
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    if "--store" in sys.argv:  # the store rows alone
        with bench_server() as url:
            print("\n".join(store_section(url, 5)))
            print("\n".join(semantic_section(url, 5)))
    else:
        print(main(full=False))
