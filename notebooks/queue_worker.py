"""The Celery worker of the queue notebook: ``celery -A queue_worker worker`` run from
``notebooks/``. It builds the app from the environment (``REDIS_URL``, ...) and
registers, by name, what the notebook's jobs may use: task messages carry names, and a
worker runs only what its own code registered.
"""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from llama_index.core.llms.mock import MockLLM

from langchain_redis_agent.tasks import register_chat_model
from llamaindex_redis_agent.tasks import register_llm
from redis_agent_core.tasks import create_app

app = create_app()
register_llm("mock-llm", MockLLM())  # echoes the prompt
register_chat_model("fake-chat", FakeListChatModel(responses=["A sorted set.", "A stream."]))
