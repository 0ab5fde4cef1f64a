"""A module task messages name in the registry tests: a worker must never import it.

The tests check that ``tests.tasks.never_imported`` stays out of ``sys.modules``.
"""

from __future__ import annotations

from typing import Any

IMPORTED = True


def run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a task message ran code it named")


class Index:
    @classmethod
    def from_spec(cls, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a task message ran code it named")
