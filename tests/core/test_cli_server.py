"""`redis-agent server`: the embedded server in the foreground, stopped by a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redis


def test_server_command_prints_a_working_url_and_stops_on_sigterm() -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_agent_core.cli", "server"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("embedded Redis running: unix://"), first
        url = first.split(": ", 1)[1].strip()
        client = redis.Redis.from_url(url)
        assert client.ping()
        assert {m[b"name"] for m in client.module_list()} >= {b"search", b"ReJSON"}
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert not Path(url.removeprefix("unix://")).exists(), "socket removed on stop"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
