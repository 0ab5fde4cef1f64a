"""Cost of signed task messages (``create_app(task_secret=...)``) per message.

Signing hashes the canonical JSON of the task's arguments as the worker will decode
them (one extra JSON round trip, sorted keys, HMAC-SHA256); the worker does the same
to verify. Compared with what Celery already spends encoding the message body. No
Redis involved: this is CPU per message, on either side.
"""

from __future__ import annotations

import base64
import os

import numpy as np
from kombu.utils.json import dumps

from benchmarks.common import machine_note, median_us, table, time_calls
from redis_agent_core.tasks.signing import sign_task, verify_task

SECRET = os.urandom(32)


def _messages() -> list[tuple[str, str, list[object]]]:
    rng = np.random.default_rng(0)
    vectors = rng.random((100, 384), dtype=np.float32)
    job = {"index": "vector_index", "spec": {"name": "docs", "schema": {}}, "embedder": None}
    docs = [{"id": f"d{i}", "text": "word " * 100, "metadata": {"i": i}} for i in range(64)]
    given = [
        {"id": f"v{i}", "text": "text " * 20, "metadata": {},
         "vector_b64": base64.b64encode(vectors[i].tobytes()).decode()}
        for i in range(100)
    ]  # fmt: skip
    prompts = [{"id": str(i), "prompt": "Summarise this paragraph. " * 8} for i in range(8)]
    batch_job = {"model": "gpt-mini", "model_kwargs": {}, "cache": True, "limiter": "llm"}
    return [
        ("llm batch, 8 prompts", "rap.llm_batch", ["job", batch_job, prompts]),
        ("ingest, 64 docs of 500 chars", "rap.ingest_batch", ["job", job, docs]),
        ("ingest, 100 given 384-d vectors", "rap.ingest_batch", ["job", job, given]),
    ]


def main(full: bool) -> str:
    repeat = 2000 if full else 300
    rows = []
    for label, name, args in _messages():
        encode = median_us(time_calls(lambda a=args: dumps(a), repeat))
        sign = median_us(time_calls(lambda n=name, a=args: sign_task(SECRET, n, a), repeat))
        signature = sign_task(SECRET, name, args)
        verify = median_us(
            time_calls(lambda n=name, a=args, s=signature: verify_task(SECRET, n, a, s), repeat)
        )
        size = len(dumps(args)) / 1024
        rows.append([label, f"{size:.0f}", encode, sign, verify, f"{sign / encode:.1f}"])
    return "\n\n".join(
        [
            "# Signed task messages: CPU per message",
            table(
                ["message", "KiB", "Celery JSON encode µs", "sign µs", "verify µs", "sign ×encode"],
                rows,
            ),
            f"Medians of {repeat} calls. Signing and verifying each cost about two JSON "
            "encodings of the message (a JSON round trip to the wire form, then sorted-key "
            "orjson and HMAC-SHA256); without a task secret nothing is added.",
            machine_note() + f" Load average: {os.getloadavg()[0]:.1f}.",
        ]
    )
