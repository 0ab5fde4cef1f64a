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


_AS_ANOTHER_USER = """
import os, sys
from redis_agent_core.cli import main
if os.geteuid() == 0:  # root writes to any directory: be a user who cannot
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
sys.exit(main(["server", "--data-dir", sys.argv[1]]))
"""


def test_a_data_dir_this_user_cannot_write_to_is_refused_before_start() -> None:
    """review28: an existing read-only ``--data-dir`` passed the check (``mkdir``
    with ``exist_ok``), and the server it started could not write its AOF. Now: a
    ConfigError naming ``--data-dir`` before anything starts, exit 2. (Run in a child
    that is not root: root may write to a read-only directory.)"""
    import tempfile

    outer = Path(tempfile.mkdtemp(prefix="rap-ro-"))  # not under pytest's root-only tmp
    read_only = outer / "data"
    try:
        outer.chmod(0o755)
        read_only.mkdir(mode=0o555)
        read_only.chmod(0o555)
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        done = subprocess.run(
            [sys.executable, "-c", _AS_ANOTHER_USER, str(read_only)],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert re.search(r"--data-dir\) .* cannot hold the server's data", done.stderr)
        assert "Permission denied" in done.stderr and list(read_only.iterdir()) == []
    finally:
        if read_only.exists():
            read_only.chmod(0o755)
        for path in sorted(outer.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        outer.rmdir()
