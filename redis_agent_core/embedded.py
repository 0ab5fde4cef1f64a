"""The default Redis when no URL is given: one embedded server per user and machine.

Mode ``REDIS_AGENT_EMBEDDED``:

- ``shared`` (default): one persistent server per user and machine. The first process
  that needs it starts it; every other process (a Celery worker and the app that
  enqueues, two notebooks) finds it at a well-known socket. It runs in a session of
  its own, outlives the processes that use it and keeps its data (AOF, fsync every
  second) until ``redis-agent server stop``.
- ``private``: one throwaway server per process, no persistence, stopped at exit and
  killed with its owner. For tests.

Where it lives (each overridable by environment):

- runtime dir (``REDIS_AGENT_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/redis-agent``, else
  ``/tmp/redis-agent-<uid>``): ``redis.sock``, ``redis.pid``, ``redis.log`` and
  ``start.lock`` (an flock that serialises processes racing to start it);
- data dir (``REDIS_AGENT_DATA_DIR``, else ``$XDG_DATA_HOME/redis-agent``, else
  ``~/.local/share/redis-agent``): the AOF, and ``server.lock``, an flock the running
  server itself holds (inherited), so two servers never write the same AOF.

A server whose starter was SIGKILLed keeps running and is adopted by the next process
(same socket; its pid is in ``redis.pid``). This module registers the embedded server
as the config's URL fallback: :mod:`.config` never imports it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import set_url_fallback
from .errors import ConfigError, EmbeddedServerError
from .redis_errors import UNAVAILABLE, fault_kind

try:
    import fcntl
except ImportError:  # Windows: the embedded server exists for Linux only; REDIS_URL still works
    fcntl = None  # type: ignore[assignment]

from .server import (
    EmbeddedBinaries,
    EmbeddedRedis,
    find_binaries,
    log_tail,
    redis_args,
    wait_ready,
)

__all__ = [
    "SharedServer",
    "embedded_mode",
    "get_embedded_server",
    "stop_embedded_server",
]

ENV_MODE = "REDIS_AGENT_EMBEDDED"
ENV_RUNTIME_DIR = "REDIS_AGENT_RUNTIME_DIR"
ENV_DATA_DIR = "REDIS_AGENT_DATA_DIR"

Mode = Literal["shared", "private"]

# a unix socket path longer than this is refused by the kernel (sun_path is 108 bytes)
_MAX_SOCKET_PATH = 107


def embedded_mode() -> Mode:
    """``REDIS_AGENT_EMBEDDED``: ``shared`` (the default) or ``private``."""
    raw = os.environ.get(ENV_MODE, "")
    value = raw.strip().lower() or "shared"
    if value not in ("shared", "private"):
        raise ConfigError(
            f"{ENV_MODE}={raw!r} is not a mode: use 'shared' (one persistent server per "
            "user and machine, the default) or 'private' (a throwaway server per process)"
        )
    return "shared" if value == "shared" else "private"


def default_runtime_dir() -> Path:
    """Where the socket, pid file, log and start lock live."""
    if os.environ.get(ENV_RUNTIME_DIR):
        return Path(os.environ[ENV_RUNTIME_DIR])
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "redis-agent"
    return Path(f"/tmp/redis-agent-{os.getuid()}")


def default_data_dir() -> Path:
    """Where the shared server keeps its AOF."""
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR])
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "redis-agent"


def _own_dir(path: Path) -> Path:
    """Create ``path`` (mode 700) and check that it is ours: in /tmp another user could
    have created it first to receive our data."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise EmbeddedServerError(
            f"{path} belongs to another user (uid {st.st_uid}): refusing to put the embedded "
            f"server there. Fix: set {ENV_RUNTIME_DIR} / {ENV_DATA_DIR} to a directory of yours"
        )
    if st.st_mode & 0o077:
        path.chmod(0o700)
    return path


def _is_redis_server(pid: int) -> bool:
    """Whether ``pid`` is a live redis-server (not a zombie, not a recycled pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X") and b"redis-server" in cmdline


def _try_flock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None if someone holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


ProbeResult = Literal["up", "loading", "down", "hung"]


@dataclass
class SharedServer:
    """The per-user, persistent embedded server at a well-known place.

    :meth:`ensure` starts it or adopts the one running; :meth:`stop` stops it for
    everyone (its data stays in ``data_dir``).
    """

    runtime_dir: Path
    data_dir: Path
    binaries: EmbeddedBinaries | None = None
    start_timeout: float = 60.0  # replaying a large AOF takes a while

    @classmethod
    def from_env(cls) -> SharedServer:
        return cls(default_runtime_dir(), default_data_dir())

    @property
    def socket_path(self) -> Path:
        return self.runtime_dir / "redis.sock"

    @property
    def pid_path(self) -> Path:
        return self.runtime_dir / "redis.pid"

    @property
    def log_path(self) -> Path:
        return self.runtime_dir / "redis.log"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        """The pid in ``redis.pid`` if that process is a live redis-server."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_redis_server(pid) else None

    def is_running(self) -> bool:
        """Cheap check (no I/O on the socket): socket there and server process alive."""
        return self.socket_path.exists() and self.pid is not None

    def _client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def probe(self, timeout: float = 2.0) -> ProbeResult:
        """``up``, ``loading`` (replaying its AOF), ``down`` or ``hung`` (paused)."""
        if not self.socket_path.exists():
            return "down"
        client = self._client(timeout)
        try:
            client.ping()
            return "up"
        except UNAVAILABLE as exc:  # BusyLoadingError is a ConnectionError
            kind = fault_kind(exc)
            return "loading" if kind == "loading" else "hung" if kind == "timeout" else "down"
        finally:
            client.close()

    @contextlib.contextmanager
    def _start_lock(self) -> Iterator[None]:
        fd = os.open(self.runtime_dir / "start.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held by another starter for at most its start
            yield
        finally:
            os.close(fd)  # releases the lock

    def ensure(self) -> SharedServer:
        """Make sure the server runs and answers; start it if nobody has."""
        if self.probe() == "up":
            return self
        _own_dir(self.runtime_dir)
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            raise EmbeddedServerError(
                f"socket path {self.socket_path} is longer than {_MAX_SOCKET_PATH} bytes "
                f"(the kernel limit). Fix: set {ENV_RUNTIME_DIR} to a shorter directory"
            )
        with self._start_lock():
            state = self.probe()
            if state == "up":
                return self
            pid = self.pid
            if state == "hung":
                raise EmbeddedServerError(
                    f"the shared embedded Redis (pid {pid}, {self.socket_path}) does not answer: "
                    "paused or overloaded. Fix: resume it, or `redis-agent server stop`"
                )
            if state == "loading" or (pid is not None and self.socket_path.exists()):
                # adopted: a server started by a process that died (or is still loading)
                self._wait_ready(pid)
                return self
            if pid is not None:  # alive but its socket was removed: nobody can reach it
                self._terminate(pid)
            self._start()
        return self

    def _wait_ready(self, pid: int | None) -> None:
        def gone() -> str | None:
            current = self.pid
            return None if current is not None else "exited (no live pid in redis.pid)"

        wait_ready(self.socket_path, self.start_timeout, gone, lambda: log_tail(self.log_path))

    @property
    def _server_lock_path(self) -> Path:
        return self.data_dir / "server.lock"

    def _lock_data_dir(self) -> int:
        """Take the data dir's lock for a new server, or explain who holds it.

        The holder is a live server: if its socket is gone (its runtime dir was removed,
        e.g. at logout) nobody can reach it, so it is stopped (AOF flushed) and replaced.
        """
        server_lock = _try_flock(self._server_lock_path)
        if server_lock is not None:
            return server_lock
        try:  # written by the starter: "<pid>\n<socket>"
            pid_text, socket = self._server_lock_path.read_text().split("\n")[:2]
            pid = int(pid_text)
        except (OSError, ValueError):
            pid, socket = None, "(unknown)"
        if pid is not None and not Path(socket).exists():
            if _is_redis_server(pid):
                self._terminate(pid)
            # a server that no longer counts as live (its main thread a zombie, its memory
            # freed: ensure() may have stopped it just now) holds the lock until its last
            # thread exits, and its AOF-rewrite child a moment longer: wait for it
            deadline = time.monotonic() + 10
            while server_lock is None and time.monotonic() < deadline:
                time.sleep(0.02)
                server_lock = _try_flock(self._server_lock_path)
            if server_lock is not None:
                return server_lock
        raise EmbeddedServerError(
            f"another embedded Redis (pid {pid}, socket {socket}) already uses the data dir "
            f"{self.data_dir}: it was started with another runtime dir. Fix: use the same "
            f"{ENV_RUNTIME_DIR} / XDG_RUNTIME_DIR, or stop that server"
        )

    def _start(self) -> None:
        _own_dir(self.data_dir)
        server_lock = self._lock_data_dir()
        binaries = self.binaries or find_binaries()
        with contextlib.suppress(FileNotFoundError):
            self.pid_path.unlink()  # a stale one (SIGKILLed server)
        args = redis_args(
            binaries, socket=self.socket_path, logfile=self.log_path, workdir=self.data_dir,
            data_dir=self.data_dir,
            extra=("--daemonize", "yes", "--pidfile", str(self.pid_path)),
        )  # fmt: skip
        try:
            # daemonize: redis forks into a session of its own and the launcher exits,
            # so the server is nobody's child (no zombie, no signal from our terminal);
            # it inherits server_lock and holds it for its whole life
            launched = subprocess.run(
                args, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                pass_fds=(server_lock,),
            )  # fmt: skip
        finally:
            os.close(server_lock)
        if launched.returncode != 0:
            output = (launched.stdout + launched.stderr).decode(errors="replace").strip()
            raise EmbeddedServerError(
                f"the embedded redis-server refused to start (code {launched.returncode}): "
                f"{output or log_tail(self.log_path)}"
            )
        deadline = time.monotonic() + self.start_timeout
        while self.pid is None:  # the daemon writes its pid file right after forking
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"the embedded redis-server wrote no pid file. Its log:\n"
                    f"{log_tail(self.log_path)}"
                )
            time.sleep(0.01)
        # who holds the data dir, for a process that cannot reach this socket
        self._server_lock_path.write_text(f"{self.pid}\n{self.socket_path}\n")
        self._wait_ready(self.pid)

    def _terminate(self, pid: int, timeout: float = 10.0) -> None:
        """SIGTERM (Redis flushes the AOF and exits), SIGKILL if it does not."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + timeout
            while _is_redis_server(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if not _is_redis_server(pid):
                return
        raise EmbeddedServerError(f"could not stop the embedded redis-server (pid {pid})")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the server for everyone (data stays on disk); return its pid, or None
        if none was running."""
        _own_dir(self.runtime_dir)
        with self._start_lock():
            pid = self.pid
            if pid is None:
                return None
            if self.probe() == "up":
                client = self._client()
                with contextlib.suppress(*UNAVAILABLE):
                    client.shutdown()  # fsyncs the AOF; no RDB is written (save "")
                client.close()
            deadline = time.monotonic() + timeout
            while _is_redis_server(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _is_redis_server(pid):
                self._terminate(pid)
            with contextlib.suppress(FileNotFoundError):
                self.pid_path.unlink()
            return pid

    def status(self) -> dict[str, Any]:
        """Where the server lives, and (if it answers) its state and connected clients."""
        state = self.probe()
        info: dict[str, Any] = {
            "state": "not running" if state == "down" else state,
            "url": self.url,
            "pid": self.pid,
            "runtime_dir": str(self.runtime_dir),
            "data_dir": str(self.data_dir),
            "log": str(self.log_path),
        }
        if state != "up":
            return info
        client = self._client()
        try:
            server = client.info("server")
            persistence = client.info("persistence")
            memory = client.info("memory")
            clients = client.client_list()
            me = client.client_id()
        finally:
            client.close()
        info.update(
            pid=server.get("process_id", info["pid"]),
            redis_version=server.get("redis_version"),
            uptime_s=server.get("uptime_in_seconds"),
            aof=bool(persistence.get("aof_enabled")),
            memory=memory.get("used_memory_human"),
            clients=[
                {
                    "id": c.get("id"),
                    "name": c.get("name") or c.get("lib-name") or "",
                    "age_s": c.get("age"),
                    "idle_s": c.get("idle"),
                    "cmd": c.get("cmd"),
                }
                for c in clients
                if str(c.get("id")) != str(me)
            ],
        )
        return info


# -- the process's default server --

_private: EmbeddedRedis | None = None
_shared: SharedServer | None = None
_lock = threading.Lock()
_atexit_registered = False


def get_embedded_server() -> EmbeddedRedis | SharedServer:
    """The embedded server this process uses, started if needed.

    Shared mode: the per-user server (adopted or started; it outlives this process).
    Private mode: one server for this process, restarted if it died, stopped at exit.
    """
    global _private, _shared, _atexit_registered
    mode = embedded_mode()
    with _lock:
        if mode == "shared":
            if fcntl is None:
                find_binaries()  # raises, naming the platform and the fix (REDIS_URL)
                raise EmbeddedServerError("the shared embedded server needs flock (POSIX)")
            wanted = SharedServer.from_env()
            if _shared != wanted:  # first call, or the env points elsewhere now
                _shared = wanted
            return _shared.ensure()
        if _private is None or not _private.is_running():
            if _private is not None:
                _private.stop()  # a dead one: remove its temp dir (a forked child's: forget it)
            server = EmbeddedRedis()
            server.start()
            if not _atexit_registered:
                atexit.register(stop_embedded_server)
                _atexit_registered = True
            _private = server
        return _private


def stop_embedded_server() -> None:
    """Stop this process's private server, if any. The shared server is left running
    for the other processes (stop it with ``redis-agent server stop``)."""
    global _private, _shared
    with _lock:
        if _private is not None:
            _private.stop()
            _private = None
        _shared = None


def _embedded_url() -> str:
    return get_embedded_server().url


set_url_fallback(_embedded_url)
