"""A module that checkpoints planted in Redis name: a saver must never import it.

The checkpoint tests check that ``tests.checkpoints.never_imported`` stays out of
``sys.modules``; importing it is enough to fail them, whatever is then called.
"""

from __future__ import annotations

from typing import Any


class Planted:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a checkpoint read from Redis constructed a class it named")

    @classmethod
    def run(cls, *args: Any) -> Any:
        raise AssertionError("a checkpoint read from Redis called a method it named")
