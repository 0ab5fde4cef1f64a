"""Chat history: ours vs langchain-redis, llama-index-storage-chat-store-redis and redisvl.

Same server, same run, same messages (≈ 200-byte texts, human/AI alternating). Measures
opening a session object, appending one message, reading 200 and 2,000 messages into
framework objects, and Redis memory per message; plus the client-side floors that
bound a read (parsing JSON, building LangChain / LlamaIndex message objects).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson
import redis
from redis.utils import HIREDIS_AVAILABLE

from benchmarks.common import bench_server, machine_note, median_us, table, time_calls

warnings.filterwarnings("ignore", category=DeprecationWarning)

# the peer's async call alone, encoding apart
ASYNC_RPUSH = "RPUSH of the JSON through redis-py's asyncio client (the peer's call)"
TEXT = "Could you summarise the main points of the quarterly report for the sales team? " * 2


def _lc_messages(n: int) -> list[Any]:
    from langchain_core.messages import AIMessage, HumanMessage

    return [(HumanMessage if i % 2 == 0 else AIMessage)(f"{i} {TEXT}"[:200]) for i in range(n)]


def _li_messages(n: int) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return [
        ChatMessage(role="user" if i % 2 == 0 else "assistant", content=f"{i} {TEXT}"[:200])
        for i in range(n)
    ]


def _memory(client: redis.Redis, pattern: str | None = None, key: str | None = None) -> int:
    if key is not None:
        return int(client.memory_usage(key, samples=0) or 0)
    total = 0
    for k in client.scan_iter(match=pattern, count=1000):
        total += int(client.memory_usage(k, samples=0) or 0)
    return total


def _validate_each(validate: Callable[[Any], Any], payloads: list[bytes]) -> list[Any]:
    return [validate(p) for p in payloads]


def _ms(samples: list[float]) -> float:
    return median_us(samples) / 1000


def interleaved(
    fns: dict[str, Callable[[], object]],
    rounds: int,
    batch: int = 1,
    warmup: int = 2,
    cpu: dict[str, float] | None = None,
) -> dict[str, float]:
    """Median seconds per call of each function, measured in interleaved rounds.

    The machine is shared (2 cores, other jobs): timing one contender after the
    other lets load changes land on one side. Here every round times a batch of each,
    in an order that rotates every round, and the median over rounds is reported.
    ``cpu``, if given, receives the median client CPU seconds per call (the server runs
    in another process: steadier than wall time on the shared machine).
    """
    names = list(fns)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in names}
    cpu_samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = fns[name]
            start, used = time.perf_counter(), time.process_time()
            for _ in range(batch):
                fn()
            samples[name].append((time.perf_counter() - start) / batch)
            cpu_samples[name].append((time.process_time() - used) / batch)
    if cpu is not None:
        cpu.update({name: statistics.median(v) for name, v in cpu_samples.items()})
    return {name: statistics.median(v) for name, v in samples.items()}


async def _ainterleaved(
    fns: dict[str, Callable[[], Awaitable[object]]],
    rounds: int,
    batch: int,
    close: Callable[[], Awaitable[None]],
) -> dict[str, tuple[float, float]]:
    """:func:`interleaved` for coroutine functions: (wall, client CPU) µs per call,
    medians over rounds (the server runs in another process, so CPU time is this
    client's alone, and steadier than wall time on the shared machine); ``close`` runs
    at the end (our config's asyncio pool belongs to this loop)."""
    names = list(fns)
    for fn in fns.values():
        for _ in range(2):
            await fn()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = fns[name]
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(batch):
                await fn()
            samples[name].append(
                ((time.perf_counter() - start) / batch, (time.process_time() - cpu) / batch)
            )
    await close()
    return {
        name: (statistics.median(w for w, _ in v) * 1e6, statistics.median(c for _, c in v) * 1e6)
        for name, v in samples.items()
    }


def main(full: bool) -> str:
    from langchain_core.messages import messages_from_dict
    from langchain_redis import RedisChatMessageHistory as LCRedis
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.storage.chat_store.redis import RedisChatStore as LIRedis
    from pydantic import TypeAdapter
    from redisvl.extensions.message_history import MessageHistory

    from langchain_redis_agent import RedisChatMessageHistory
    from langchain_redis_agent.chat_history import decode_messages as lc_decode
    from langchain_redis_agent.chat_history import encode_messages as lc_encode
    from llamaindex_redis_agent import RedisChatStore
    from llamaindex_redis_agent import chat_store as li_chat_store
    from llamaindex_redis_agent.chat_store import decode_messages as li_decode
    from redis_agent_core.config import RedisAgentConfig

    reps = 200 if full else 60
    append_rounds = 150 if full else 60
    read_rounds = 60 if full else 25
    out: list[str] = ["# Chat history benchmark", "", machine_note(), ""]
    with bench_server() as url:
        raw = redis.Redis.from_url(url)
        raw.flushall()
        # langchain-redis 0.2.6 cannot parse RESP3 FT.INFO replies (redis-py 8's
        # default): give it a RESP2 client, shared by all its histories.
        resp2 = redis.Redis.from_url(url, protocol=2)
        cfg = RedisAgentConfig(url=url, namespace="bench")
        cfg.get_client().ping()  # pool warm, as in a running app
        ours_li = RedisChatStore(cfg, ttl=3600, max_messages=100_000)
        peer_li = LIRedis(redis_url=url, ttl=3600)
        peer_li_defaults = LIRedis(redis_url=url)  # its documented default: no TTL
        one_lc = _lc_messages(1)[0]
        one_li = _li_messages(1)[0]

        # -- open a session object --
        def sid() -> str:
            return uuid.uuid4().hex

        open_rows: list[tuple[str, float]] = [
            (
                "ours: LangChain RedisChatMessageHistory",
                median_us(
                    time_calls(lambda: RedisChatMessageHistory(sid(), config=cfg, ttl=3600), reps)
                ),
            ),
            (
                "langchain-redis RedisChatMessageHistory",
                median_us(
                    time_calls(lambda: LCRedis(sid(), redis_client=resp2, ttl=3600), reps, 3)
                ),
            ),
            (
                "redisvl MessageHistory",
                median_us(
                    time_calls(lambda: MessageHistory("bench_rvl", redis_url=url), reps // 4, 2)
                ),
            ),
            (
                "ours: LlamaIndex RedisChatStore (per app)",
                median_us(time_calls(lambda: RedisChatStore(cfg, ttl=3600), reps)),
            ),
            (
                "llama-index RedisChatStore (per app)",
                median_us(time_calls(lambda: LIRedis(redis_url=url, ttl=3600), reps, 3)),
            ),
        ]

        # -- append one message --
        ours_lc = RedisChatMessageHistory("append-lc", config=cfg, ttl=3600, max_messages=100_000)
        peer_lc = LCRedis("append-lc", redis_client=resp2, ttl=3600)
        rvl = MessageHistory("bench_rvl", redis_url=url, session_tag="append")
        append_fns: dict[str, Callable[[], object]] = {
            "ours LangChain (TTL + trim + index)": lambda: ours_lc.add_messages([one_lc]),
            "langchain-redis": lambda: peer_lc.add_messages([one_lc]),
            "ours LlamaIndex (TTL + trim + index)": lambda: ours_li.add_message(
                "append-li", one_li
            ),
            "llama-index RedisChatStore (TTL)": lambda: peer_li.add_message("append-li", one_li),
            "llama-index RedisChatStore (defaults: no TTL)": lambda: peer_li_defaults.add_message(
                "append-li-defaults", one_li
            ),
            "redisvl MessageHistory": lambda: rvl.add_message(
                {"role": "user", "content": one_li.content}
            ),
        }
        raw.config_resetstat()  # server time per command of the append rounds alone
        append_cpu: dict[str, float] = {}
        append = {
            name: sec * 1e6
            for name, sec in interleaved(
                append_fns, rounds=append_rounds, batch=20, cpu=append_cpu
            ).items()
        }
        stats = raw.info("commandstats")
        server_us = {
            cmd: float(stats[f"cmdstat_{cmd}"]["usec_per_call"]) for cmd in ("evalsha", "rpush")
        }

        # the async forms, interleaved the same way in one event loop, and their parts
        one_payload = li_chat_store.encode_messages([one_li])[0]
        core_store = ours_li.store

        async def rpush_async() -> object:
            return await cfg.get_async_client().execute_command(
                "RPUSH", "append-parts-rpush-async", one_payload
            )

        async def script_generic_async() -> object:
            calls = core_store._append_calls(
                "append-parts-generic-async", [one_payload], time.time_ns() // 1_000_000
            )
            return await core_store._acall("append", *calls)

        append_async = asyncio.run(
            _ainterleaved(
                {
                    "ours LlamaIndex async_add_message (TTL + trim + index)": lambda: (
                        ours_li.async_add_message("append-li-async", one_li)
                    ),
                    "ours LangChain aadd_messages (TTL + trim + index)": lambda: (
                        ours_lc.aadd_messages([one_lc])
                    ),
                    "llama-index async_add_message (defaults: no TTL)": lambda: (
                        peer_li_defaults.async_add_message("append-li-async-defaults", one_li)
                    ),
                    "llama-index async_add_message (TTL)": lambda: peer_li.async_add_message(
                        "append-li-async", one_li
                    ),
                    ASYNC_RPUSH: rpush_async,
                    "our append script on a leased asyncio connection (core, bytes given)": (
                        lambda: core_store.aappend("append-parts-core-async", [one_payload])
                    ),
                    "our append script through redis-py's asyncio execute_command": (
                        script_generic_async
                    ),
                },
                rounds=append_rounds,
                batch=20,
                close=cfg.aclose,
            )
        )

        # where an append's time goes: the parts of ours and of the peer's call, apart
        client = cfg.get_client()
        parts_fns: dict[str, Callable[[], object]] = {
            "RPUSH of the JSON through redis-py (the peer's call, encoding apart)": partial(
                client.execute_command, "RPUSH", "append-parts-rpush", one_payload
            ),
            "our append script, pre-packed on a leased connection (core, bytes given)": partial(
                core_store.append, "append-parts-core", [one_payload]
            ),
            "our append script through redis-py's execute_command (the generic path)": lambda: (
                core_store._call(
                    "append",
                    *core_store._append_calls(
                        "append-parts-generic", [one_payload], time.time_ns() // 1_000_000
                    ),
                )
            ),
            "LlamaIndex model_dump_json().encode() (the peer's encoding)": lambda: (
                one_li.model_dump_json().encode()
            ),
            "LlamaIndex encode_messages (ours)": partial(li_chat_store.encode_messages, [one_li]),
            "LangChain encode_messages (ours)": partial(lc_encode, [one_lc]),
        }
        append_parts = {
            name: sec * 1e6
            for name, sec in interleaved(parts_fns, rounds=append_rounds, batch=20).items()
        }

        # -- read n messages --
        read_rows = []
        mem_rows = []
        floors: dict[int, dict[str, float]] = {}
        for n in (200, 2000):
            lc_msgs, li_msgs = _lc_messages(n), _li_messages(n)
            s = f"read{n}"
            o_lc = RedisChatMessageHistory(s, config=cfg)
            o_lc.add_messages(lc_msgs)
            p_lc = LCRedis(s, redis_client=resp2)
            p_lc.add_messages(lc_msgs)
            ours_li.set_messages(s + "li", li_msgs)
            peer_pipe = raw.pipeline(transaction=False)  # peer's set_messages: 1 RT/message
            for m in li_msgs:
                peer_pipe.rpush(s + "li", m.model_dump_json())
            peer_pipe.execute()
            r = MessageHistory(f"rvl{n}", redis_url=url, session_tag=s)
            r.add_messages([{"role": "user", "content": m.content} for m in li_msgs])

            assert o_lc.messages == lc_msgs and ours_li.get_messages(s + "li") == li_msgs
            read_fns: dict[str, Callable[[], list[Any]]] = {
                "ours LangChain": lambda o=o_lc: o.messages,
                "langchain-redis": lambda p=p_lc: p.messages,
                "ours LlamaIndex": lambda s=s: ours_li.get_messages(s + "li"),
                "llama-index RedisChatStore": lambda s=s: peer_li.get_messages(s + "li"),
                "redisvl MessageHistory (dicts)": lambda r=r: r.messages,
            }
            counts = {name: len(fn()) for name, fn in read_fns.items()}
            timings = interleaved(read_fns, rounds=read_rounds)  # type: ignore[arg-type]
            results = {name: (sec * 1000, counts[name]) for name, sec in timings.items()}
            read_rows.append((n, results))

            # floors: what any history pays on the client for n messages
            payloads = cfg.get_client().lrange(cfg.keys.history_messages(s), 0, -1)
            li_payloads = ours_li.store.read(s + "li")
            dicts = [orjson.loads(p) for p in payloads]
            ta = TypeAdapter(list[ChatMessage])
            joined = b"[" + b",".join(li_payloads) + b"]"
            common = li_chat_store._COMMON
            assert common is not None
            floor_fns: dict[str, Callable[[], object]] = {
                "LRANGE only (ours, raw bytes)": lambda s=s: ours_li.store.read(s + "li"),
                "orjson.loads of every payload": lambda p=payloads: [orjson.loads(x) for x in p],
                "LangChain messages_from_dict (parsed dicts)": lambda d=dicts: messages_from_dict(
                    d
                ),
                "LangChain orjson + messages_from_dict (ours, no Redis)": lambda p=payloads: (
                    lc_decode("s", p)
                ),
                "LlamaIndex ChatMessage.model_validate_json each (peer's decode)": partial(
                    _validate_each, ChatMessage.model_validate_json, li_payloads
                ),
                "LlamaIndex TypeAdapter(list[ChatMessage]) one call": partial(
                    ta.validate_json, joined
                ),
                "LlamaIndex common-shape schema + fallback (ours, no Redis)": partial(
                    li_decode, "k", li_payloads
                ),
                "LlamaIndex common-shape schema alone": partial(
                    _validate_each, common.validate_json, li_payloads
                ),
            }
            floors[n] = {
                name: sec * 1000 for name, sec in interleaved(floor_fns, rounds=read_rounds).items()
            }
            if n == 2000:
                mem_rows = [
                    ("ours LangChain", _memory(raw, key=cfg.keys.history_messages(s)) / n),
                    ("langchain-redis (JSON doc + index)", _memory(raw, f"chat:{s}:*") / n),
                    ("ours LlamaIndex", _memory(raw, key=cfg.keys.history_messages(s + "li")) / n),
                    ("llama-index RedisChatStore", _memory(raw, key=s + "li") / n),
                    ("redisvl MessageHistory (hash)", _memory(raw, f"rvl{n}:*") / n),
                ]
        cfg.close()
        raw.close()
        resp2.close()

    # -- report --
    out += ["## Open a session object (µs, median)", ""]
    ours_open = open_rows[0][1]
    # ratio against ours of the same kind: per-session objects vs per-app stores
    base = [ours_open, ours_open, ours_open, open_rows[3][1], open_rows[3][1]]
    out.append(
        table(
            ["object", "µs", "× ours"],
            [(name, us, us / b) for (name, us), b in zip(open_rows, base, strict=True)],
        )
    )
    out += [
        "",
        "Ours does no I/O and opens no connection when built (histories share the config's "
        "pool). The peers build a client (and langchain-redis / redisvl check or create a "
        "search index) per object. Target: ≤ 50 µs.",
        "",
        "## Append one message (µs, median)",
        "",
    ]
    li_peer = append["llama-index RedisChatStore (TTL)"]
    li_bare = append["llama-index RedisChatStore (defaults: no TTL)"]
    a_bare = append_async["llama-index async_add_message (defaults: no TTL)"]
    a_ours = append_async["ours LlamaIndex async_add_message (TTL + trim + index)"]
    bare_cpu = append_cpu["llama-index RedisChatStore (defaults: no TTL)"]
    out.append(
        table(
            [
                "history",
                "µs",
                "× llama-index (TTL)",
                "× llama-index (defaults)",
                "client CPU µs",
                "CPU × llama-index (defaults)",
            ],
            [
                (
                    name,
                    us,
                    us / li_peer,
                    us / li_bare,
                    append_cpu[name] * 1e6,
                    append_cpu[name] / bare_cpu,
                )
                for name, us in append.items()
            ],
        )
    )
    out += [
        "",
        "Ours: one round trip, one Lua script that appends, trims, refreshes the TTL of the "
        "session's keys, updates its metadata and the session index (on a cluster the "
        "index ZADD is pipelined beside the script). "
        "llama-index: RPUSH then EXPIRE (two round trips) when given a TTL; at its "
        "defaults one RPUSH and no expiry, trim or index. Target: ≤ 1.0× llama-index.",
        "",
        "### Async forms (µs, median, interleaved rounds in one event loop)",
        "",
        table(
            [
                "history (the last three: parts, encoding apart)",
                "µs",
                "client CPU µs",
                "× llama-index (defaults)",
                "CPU × llama-index (defaults)",
            ],
            [
                (name, us, cpu, us / a_bare[0], cpu / a_bare[1])
                for name, (us, cpu) in append_async.items()
            ],
        ),
        "",
        "An async plain append on one node sends the same script call pre-packed on a "
        "connection leased from the event loop's asyncio pool (`fastpath.AsyncLease`: at "
        "most 4 per config and loop), written on the connection's stream: redis-py's "
        "asyncio `execute_command` adds pool locking, a retry wrapper and a "
        "`send_packed_command` that, with a socket timeout set, runs the write as a task "
        "under `wait_for` (an extra event-loop turn on Python 3.11). NOSCRIPT, a closed "
        "or dropped connection, every leased connection busy, or a cluster take redis-py's "
        "path; a call cancelled while its reply is unread drops its connection. "
        f"Target ≤ 1.0× llama-index at its defaults: {a_ours[0] / a_bare[0]:.2f}× "
        f"(client CPU {a_ours[1] / a_bare[1]:.2f}×).",
        "",
        "### Where an append's time goes (µs, median, interleaved rounds)",
        "",
        table(["part", "µs"], list(append_parts.items())),
        "",
        table(
            ["server time per call, during the append rounds above (INFO commandstats)", "µs"],
            [
                (
                    "EVALSHA: our append script (RPUSH, trim, seq, 3 TTLs, index; prune 1 in 16)",
                    server_us["evalsha"],
                ),
                ("RPUSH: llama-index's append", server_us["rpush"]),
            ],
        ),
        "",
        "A sync append on one node sends its script call pre-packed on a connection leased "
        "from the client's pool (`redis_agent_core.fastpath`, as the exact cache and the "
        "rate limiter): redis-py's generic `execute_command` (pool bookkeeping, a `poll()` "
        "health check, packing, retry wrapper) costs more on the client than the whole "
        "script on the server (async appends: the same on the event loop's own lease, "
        "above). Anything else (a cluster, NOSCRIPT, a dropped connection) takes "
        "redis-py's path with its retries. The LlamaIndex adapter "
        "writes a text message's JSON with orjson (byte for byte `model_dump_json`; other "
        "shapes through pydantic's serializer) and reads its core store past pydantic's "
        "private-attribute lookup (~5 µs a read).",
        "",
        "## Read all messages (ms, median; messages returned)",
        "",
    ]
    rows = []
    for n, results in read_rows:
        li = results["llama-index RedisChatStore"][0]
        for name, (ms, count) in results.items():
            rows.append((n, name, ms, f"{count:,}", ms / li))
    out.append(table(["messages", "history", "ms", "returned", "× llama-index"], rows))
    out += ["", "## Floors of a read (ms, median)", ""]
    frows = [(n, name, ms) for n, f in floors.items() for name, ms in f.items()]
    out.append(table(["messages", "step", "ms"], frows))
    out += ["", "## Redis memory per message (bytes, 2,000-message session)", ""]
    out.append(table(["history", "bytes/message"], [(n, float(b)) for n, b in mem_rows]))
    ours2k = dict(read_rows[1][1])
    li_ratio = ours2k["ours LlamaIndex"][0] / ours2k["llama-index RedisChatStore"][0]
    lc_ratio = ours2k["ours LangChain"][0] / ours2k["langchain-redis"][0]
    f2k = floors[2000]
    lrange = f2k["LRANGE only (ours, raw bytes)"]
    li_floor = lrange + f2k["LlamaIndex common-shape schema alone"]
    lc_floor = (
        lrange
        + f2k["orjson.loads of every payload"]
        + f2k["LangChain messages_from_dict (parsed dicts)"]
    )
    li_peer2k = ours2k["llama-index RedisChatStore"][0]
    out += [
        "",
        "## Against the targets",
        "",
        f"- open ≤ 50 µs: ours {ours_open:.1f} µs.",
        f"- append ≤ 1.0× llama-index (interleaved rounds, median): LlamaIndex adapter "
        f"{append['ours LlamaIndex (TTL + trim + index)'] / li_peer:.2f}×, LangChain adapter "
        f"{append['ours LangChain (TTL + trim + index)'] / li_peer:.2f}×; against the "
        "peer at its defaults (a bare RPUSH): LlamaIndex adapter "
        f"{append['ours LlamaIndex (TTL + trim + index)'] / li_bare:.2f}×, LangChain adapter "
        f"{append['ours LangChain (TTL + trim + index)'] / li_bare:.2f}×; async forms "
        f"(LlamaIndex `async_add_message`) {a_ours[0] / a_bare[0]:.2f}× the peer's at its "
        f"defaults (client CPU {a_ours[1] / a_bare[1]:.2f}×).",
        f"- read 2,000 ≤ 0.5× llama-index with full fidelity: ours {li_ratio:.2f}× "
        f"({ours2k['ours LlamaIndex'][0]:.1f} vs {li_peer2k:.1f} ms). Every message is "
        "validated by pydantic: the common shape (text blocks) by a narrow schema that "
        "builds the same objects (LlamaIndex's own TextBlock schema; skips "
        "`ChatMessage.__init__`, which re-validates the parsed dict in Python mode), "
        "anything else by `ChatMessage.model_validate_json` "
        "(tests/history/test_fast_decode.py compares both over every block shape). "
        f"Floor of this design: LRANGE + common-shape schema ≈ {li_floor:.1f} ms "
        f"= {li_floor / li_peer2k:.2f}× the peer (floors are timed apart from the reads, "
        "so they move with the machine's load); the LRANGE reply parsing in redis-py "
        f"({'hiredis' if HIREDIS_AVAILABLE else 'pure-Python parser'}) is shared with the peer.",
        f"- LangChain read 2,000: ours {ours2k['ours LangChain'][0]:.1f} ms = {lc_ratio:.2f}× "
        f"langchain-redis; floor LRANGE + orjson + `messages_from_dict` ≈ {lc_floor:.1f} ms "
        f"(ours is {ours2k['ours LangChain'][0] / lc_floor:.2f}× that floor; "
        "`messages_from_dict` is most of it).",
        "- redisvl `MessageHistory.messages` returns at most its default page, not the "
        "whole session (see 'returned').",
        "",
        f"Run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        "`python -m benchmarks history` (add `--full` for more repetitions).",
    ]
    return "\n".join(out) + "\n"
