"""``/dashboard`` in a real headless browser (Debian's chromium): every chart is drawn
from live ``/stats`` data after some traffic, with no asset fetched from outside."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_redis_agent.embeddings import MiniLMEmbeddings
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import SentenceTransformerEmbedder
from redis_agent_service.app import AgentService, ServiceSettings, create_app

from .conftest import Users

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHARTS = ("hit_rate", "tokens", "rejections", "limiter", "queue", "bus")
# the flags Chromium needs on a closed network, as root, without a GPU
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,900",
]  # fmt: skip


@pytest.fixture
def served(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder, users: Users
) -> Iterator[tuple[str, dict[str, str]]]:
    """The app behind a real uvicorn server on loopback (a browser needs a URL)."""
    service = AgentService(
        FakeListChatModel(responses=["An answer."]),
        config=config,
        settings=ServiceSettings(use_queue=False, ingest_users=["viewer"]),
        embeddings=MiniLMEmbeddings(minilm),
        model_name="fake",
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield base, users.headers("viewer")
    finally:
        server.should_exit = True
        thread.join(30)


def _browser(url: str, *args: str) -> str:
    assert CHROMIUM is not None
    result = subprocess.run(
        [CHROMIUM, *FLAGS, "--virtual-time-budget=4000", *args, url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)
def test_every_chart_draws_live_data_in_headless_chromium(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, headers = served
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        doc = {"id": "d1", "text": "Redis keeps data in memory."}
        assert http.post("/documents", json={"documents": [doc]}).status_code == 202
        for _ in range(3):  # a miss, then two hits
            r = http.post(
                "/chat", json={"session_id": uuid.uuid4().hex, "message": "What is Redis?"}
            )
            assert r.status_code == 200, r.text
        page = http.get("/dashboard")
    assert page.status_code == 200 and "<canvas" in page.text
    # nothing is fetched from another origin: no CDN, no external script or style
    assert not re.search(r"""(src|href)=["']https?://""", page.text)

    dom = _browser(f"{base}/dashboard", "--dump-dom")
    assert re.search(r'data-ticks="\d+"', dom), "the page never read /stats"
    drawn = {}
    for tag in re.findall(r"<canvas[^>]*>", dom):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        drawn[attrs["id"]] = (int(attrs.get("data-points", 0)), float(attrs.get("data-total", 0)))
    assert sorted(drawn) == sorted(CHARTS), re.findall(r"<canvas[^>]*>", dom)
    # every time series has samples; the rejections bars are drawn (none in this traffic)
    assert all(points >= 1 for chart, (points, _) in drawn.items() if chart != "rejections"), drawn
    assert drawn["hit_rate"][1] > 0  # two of three answers came from the cache
    assert drawn["queue"][1] > 0  # one document ingested

    shot = tmp_path / "dashboard.png"
    _browser(f"{base}/dashboard", f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
    keep = os.environ.get("RAP_DASHBOARD_SCREENSHOT")  # refresh the README's picture
    if keep:
        shutil.copy(shot, keep)
