"""Signed webhook delivery: retries on 5xx and timeouts, none on 4xx, dead letters."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from celery import Celery

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_core.tasks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Webhook,
    dead_letters,
    sign_payload,
    submit_webhook,
    verify_signature,
)
from redis_agent_core.tasks.app import create_app

from .conftest import SECRET, Hook

pytestmark = pytest.mark.usefixtures("worker")


def _fast(url: str, **kw: Any) -> Webhook:
    return Webhook(url, backoff=0.05, backoff_cap=0.2, **kw)


def _dead_for(config: RedisAgentConfig, key: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in dead_letters(config=config):
            if row["idempotency_key"] == key:
                return row
        time.sleep(0.05)
    raise AssertionError(f"no dead letter for {key}")


# -- signatures (pure) --
def test_signature_verifies_and_rejects_tampering() -> None:
    body = b'{"a":1}'
    ts = int(time.time())
    headers = {SIGNATURE_HEADER: sign_payload(SECRET, ts, body), TIMESTAMP_HEADER: str(ts)}
    assert verify_signature(SECRET, body, headers)
    assert verify_signature(SECRET, body, {k.lower(): v for k, v in headers.items()})
    assert not verify_signature(SECRET, b'{"a":2}', headers)
    assert not verify_signature("other-secret", body, headers)
    assert not verify_signature(SECRET, body, headers, now=ts + 3600)  # replayed later
    assert not verify_signature(SECRET, body, {})


def test_webhook_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="http"):
        Webhook("ftp://x")
    with pytest.raises(ConfigError, match="max_attempts"):
        Webhook("http://x", max_attempts=0)


# -- delivery --
def test_delivery_is_signed_with_an_idempotency_key(task_app: Celery, hook: Hook) -> None:
    key = submit_webhook(_fast(hook.url), {"event": "x", "n": 1}, app=task_app)
    (req,) = hook.wait(1)
    assert orjson.loads(req["body"]) == {"event": "x", "n": 1}
    assert req["headers"][IDEMPOTENCY_HEADER] == key
    assert req["headers"]["Content-Type"] == "application/json"
    assert verify_signature(SECRET, req["body"], req["headers"])


def test_5xx_is_retried_with_the_same_key_until_success(
    task_app: Celery, task_config: RedisAgentConfig, hook: Hook
) -> None:
    hook.statuses = [503, 500]
    key = submit_webhook(_fast(hook.url, max_attempts=4), {"n": 2}, app=task_app)
    reqs = hook.wait(3)
    assert len(reqs) == 3
    assert {r["headers"][IDEMPOTENCY_HEADER] for r in reqs} == {key}
    assert [r["headers"]["X-Redis-Agent-Attempt"] for r in reqs] == ["1", "2", "3"]
    time.sleep(0.3)
    assert len(hook.requests) == 3  # no extra try after the success
    assert all(d["idempotency_key"] != key for d in dead_letters(config=task_config))


def test_4xx_is_not_retried_and_goes_to_dead_letters(
    task_app: Celery, task_config: RedisAgentConfig, hook: Hook
) -> None:
    hook.statuses = [400, 400, 400]
    key = submit_webhook(_fast(hook.url), {"n": 3}, app=task_app)
    dead = _dead_for(task_config, key)
    assert len(hook.requests) == 1
    assert dead["status"] == 400 and dead["attempts"] == 1 and "400" in dead["error"]
    assert dead["payload"] == {"n": 3} and dead["url"] == hook.url


def test_timeouts_are_retried_then_dead_lettered(
    task_app: Celery, task_config: RedisAgentConfig, hook: Hook
) -> None:
    hook.delay = 0.5
    key = submit_webhook(_fast(hook.url, max_attempts=3, timeout=0.1), {"n": 4}, app=task_app)
    dead = _dead_for(task_config, key)
    assert len(hook.requests) == 3
    assert dead["attempts"] == 3 and dead["status"] is None
    assert "timed out" in dead["error"].lower() or "timeout" in dead["error"].lower()


def test_unreachable_receiver_is_dead_lettered(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    key = submit_webhook(_fast("http://127.0.0.1:9/none", max_attempts=2), {"n": 5}, app=task_app)
    dead = _dead_for(task_config, key)
    assert dead["attempts"] == 2 and "refused" in dead["error"].lower()


def test_submit_without_a_secret_is_a_config_error(
    task_config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_AGENT_WEBHOOK_SECRET", raising=False)
    app = create_app(task_config)
    with pytest.raises(ConfigError, match="webhook_secret"):
        submit_webhook("http://127.0.0.1:9/x", {}, app=app)


def test_submit_with_the_broker_down_is_a_typed_error(task_config: RedisAgentConfig) -> None:
    app = create_app(
        task_config, webhook_secret=SECRET, broker_url="redis://127.0.0.1:9/0", result_backend=None
    )
    started = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="broker"):
        submit_webhook("http://127.0.0.1:9/x", {}, app=app)
    assert time.monotonic() - started < 10
