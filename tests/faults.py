"""Fault injection on a test's own redis-server: kill, pause, restart on the same
address, fill its memory, make it a read-only (or stale) replica, keep it busy (slow,
or replying BUSY).

Only the process this helper started is ever signalled (by its PID). The server
listens on a fixed loopback port, so a restarted server has the same URL and a
client built before the fault can show recovery without being rebuilt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.server import EmbeddedRedis, ensure_executable, find_binaries
from redis_agent_service.cluster import LocalCluster

#: Runs for ARGV[1] seconds of the server's CPU time.
_BUSY_SCRIPT = "local stop = os.clock() + tonumber(ARGV[1]) while os.clock() < stop do end"


def evict(client: redis.Redis, key: str) -> None:
    """Have the server evict ``key``, as a full server under an evicting policy does: under
    ``volatile-lru`` the only key with a TTL is the one evicted (``allkeys-lru`` evicts
    the same way, but picks its key by sampling)."""
    client.expire(key, 3600)  # the only volatile key: volatile-lru's one candidate
    before = int(client.info("stats")["evicted_keys"])
    policy = client.config_get("maxmemory-policy")["maxmemory-policy"]
    client.config_set("maxmemory-policy", "volatile-lru")
    client.config_set("maxmemory", "1")
    try:
        with contextlib.suppress(redis.ResponseError):  # OOM once nothing is left to evict
            client.set("nudge", "1")
    finally:
        client.config_set("maxmemory", "0")
        client.config_set("maxmemory-policy", policy)
    assert int(client.info("stats")["evicted_keys"]) == before + 1
    assert not client.exists(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FaultyRedis:
    """A private embedded server on ``redis://127.0.0.1:<port>`` that a test breaks.

    ``data_dir``: keep data across :meth:`restart` (AOF); ``None``: every restart
    comes back empty, as a server without persistence does.
    """

    def __init__(self, data_dir: Path | None = None) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.server = EmbeddedRedis(port=self.port, data_dir=data_dir)
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        pid = self.server.pid
        assert pid is not None, "the server is not running"
        return pid

    def config(self, namespace: str = "faults", **overrides: object) -> RedisAgentConfig:
        """A config on this server: short timeouts, no retries, unless overridden."""
        options: dict[str, object] = {
            "socket_timeout": 0.5,
            "socket_connect_timeout": 0.5,
            "retries": 0,
        }
        options.update(overrides)
        return RedisAgentConfig(url=self.url, namespace=namespace, **options)  # type: ignore[arg-type]

    def admin(self) -> redis.Redis:
        """A direct client for reconfiguring the server (not the one under test)."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def _admin_call(self, *args: object) -> object:
        client = self.admin()
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    # -- process faults --
    def start(self) -> FaultyRedis:
        self.server.start()
        return self

    def kill(self) -> None:
        """SIGKILL the server (no shutdown, no save) and wait until the port is closed."""
        self.resume()
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        proc = self.server._proc
        if proc is not None:
            proc.wait(5)
        self.server.stop()  # cleans up the temp dir; the process is already gone

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a hung server)."""
        os.kill(self.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            os.kill(self.pid, signal.SIGCONT)
            self.paused = False

    @contextmanager
    def pausing(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()

    @contextmanager
    def busy(self, seconds: float) -> Iterator[None]:
        """Keep the server busy for at least ``seconds`` with another client's slow script
        (any slow command does the same: a big DEL, KEYS): other clients' commands wait
        behind it, then run. Returns when the script has ended."""
        admin = self.admin()
        # os.clock: TIME is frozen inside a script. No BUSY replies to other clients on a
        # loaded machine, where the script's wall time exceeds its CPU time.
        admin.config_set("busy-reply-threshold", 60_000)
        conn = admin.connection_pool.get_connection()
        try:
            conn.send_command("EVAL", _BUSY_SCRIPT, 0, seconds)
            time.sleep(0.1)  # the server has taken the script up
            yield
            conn.read_response(timeout=60)
        finally:
            admin.connection_pool.release(conn)
            admin.close()

    def restart(self) -> None:
        """Kill the server and start a new one on the same port (empty without data_dir)."""
        if self.server.is_running():
            self.kill()
        self.server = EmbeddedRedis(port=self.port, data_dir=self.data_dir)
        self.server.start()

    # -- write refusals --
    def fill_memory(self) -> None:
        """maxmemory below what is used, noeviction: every write is refused with OOM."""
        self._admin_call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        self._admin_call("CONFIG", "SET", "maxmemory", "1")

    def free_memory(self) -> None:
        self._admin_call("CONFIG", "SET", "maxmemory", "0")

    def make_read_only(self) -> None:
        """Make the server a replica (of a port nothing listens on): writes get READONLY,
        reads keep working on the data it has."""
        self._admin_call("REPLICAOF", "127.0.0.1", str(free_port()))

    def make_primary(self) -> None:
        self._admin_call("REPLICAOF", "NO", "ONE")

    def make_stale_replica(self) -> None:
        """A replica cut off from its primary that refuses stale reads: every data
        command gets MASTERDOWN. :meth:`make_primary` ends it."""
        self._admin_call("CONFIG", "SET", "replica-serve-stale-data", "no")
        self.make_read_only()

    # -- a server that answers only BUSY --
    @contextmanager
    def busy_replies(self) -> Iterator[None]:
        """A Lua script past ``busy-reply-threshold`` (50 ms): every other client gets
        BUSY until the block ends (the script is killed then; 30 s at most)."""
        self._admin_call("CONFIG", "SET", "busy-reply-threshold", "50")
        loop = (
            "local s = tonumber(redis.call('TIME')[1]) "
            "while tonumber(redis.call('TIME')[1]) - s < 30 do end return 1"
        )
        runner = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=60)

        def run() -> None:
            with contextlib.suppress(redis.exceptions.RedisError):  # killed: an error reply
                runner.eval(loop, 0)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        admin = self.admin()
        try:
            deadline = time.monotonic() + 10
            while True:  # until the server says BUSY
                try:
                    admin.ping()
                except redis.exceptions.ResponseError as exc:
                    if "BUSY" in str(exc):
                        break
                    raise
                assert time.monotonic() < deadline, "the script did not make the server busy"
                time.sleep(0.01)
            yield
        finally:
            with contextlib.suppress(redis.exceptions.RedisError):
                admin.script_kill()
            thread.join(10)
            admin.close()
            runner.close()

    def stop(self) -> None:
        self.resume()
        self.server.stop()


@contextmanager
def plain_redis() -> Iterator[str]:
    """A redis-server without modules (so without search) on a loopback port: its URL.
    Stands for a user's plain Redis that the search features cannot use."""
    port = free_port()
    binary = ensure_executable(find_binaries().redis_server)
    args = [
        str(binary),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield url
    finally:
        proc.kill()
        proc.wait(5)


def wait_until_up(url: str, timeout: float = 10.0) -> None:
    """Block until ``url`` answers PING (for tests that restart a server)."""
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        client.close()


class ReplyCutter:
    """A loopback TCP proxy to ``port`` that can lose one reply: after
    :meth:`cut_reply_to`, the first request containing ``pattern`` is forwarded, and
    when the server's reply comes (so the command ran) the client's connection is
    closed instead of passing it on, as a connection that dies after a write ran and
    before its reply arrives. Once per arming; :attr:`cuts` counts them.
    :attr:`reply_delay` (seconds, 0 by default) holds every reply that long before passing
    it on: a command has run while its caller still waits (to cancel it then)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.cuts = 0
        self.reply_delay = 0.0
        self._armed: bytes | None = None
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def config(self, namespace: str = "cut", **overrides: object) -> RedisAgentConfig:
        """A config through the proxy, with redis-py's retries on (the pack's default)."""
        return RedisAgentConfig(url=self.url, namespace=namespace, **overrides)  # type: ignore[arg-type]

    def cut_reply_to(self, pattern: bytes) -> None:
        self._armed = pattern

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self.target))
            self._open += [client, server]
            cut = threading.Event()
            threading.Thread(target=self._requests, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client, cut), daemon=True).start()

    def _requests(self, client: socket.socket, server: socket.socket, cut: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                with self._lock:
                    if self._armed is not None and self._armed in data:
                        self._armed = None
                        cut.set()  # before forwarding: the reply must not slip through
                server.sendall(data)
        self._close(client, server)

    def _replies(self, server: socket.socket, client: socket.socket, cut: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := server.recv(65536):
                if cut.is_set():
                    self.cuts += 1
                    break
                if self.reply_delay:
                    time.sleep(self.reply_delay)
                client.sendall(data)
        self._close(client, server)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()
        self._close(*self._open)


@contextmanager
def cutting_cluster(cluster: LocalCluster) -> Iterator[dict[int, ReplyCutter]]:
    """A :class:`ReplyCutter` in front of each node of ``cluster`` (a cluster of the
    test's own), announced as the node's address (``cluster-announce-port``): a cluster
    client built inside the block reaches every node through it. Keyed by the port a
    client sees (the cutter's: ``get_node_from_key(key).port``)."""
    cutters = {cutter.port: cutter for cutter in map(ReplyCutter, cluster.ports)}
    try:
        for cutter in cutters.values():
            port = cutter.target
            with redis.Redis(port=port) as node:
                node.config_set("cluster-announce-bus-port", port + 10000)
                node.config_set("cluster-announce-port", cutter.port)
        proxies = set(cutters)
        deadline = time.monotonic() + 10
        for port in cluster.ports:  # until every node's slot map names the proxies
            with redis.Redis(port=port) as node:
                while {int(s[2][1]) for s in node.execute_command("CLUSTER", "SLOTS")} != proxies:
                    assert time.monotonic() < deadline, "the nodes did not announce the proxies"
                    time.sleep(0.05)
        yield cutters
    finally:
        for cutter in cutters.values():
            cutter.close()


class SlotMove:
    """Move one slot between the cluster's primaries step by step (MIGRATING/IMPORTING,
    MIGRATE some keys, the rest, SETSLOT NODE); the slot always ends assigned."""

    def __init__(self, cluster: LocalCluster, slot: int) -> None:
        self.nodes = {port: redis.Redis(port=port) for port in cluster.ports}
        self.ids = {p: r.execute_command("CLUSTER", "MYID").decode() for p, r in self.nodes.items()}
        self.slot = slot
        self.src = next(
            p
            for p, r in self.nodes.items()
            if r.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)
        )
        self.dst = next(p for p in self.nodes if p != self.src)

    def start(self, keys: int) -> None:
        """Open the move and carry ``keys`` of the slot's keys over (0: none)."""
        slot, src, dst = self.slot, self.src, self.dst
        self.nodes[dst].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", self.ids[src])
        self.nodes[src].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", self.ids[dst])
        self._carry(keys)

    def _carry(self, count: int) -> None:
        keys = self.nodes[self.src].execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, count)
        self.carry(keys)

    def carry(self, keys: list[Any]) -> None:
        """Carry these keys of the slot over now (a reshard batch: any of its keys, in
        any order), the rest later."""
        if keys:
            self.nodes[self.src].execute_command(
                "MIGRATE", "127.0.0.1", self.dst, "", 0, 5000, "KEYS", *keys
            )

    def finish(self) -> None:
        """Carry the rest over and give the slot to the destination on every node."""
        self._carry(100_000)
        for node in self.nodes.values():
            node.execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", self.ids[self.dst])
        self.src, self.dst = self.dst, self.src  # a next move goes back

    def finish_later(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.finish)
        timer.start()
        return timer

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()
