"""A local Redis Cluster of three module-less nodes on loopback, for tests and demos.

Real Redis Cluster semantics (slots, MOVED, CROSSSLOT) with the embedded
redis-server binary; search is not available on it (the module indexes one node).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from redis_agent_core.errors import EmbeddedServerError
from redis_agent_core.server import ensure_executable, find_binaries

__all__ = ["LocalCluster"]

_SLOTS = 16384


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """Ports whose cluster-bus port (port + 10000) is free too, so both stay < 65536."""
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < count:
        port = rng.randrange(20000, 50000)
        if port not in ports and _port_free(port) and _port_free(port + 10000):
            ports.append(port)
    return ports


@dataclass
class LocalCluster:
    """Three redis-server processes on 127.0.0.1 joined into one cluster."""

    nodes: int = 3
    start_timeout: float = 20.0
    #: more redis-server arguments for every node (``"--enable-debug-command", "yes"``)
    server_args: tuple[str, ...] = ()
    ports: list[int] = field(default_factory=list, init=False)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False, repr=False)
    _workdir: Path | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """A seed URL with the cluster flag understood by :class:`RedisAgentConfig`."""
        if not self.ports:
            raise EmbeddedServerError("the cluster is not running: call start() first")
        return f"redis://127.0.0.1:{self.ports[0]}?cluster=true"

    def start(self, attempts: int = 3) -> LocalCluster:
        """Start the nodes and form the cluster; retried on a port race with another process."""
        for attempt in range(attempts):
            try:
                return self._start_once()
            except EmbeddedServerError:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> LocalCluster:
        server = ensure_executable(find_binaries().redis_server)
        self._workdir = Path(tempfile.mkdtemp(prefix="redis-agent-cluster-"))
        self.ports = _free_ports(self.nodes)
        try:
            for port in self.ports:
                node_dir = self._workdir / str(port)
                node_dir.mkdir()
                self._procs.append(
                    subprocess.Popen(
                        [
                            str(server),
                            "--port",
                            str(port),
                            "--bind",
                            "127.0.0.1",
                            "--cluster-enabled",
                            "yes",
                            "--cluster-config-file",
                            str(node_dir / "nodes.conf"),
                            "--dir",
                            str(node_dir),
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--logfile",
                            str(node_dir / "redis.log"),
                            "--daemonize",
                            "no",
                            *self.server_args,
                        ],
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            clients = [self._wait_ping(i) for i in range(len(self.ports))]
            per = _SLOTS // self.nodes
            for i, client in enumerate(clients):
                first = i * per
                last = _SLOTS - 1 if i == self.nodes - 1 else (i + 1) * per - 1
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
            for client in clients[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", self.ports[0])
            self._wait_ok(clients)
            for client in clients:
                client.close()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ping(self, index: int) -> redis.Redis:
        port, proc = self.ports[index], self._procs[index]
        deadline = time.monotonic() + self.start_timeout
        client = redis.Redis(port=port, socket_timeout=2)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                assert self._workdir is not None
                log = (self._workdir / str(port) / "redis.log").read_text(errors="replace")
                raise EmbeddedServerError(
                    f"cluster node on port {port} exited at start. Its log:\n{log[-2000:]}"
                )
            try:
                client.ping()
                return client
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)
        raise EmbeddedServerError(f"cluster node on port {port} did not answer PING")

    def _wait_ok(self, clients: list[redis.Redis]) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            states = []
            for client in clients:
                info = client.execute_command("CLUSTER", "INFO")
                text = info.decode() if isinstance(info, bytes) else str(info)
                known = f"cluster_known_nodes:{self.nodes}" in text
                states.append("cluster_state:ok" in text and known)
            if all(states):
                return
            time.sleep(0.05)
        raise EmbeddedServerError("the local cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._procs.clear()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self.ports = []

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
