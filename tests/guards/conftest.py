"""Fixtures for the guard and calibration tests: our own labelled pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from redis_agent_core.cache.calibrate import LabelledPair, load_pairs

OWN_PAIRS_PATH = Path(__file__).resolve().parent / "pairs.jsonl"


@pytest.fixture(scope="session")
def own_pairs() -> list[LabelledPair]:
    """Pairs written for this project (not fow-cache's): paraphrases and near repeats
    that must still hit, and traps of each kind (category = the guard expected to fire)."""
    return load_pairs(OWN_PAIRS_PATH)
