"""JSON encoding of user values that refuses what JSON cannot hold, before a write.

orjson writes NaN and +/-Infinity as ``null`` without a word, so a stored value would
silently read back as ``None``. :func:`dumps_json` raises :class:`ConfigError` for them
(and for values orjson cannot encode), naming where the value sits. The check costs a
scan of the output for ``null`` and, only when one is there, a walk of the value.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import orjson

from .errors import ConfigError

__all__ = ["check_finite", "dumps_json", "has_non_finite"]

_LEAVES = frozenset({str, int, bool, type(None), bytes})


def dumps_json(value: Any, what: str, *, nulls: int = 0) -> bytes:
    """``orjson.dumps(value)``, or :class:`ConfigError` naming ``what`` if ``value`` is
    not JSON or holds a NaN or an infinity. ``nulls``: how many ``null`` the caller
    knows ``value`` holds itself (the walk is skipped while no other one appears)."""
    try:
        data = orjson.dumps(value)
    except TypeError as exc:
        raise ConfigError(
            f"{what} is not JSON-serialisable ({exc}): JSON cannot store it; use str, "
            "numbers, bools, None, lists or dicts (nothing was written)"
        ) from exc
    if data.count(b"null") > nulls:  # a NaN or an infinity becomes null
        check_finite(value, what)
    return data


def check_finite(value: Any, what: str) -> None:
    """Raise :class:`ConfigError` if a float in ``value`` (dicts, lists, tuples and
    dataclasses, walked as orjson encodes them) is a NaN or an infinity."""
    if not has_non_finite(value):
        return
    found = _non_finite(value)
    if found is not None:
        bad, path = found
        where = "".join(reversed(path)) or "the top level"
        raise ConfigError(
            f"{what} holds {bad!r} at {where}, which JSON cannot store (it would read back "
            "as null); use a finite number, None or a string (nothing was written)"
        )


def has_non_finite(value: Any) -> bool:
    """Whether ``value`` holds a NaN or an infinity: a loop over plain dicts, lists and
    floats (~4x faster than :func:`_non_finite`, which only runs to name the place)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is float:
            if item - item != 0:  # nan - nan and inf - inf are nan
                return True
        elif kind not in _LEAVES and _non_finite(item) is not None:  # subclasses, dataclasses
            return True
    return False


def _non_finite(value: Any) -> tuple[float, list[str]] | None:
    """The first NaN or infinity in ``value`` and its path (innermost step first)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (value, [])
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    else:
        return None
    for key, item in items:
        found = _non_finite(item)
        if found is not None:
            found[1].append(f"[{key!r}]")
            return found
    return None
