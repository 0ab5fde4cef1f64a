"""Chat history: ours vs langchain-redis, llama-index-storage-chat-store-redis and redisvl.

Same server, same run, same messages (≈ 200-byte texts, human/AI alternating). Measures
opening a session object, appending one message, reading 200 and 2,000 messages into
framework objects, and Redis memory per message; plus the client-side floors that
bound a read (parsing JSON, building LangChain / LlamaIndex message objects).
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import orjson
import redis

from benchmarks.common import bench_server, machine_note, median_us, table, time_calls

warnings.filterwarnings("ignore", category=DeprecationWarning)

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


def _ms(samples: list[float]) -> float:
    return median_us(samples) / 1000


def main(full: bool) -> str:
    from langchain_core.messages import messages_from_dict
    from langchain_redis import RedisChatMessageHistory as LCRedis
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.storage.chat_store.redis import RedisChatStore as LIRedis
    from pydantic import TypeAdapter
    from redisvl.extensions.message_history import MessageHistory

    from langchain_redis_agent import RedisChatMessageHistory
    from llamaindex_redis_agent import RedisChatStore
    from redis_agent_core.config import RedisAgentConfig

    reps = 200 if full else 60
    read_reps = 60 if full else 15
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
        append: dict[str, float] = {
            "ours LangChain (TTL + trim + index)": median_us(
                time_calls(lambda: ours_lc.add_messages([one_lc]), reps)
            ),
            "langchain-redis": median_us(time_calls(lambda: peer_lc.add_messages([one_lc]), reps)),
            "ours LlamaIndex (TTL + trim + index)": median_us(
                time_calls(lambda: ours_li.add_message("append-li", one_li), reps)
            ),
            "llama-index RedisChatStore (TTL)": median_us(
                time_calls(lambda: peer_li.add_message("append-li", one_li), reps)
            ),
            "redisvl MessageHistory": median_us(
                time_calls(
                    lambda: rvl.add_message({"role": "user", "content": one_li.content}), reps
                )
            ),
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

            def timed(fn: Callable[[], list[Any]]) -> tuple[float, int]:
                got = fn()
                return _ms(time_calls(fn, read_reps, 3)), len(got)

            assert o_lc.messages == lc_msgs and ours_li.get_messages(s + "li") == li_msgs
            results = {
                "ours LangChain": timed(lambda o=o_lc: o.messages),
                "langchain-redis": timed(lambda p=p_lc: p.messages),
                "ours LlamaIndex": timed(lambda s=s: ours_li.get_messages(s + "li")),
                "llama-index RedisChatStore": timed(lambda s=s: peer_li.get_messages(s + "li")),
                "redisvl MessageHistory (dicts)": timed(lambda r=r: r.messages),
            }
            read_rows.append((n, results))

            # floors: what any history pays on the client for n messages
            payloads = cfg.get_client().lrange(cfg.keys.history_messages(s), 0, -1)
            li_payloads = ours_li.store.read(s + "li")
            dicts = [orjson.loads(p) for p in payloads]
            ta = TypeAdapter(list[ChatMessage])
            joined = b"[" + b",".join(li_payloads) + b"]"
            floors[n] = {
                "LRANGE only (ours, raw bytes)": _ms(
                    time_calls(lambda s=s: ours_li.store.read(s + "li"), read_reps, 3)
                ),
                "orjson.loads of every payload": _ms(
                    time_calls(lambda p=payloads: [orjson.loads(x) for x in p], read_reps, 3)
                ),
                "LangChain messages_from_dict (parsed dicts)": _ms(
                    time_calls(lambda d=dicts: messages_from_dict(d), read_reps, 3)
                ),
                "LlamaIndex ChatMessage.model_validate_json each": _ms(
                    time_calls(
                        lambda p=li_payloads: [ChatMessage.model_validate_json(x) for x in p],
                        read_reps,
                        3,
                    )
                ),
                "LlamaIndex one validate_json of the list (ours)": _ms(
                    time_calls(lambda j=joined, t=ta: t.validate_json(j), read_reps, 3)
                ),
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
    out.append(
        table(
            ["history", "µs", "× llama-index"],
            [(name, us, us / li_peer) for name, us in append.items()],
        )
    )
    out += [
        "",
        "Ours: one round trip, one Lua script that appends, trims, refreshes the TTL of the "
        "session's keys, updates its metadata and the session index (on a cluster the "
        "index ZADD is pipelined beside the script). "
        "llama-index: RPUSH then EXPIRE (two round trips). Target: ≤ 1.0× llama-index.",
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
    out += [
        "",
        "## Against the targets",
        "",
        f"- open ≤ 50 µs: ours {ours_open:.1f} µs.",
        f"- append ≤ 1.0× llama-index: LlamaIndex adapter "
        f"{append['ours LlamaIndex (TTL + trim + index)'] / li_peer:.2f}×, LangChain adapter "
        f"{append['ours LangChain (TTL + trim + index)'] / li_peer:.2f}×.",
        f"- read 2,000 ≤ 0.5× llama-index with full fidelity: ours {li_ratio:.2f}× "
        f"(LangChain adapter vs langchain-redis: {lc_ratio:.2f}×). Messages are validated "
        "by pydantic exactly as the peer does; the time is dominated by building "
        "`ChatMessage` objects (see floors), which no store can skip without skipping "
        "validation. Our gain comes from one `validate_json` call over the whole list "
        "instead of one per message.",
        "- redisvl `MessageHistory.messages` returns at most its default page, not the "
        "whole session (see 'returned').",
        "",
        f"Run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        "`python -m benchmarks history` (add `--full` for more repetitions).",
    ]
    return "\n".join(out) + "\n"
