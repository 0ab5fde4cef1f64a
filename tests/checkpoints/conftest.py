"""Fixtures of the checkpoint tests: LangGraph is an optional extra."""

import pytest

pytest.importorskip("langgraph.checkpoint.base", reason="needs the langgraph extra")
