"""``redis-agent demo``: its pass/fail verdict per role, and whole runs (model calls
replayed from a cassette recorded against the local SmolLM2 server)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from redis_agent_service.demo import SCRIPT, DemoResult, _report, run_demo
from redis_agent_service.llm import LLMEndpoint


def _reply(cached: bool, ms: float, sources: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "answer": "a",
        "cached": cached,
        "latency_ms": ms,
        "usage": {"total_tokens": 0 if cached else 50, "saved_tokens": 50 if cached else 0},
        "sources": [{"source": s, "relevance": 0.7} for s in sources],
    }


def _passing() -> DemoResult:
    return DemoResult(
        replies=[
            ("a", "a-1", "q", _reply(False, 900.0, ("x.md",))),
            ("b", "b-1", "q", _reply(True, 9.0)),
        ],
        limited=[("m", 429, "60")],
        job={"job_id": "j", "status": "succeeded", "done": 6, "total": 6},
        ingest={"job_id": "j", "count": 6},
        session={"length": 4},
        bus_events=2,
        agent_thread=4,
    )


BREAKERS: dict[str, Callable[[DemoResult], None]] = {
    "cache": lambda r: r.replies[1][3].update(cached=False),  # no hit at all
    "history": lambda r: r.session.update(length=2),
    "vectors": lambda r: r.replies[0][3].update(sources=[]),
    "limits": lambda r: r.limited.clear(),
    "queue": lambda r: r.job.update(status="failed"),  # type: ignore[union-attr]
    "bus": lambda r: setattr(r, "bus_events", 1),
    "state": lambda r: setattr(r, "agent_thread", 2),  # the new saver saw one turn
}


def test_every_role_passes_on_good_evidence() -> None:
    out = io.StringIO()
    assert all(ok for ok, _ in _passing().checks().values())
    assert _report(_passing(), "demo", 1.0, out) is True
    assert "every role worked" in out.getvalue()


@pytest.mark.parametrize("role", sorted(BREAKERS))
def test_a_role_without_evidence_fails_the_demo(role: str) -> None:
    result = _passing()
    BREAKERS[role](result)
    verdict = result.checks()
    assert not verdict[role][0]
    assert [r for r, (ok, _) in verdict.items() if not ok] == [role]
    out = io.StringIO()
    assert _report(result, "demo", 1.0, out) is False
    assert f"FAIL {role}" in out.getvalue()


def test_a_slow_hit_fails_the_cache_check() -> None:
    result = _passing()
    result.replies[1][3]["latency_ms"] = 5000.0  # hits slower than misses: no benefit
    assert not result.checks()["cache"][0]


@pytest.mark.slow
@pytest.mark.vcr(ignore_hosts=["testserver", "demo"])
def test_demo_runs_every_role(
    redis_url: str,
    llm_endpoint: LLMEndpoint,
    http_calls: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("OPENAI_BASE_URL", llm_endpoint.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.setenv("OPENAI_MODEL", llm_endpoint.model)
    out = io.StringIO()
    assert run_demo(quiet=True, out=out) == 0, out.getvalue() + capsys.readouterr().err
    report = out.getvalue()
    assert "every role worked" in report and "FAIL" not in report
    misses = int(report.split(" misses;")[0].rsplit("/ ", 1)[1])
    hits = int(report.split(" hits /")[0].rsplit("Semantic cache", 1)[1])
    # only misses reached the model, and the agent-state role's two turns
    assert http_calls() == misses + 2
    assert hits + misses + 1 == len(SCRIPT)  # the flooding user's last request got 429


@pytest.mark.slow
def test_demo_with_the_model_down_exits_1_and_names_it(
    redis_url: str,
    dead_endpoint: LLMEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("OPENAI_BASE_URL", dead_endpoint.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    assert run_demo(quiet=True, out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "POST /chat answered HTTP 502" in err
    assert "OPENAI_BASE_URL" in err
    assert "Traceback" not in err
