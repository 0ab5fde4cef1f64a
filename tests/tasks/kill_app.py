"""The app a subprocess worker runs in test_redelivery (short visibility timeout)."""

from __future__ import annotations

import os

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks.app import create_app
from tests.tasks.support import register_all

register_all()

app = create_app(
    RedisAgentConfig.from_env(), visibility_timeout=float(os.environ.get("RAP_TEST_VT", "2"))
)
