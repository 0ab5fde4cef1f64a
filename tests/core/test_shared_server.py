"""The shared embedded server: one per user and machine, found by every process that
runs without REDIS_URL, persistent, adopted after its starter dies.

Each test gets its own runtime and data dirs (never the user's server); processes
are real subprocesses, and "the server" is killed by the pid it reports itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embedded import ENV_DATA_DIR, ENV_MODE, ENV_RUNTIME_DIR, SharedServer
from redis_agent_core.errors import EmbeddedServerError, RedisUnavailableError
from redis_agent_core.kvstore import KVStore
from redis_agent_core.server import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[2]

# prints the URL it resolved and the pid of the server behind it
WHO = (
    "from redis_agent_core.config import RedisAgentConfig\n"
    "c = RedisAgentConfig(); r = c.get_client()\n"
    "print(c.resolve_url(), r.info('server')['process_id'], flush=True)\n"
)


@dataclass
class Shared:
    env: dict[str, str]
    server: SharedServer

    def run(self, code: str, timeout: float = 60) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", code],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "redis_agent_core.cli", *args],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip


@pytest.fixture
def shared() -> Iterator[Shared]:
    """Env of a process without REDIS_URL in shared mode, in throwaway dirs."""
    home = Path(tempfile.mkdtemp(prefix="rap-sh-"))  # short: socket paths are limited
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({ENV_MODE: "shared", ENV_RUNTIME_DIR: str(home / "run"),
                ENV_DATA_DIR: str(home / "data")})  # fmt: skip
    server = SharedServer(home / "run", home / "data")
    try:
        yield Shared(env, server)
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie of ours counts as gone
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return True
        time.sleep(0.05)
    return False


def test_two_processes_share_one_server_that_outlives_them(shared: Shared) -> None:
    code = WHO + "r.rpush('seen', c.resolve_url())\n"
    # started at once: they race to start it, the start lock makes one win
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=shared.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    (url_a, pid_a), (url_b, pid_b) = (out.split() for out, _ in outs)
    assert url_a == url_b == shared.server.url
    assert pid_a == pid_b, "one server, not one per process"
    client = redis.Redis(unix_socket_path=str(shared.server.socket_path))
    try:  # both exited; the server and what they wrote are still there
        assert client.lrange("seen", 0, -1) == [url_a.encode()] * 2
        assert client.info("server")["process_id"] == int(pid_a) == shared.server.pid
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
    finally:
        client.close()


def test_data_survives_stop_restart_and_a_killed_server(shared: Shared) -> None:
    _, pid = shared.run(WHO + "r.set('kept', 'yes')\n")
    stopped = shared.cli("server", "stop")
    assert stopped.returncode == 0 and f"pid {pid}" in stopped.stdout, stopped.stdout
    assert shared.cli("server", "status").returncode == 3  # not running
    # the next process starts it again, from the AOF
    _, pid2, kept = shared.run(WHO + "print(r.get('kept').decode())\n")
    assert pid2 != pid and kept == "yes"
    # SIGKILL of the server itself (acknowledged writes are in the AOF already)
    shared.run(WHO + "r.set('after-kill', 'yes')\n")
    os.kill(int(pid2), signal.SIGKILL)
    assert _gone(int(pid2))
    _, pid3, value = shared.run(WHO + "print(r.get('after-kill').decode())\n")
    assert pid3 != pid2 and value == "yes"


def test_server_of_a_sigkilled_starter_is_adopted(shared: Shared) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", WHO.replace("print(", "r.set('from', 'starter'); print(")
         + "import time; time.sleep(600)\n"],
        env=shared.env, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert starter.stdout is not None
        _, pid = starter.stdout.readline().split()
    finally:
        os.killpg(starter.pid, signal.SIGKILL)
        starter.wait(30)
    assert shared.server.pid == int(pid), "the pid file names the running server"
    _, pid2, value = shared.run(WHO + "print(r.get('from').decode())\n")
    assert pid2 == pid and value == "starter", "adopted, not replaced"


def test_orphan_without_its_socket_is_replaced_not_doubled(shared: Shared) -> None:
    _, pid = shared.run(WHO + "r.set('kept', 'yes')\n")
    shared.server.socket_path.unlink()  # e.g. a tmp cleaner: nobody can reach it now
    _, pid2, kept = shared.run(WHO + "print(r.get('kept').decode())\n")
    assert pid2 != pid and kept == "yes"
    assert _gone(int(pid)), "the unreachable server was stopped, not left writing the AOF"


def test_a_server_still_exiting_holds_the_data_dir_a_moment_and_is_waited_for(
    shared: Shared,
) -> None:
    # ensure() stops an unreachable server, then locks its data dir: the server no longer
    # counts as live (its main thread a zombie, its memory freed) while its last threads
    # still hold the lock. Under load that window failed the start ("another embedded
    # Redis ... already uses the data dir"); a holder that is no redis-server and lets
    # go after 0.5 s stands for it
    lock = shared.server.data_dir / "server.lock"
    shared.server.data_dir.mkdir(mode=0o700, parents=True)
    hold = "import fcntl, os, sys, time\n" + (
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); print(flush=True); time.sleep(0.5)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        holder.stdout.readline()
        lock.write_text(f"{holder.pid}\n{shared.server.runtime_dir / 'gone.sock'}\n")
        shared.server.ensure()
        assert shared.server.probe() == "up"
    finally:
        holder.kill()
        holder.wait(30)


def test_orphan_whose_runtime_dir_was_removed_is_replaced(shared: Shared) -> None:
    _, pid = shared.run(WHO + "r.set('kept', 'yes')\n")
    shutil.rmtree(shared.server.runtime_dir)  # e.g. $XDG_RUNTIME_DIR removed at logout
    _, pid2, kept = shared.run(WHO + "print(r.get('kept').decode())\n")
    assert pid2 != pid and kept == "yes"
    assert _gone(int(pid)), "the unreachable server was stopped, not left writing the AOF"


def test_app_recovers_when_the_shared_server_comes_back(
    shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (ENV_MODE, ENV_RUNTIME_DIR, ENV_DATA_DIR):
        monkeypatch.setenv(name, shared.env[name])
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = RedisAgentConfig(namespace="rec", retries=0)
    store = KVStore(config=config)
    try:
        store.mset([("k", b"v")])
        assert config.resolve_url() == shared.server.url
        assert shared.cli("server", "stop").returncode == 0
        with pytest.raises(RedisUnavailableError):
            store.mget(["k"])
        assert shared.cli("server", "start").returncode == 0  # or any process needing it
        assert store.mget(["k"]) == [b"v"], "same objects, no restart of the app"
    finally:
        config.close()


def test_status_and_doctor_show_where_it_lives_and_who_uses_it(shared: Shared) -> None:
    shared.server.ensure()
    user = redis.Redis(unix_socket_path=str(shared.server.socket_path))
    # a pack client names itself <program>:<pid> on the embedded server
    app = subprocess.Popen(
        [sys.executable, "-c", WHO + "import time; time.sleep(600)\n"],
        env=shared.env, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert app.stdout is not None
        app.stdout.readline()
        user.client_setname("notebook-1")
        for args in (("server", "status"), ("doctor",)):
            result = shared.cli(*args)
            assert result.returncode == 0, result.stderr
            out = result.stdout
            assert str(shared.server.socket_path) in out and str(shared.server.data_dir) in out
            assert f"pid            {shared.server.pid}" in out
            assert "AOF, fsync every second" in out and "notebook-1" in out
            assert f"python:{app.pid}" in out
    finally:
        user.close()
        app.kill()
        app.wait(30)


def test_api_keys_land_in_the_shared_server_a_service_would_use(shared: Shared) -> None:
    created = shared.cli("keys", "create", "alice")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    check = (
        "import sys\nfrom redis_agent_core.apikeys import ApiKeys\n"
        "print(ApiKeys().verify(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, key],
        env=shared.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "alice" in result.stdout


def test_start_refuses_a_data_dir_held_by_another_server(shared: Shared, tmp_path: Path) -> None:
    shared.server.ensure()
    other_run = Path(tempfile.mkdtemp(prefix="rap-sh-"))
    try:
        other = SharedServer(other_run, shared.server.data_dir)
        with pytest.raises(EmbeddedServerError, match=r"another embedded Redis \(pid \d+, socket "):
            other.ensure()
    finally:
        shutil.rmtree(other_run, ignore_errors=True)


def test_bad_mode_is_a_clear_error(shared: Shared) -> None:
    env = {**shared.env, ENV_MODE: "sharde"}
    result = subprocess.run(
        [sys.executable, "-c", WHO], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "REDIS_AGENT_EMBEDDED='sharde' is not a mode" in result.stderr
    assert "ConfigError" in result.stderr


# -- private servers die with their owner --


def test_private_server_dies_with_its_sigkilled_owner(shared: Shared) -> None:
    env = {**shared.env, ENV_MODE: "private"}
    owner = subprocess.Popen(
        [sys.executable, "-c", WHO + "import time; time.sleep(600)\n"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert owner.stdout is not None
        url, pid = owner.stdout.readline().split()
        assert url != shared.server.url
    finally:
        owner.kill()  # SIGKILL: no atexit, no cleanup code runs
        owner.wait(30)
    assert _gone(int(pid)), "the private redis-server outlived its SIGKILLed owner"
    assert not shared.server.is_running(), "private mode never starts the shared server"
    leftover = Path(url.removeprefix("unix://")).parent
    assert leftover.exists()  # the owner had no chance to clean up
    with EmbeddedRedis():  # the next private server sweeps dead owners' dirs
        assert not leftover.exists()


def test_private_server_started_in_a_thread_outlives_the_thread() -> None:
    box: list[EmbeddedRedis] = []
    worker = threading.Thread(target=lambda: box.append(EmbeddedRedis().start()))
    worker.start()
    worker.join(60)
    server = box[0]
    try:
        client = redis.Redis.from_url(server.url)
        assert client.ping(), "PR_SET_PDEATHSIG must not fire when the starting thread exits"
        client.close()
    finally:
        server.stop()


# -- a worker and an app meet without REDIS_URL (issue 13) --

APP = """
import sys
from redis_agent_core.tasks import get_job, submit_ingestion, wait_for_job
from redis_agent_core.vectors import VectorIndex
index = VectorIndex(sys.argv[1], dims=4, algorithm="flat")
items = [{"id": f"d{i}", "text": f"doc {i}", "vector": [1.0, float(i), 0.5, 0.25]}
         for i in range(20)]
job = wait_for_job(submit_ingestion(index, items, batch_size=8), timeout=120)
print(job.status, job.done, index.count())
"""


@pytest.mark.slow
def test_celery_worker_and_app_complete_a_job_without_redis_url(
    shared: Shared, tmp_path: Path
) -> None:
    namespace = "t" + uuid.uuid4().hex[:10]
    env = {**shared.env, "REDIS_AGENT_NAMESPACE": namespace}
    log = tmp_path / "worker.log"  # a file, not a pipe: a full pipe would stall the worker
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "redis_agent_core.tasks.app", "worker",
             "--pool=solo", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-l", "warning"],
            cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        app = subprocess.run(
            [sys.executable, "-c", APP, "docs"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert app.returncode == 0, app.stderr + log.read_text(errors="replace")
        assert app.stdout.split() == ["succeeded", "20", "20"], log.read_text(errors="replace")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(30)
