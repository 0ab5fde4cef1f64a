"""redisvl indexes that refuse partial results.

redisvl's ``SearchIndex.query`` parses a reply into rows and drops its warnings, so a
query that passed the server's TIMEOUT under ``ON_TIMEOUT RETURN`` would come back short
with nothing said; under ``ON_TIMEOUT FAIL`` it raises a bare ``RedisSearchError``.
These subclasses check the reply of every ``search`` / ``aggregate`` (which ``query``,
``paginate`` and the aggregate queries go through) and raise
:class:`~redis_agent_core.errors.SearchTimeoutError` in both cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from redisvl.exceptions import RedisSearchError
from redisvl.index import AsyncSearchIndex, SearchIndex

from ..redis_errors import is_search_timeout, search_timeout_error
from .replies import check_complete

__all__ = ["AsyncCheckedSearchIndex", "CheckedSearchIndex"]


def _action(index: SearchIndex | AsyncSearchIndex) -> str:
    return f"searching index {index.schema.index.name!r}"


@contextmanager
def _timeouts_raised(index: SearchIndex | AsyncSearchIndex) -> Iterator[None]:
    """redisvl's wrapped error of a timed-out search (ON_TIMEOUT FAIL) as ours."""
    try:
        yield
    except RedisSearchError as exc:
        if is_search_timeout(exc):
            raise search_timeout_error(_action(index), failed=True) from exc
        raise


class CheckedSearchIndex(SearchIndex):
    """A redisvl ``SearchIndex`` whose searches never return partial results."""

    def search(self, *args: Any, **kwargs: Any) -> Any:
        with _timeouts_raised(self):
            result = super().search(*args, **kwargs)
        check_complete(result, _action(self))
        return result

    def aggregate(self, *args: Any, **kwargs: Any) -> Any:
        with _timeouts_raised(self):
            result = super().aggregate(*args, **kwargs)
        check_complete(result, _action(self))
        return result


class AsyncCheckedSearchIndex(AsyncSearchIndex):
    """A redisvl ``AsyncSearchIndex`` whose searches never return partial results."""

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        with _timeouts_raised(self):
            result = await super().search(*args, **kwargs)
        check_complete(result, _action(self))
        return result

    async def aggregate(self, *args: Any, **kwargs: Any) -> Any:
        with _timeouts_raised(self):
            result = await super().aggregate(*args, **kwargs)
        check_complete(result, _action(self))
        return result
