"""Token estimators given to the framework adapters: checked where they are given, and
their results checked where they are used, so a mistake names the estimator.

``max(0, int(estimate))`` would have hidden most mistakes: a negative estimate reserved
nothing, ``"12"`` became 12, NaN raised a bare ``ValueError`` in the middle of a model call
and a non-callable a bare ``TypeError`` at the first call. A fractional estimate
(``len(text) / 4``, the usual rule of thumb) is rounded up: it reserves at least as much.
"""

from __future__ import annotations

import inspect
import logging
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError
from .limiter import MAX_TOKENS

__all__ = ["checked_estimator", "reported_tokens", "token_count"]

logger = logging.getLogger(__name__)


def checked_estimator(
    value: Callable[..., object] | None, default: Callable[..., int], what: str
) -> Callable[..., int]:
    """``value`` (None: ``default``) as a token estimator whose every result is checked.

    ``value`` must be callable, else ``TypeError`` naming ``what`` (the argument, e.g.
    ``"RateLimitMiddleware(estimator=...)"``). What it returns must be the tokens to
    reserve, a number from 0 to ``MAX_TOKENS`` (numpy numbers too; a fraction is
    rounded up), else the call raises
    :class:`ConfigError` naming ``what`` and the estimator, before anything is charged.
    """
    if value is None:
        return default
    if not callable(value):
        raise TypeError(
            f"{what} must be a callable that returns the tokens to reserve for a call "
            f"(an int >= 0), got {type(value).__name__} {value!r}"
        )
    estimator = value

    def estimate(*args: Any) -> int:
        return _tokens(estimator(*args), estimator, what)

    return estimate


def _count(value: object) -> int | None:
    """``value`` as tokens to charge (a fraction rounded up), or None when it is no
    number from 0 to ``MAX_TOKENS`` (a bool, a str, NaN, negative...)."""
    if type(value) is int and 0 <= value <= MAX_TOKENS:  # the common case, every call
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and 0 <= number <= MAX_TOKENS:
            return int(value) if isinstance(value, numbers.Integral) else math.ceil(number)
    return None


def token_count(value: object, what: str) -> int:
    """``value`` (tokens a caller asks to charge, e.g. LlamaIndex's ``num_tokens``) as an
    int: a number from 0 to ``MAX_TOKENS``, a fraction rounded up, else
    :class:`ConfigError` naming ``what``. ``max(0, int(value))`` charged a negative
    count as 0, ``"30"`` as 30, a fraction less than asked, and raised a bare
    ``ValueError`` for NaN."""
    tokens = _count(value)
    if tokens is None:
        raise ConfigError(
            f"{what} must be the tokens to charge, a number from 0 to {MAX_TOKENS:.0e} "
            f"(a fraction is rounded up), got {value!r}"
        )
    return tokens


def _tokens(result: object, estimator: Callable[..., object], what: str) -> int:
    tokens = _count(result)
    if tokens is not None:
        return tokens
    name = getattr(estimator, "__qualname__", None) or repr(estimator)
    if inspect.iscoroutine(result):
        result.close()  # never awaited: no "coroutine was never awaited" warning
        problem = "is async (it returned a coroutine); pass a sync function"
    else:
        problem = f"returned {result!r}"
    raise ConfigError(
        f"{what} ({name}) {problem}: it must return the tokens to reserve for the call, "
        f"a number from 0 to {MAX_TOKENS:.0e}"
    )


def reported_tokens(usage: Mapping[str, Any] | None, who: str) -> int | None:
    """The tokens a model's reported ``usage`` counts, to settle a reservation at, or
    ``None`` (unknown: the estimate stays charged) when it names no count or one no
    call has (negative, NaN, past ``MAX_TOKENS``; logged, naming ``who``).

    The caches' check of a stored usage (``usage_tokens``): settling such a count
    raised :class:`ConfigError` after the model had answered, so the adapters lost
    the answer of a call that was made and paid for."""
    from ..cache.entry import refused_usage, usage_tokens  # imported when used, as the cache

    tokens = usage_tokens(usage)
    if tokens is None and refused_usage(usage):
        logger.warning("%s reported usage %r: the estimate stays charged", who, usage)
    return tokens
