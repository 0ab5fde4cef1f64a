"""Every Python block in README.md and docs/*.md runs (issue 19: docs that run).

Each page's blocks run in order in one namespace, in a subprocess of their own
(``tests/docs_runner.py``), against the test's Redis, with ``OPENAI_BASE_URL`` at a local
fake OpenAI endpoint (``benchmarks/fake_openai.py``) so a block naming a paid model runs
offline. A page gives a block what it assumes with a hidden
``<!-- docs-test: setup ... -->`` block, or marks a block that cannot run here with
``<!-- docs-test: skip (reason) -->`` on the line before it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.docs_runner import blocks

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fake_openai", "--port", str(port)], cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.post(f"{base}/chat/completions", json={"messages": []}, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        proc.kill()
        proc.wait()


def test_every_page_with_code_is_checked() -> None:
    with_code = [p.name for p in PAGES if blocks(p)]
    assert "README.md" in with_code and len(with_code) >= 9
    for page in PAGES:
        for line, _, skip in blocks(page):
            assert skip is None or len(skip) > 10, f"{page.name}:{line}: say why it cannot run"


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_page_runs(page: Path, redis_url: str, fake_openai: str) -> None:
    env = dict(
        os.environ,
        REDIS_URL=redis_url,
        REDIS_AGENT_NAMESPACE=f"docs{uuid.uuid4().hex[:8]}",
        OPENAI_BASE_URL=fake_openai,
        OPENAI_API_KEY="test",
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        # as a module: running the file would put tests/ first on sys.path, where test
        # packages (tests/workflows) would shadow the libraries of the same name
        [sys.executable, "-m", "tests.docs_runner", str(page.relative_to(ROOT))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    ran = [line for line in result.stdout.splitlines() if line.endswith(": ok")]
    assert ran, result.stdout
