"""`redis-agent server`: the embedded server in the foreground, stopped by a signal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_a_port_or_data_dir_the_server_cannot_use_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --port 99999 / -1 exited with "the embedded redis-server exited at start with
    # code 1. Its log: (no log written)"; a --data-dir that cannot be created (a file,
    # a missing parent on a read-only tree) was a FileExistsError traceback, exit 1
    from redis_agent_core.cli import main
    from redis_agent_core.errors import ConfigError
    from redis_agent_core.server import EmbeddedRedis

    a_file = tmp_path / "data"
    a_file.write_text("not a directory")
    for argv, named in [
        (["server", "--port", "99999"], r"--port\) must be a TCP port in 0-65535"),
        (["server", "--port", "-1"], r"--port\) must be a TCP port in 0-65535"),
        (["server", "--data-dir", str(a_file)], r"--data-dir\) .* cannot hold the server's data"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert re.search(named, err) and "Traceback" not in err, err
    with pytest.raises(ConfigError, match="port"):
        EmbeddedRedis(port=True).start()
    assert a_file.read_text() == "not a directory"
