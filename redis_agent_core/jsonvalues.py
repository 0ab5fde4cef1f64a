"""JSON encoding of user values that refuses what JSON cannot hold, before a write.

orjson writes NaN and +/-Infinity as ``null`` without a word, so a stored value would
silently read back as ``None``. :func:`dumps_json` raises :class:`ConfigError` for them
(and for values orjson cannot encode), naming where the value sits. The check costs a
scan of the output for ``null`` and, only when one is there, a walk of the value.
:func:`find_unreadable` is that walk, shared with the task signer (kombu markers, objects).
A ``uuid.UUID`` or an ``enum.Enum`` is refused too (:func:`check_no_native`): orjson
writes it as its str / value without calling any hook, so every value is walked.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import uuid
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import orjson

from .errors import ConfigError

__all__ = [
    "NO_DATETIME",
    "Unreadable",
    "check_finite",
    "check_no_native",
    "dumps_json",
    "exact_json",
    "find_unreadable",
    "has_non_finite",
    "not_json_hint",
]

_LEAVES = frozenset({str, int, bool, type(None), bytes})
_PLAIN = (str, int, float, bool, type(None), list, tuple, dict)  # JSON's own types
_NONE = object()  # no such key (None is a key JSON would turn into "null")


# orjson writes a datetime, date or time as an ISO string, which reads back as a str:
# refused like Decimal and bytes (see not_json_hint)
NO_DATETIME = orjson.OPT_PASSTHROUGH_DATETIME


def not_json_hint(exc: TypeError) -> str:
    """The fix to name for orjson's ``TypeError`` (a datetime: its isoformat())."""
    if "datetime" in str(exc):  # "Type is not JSON serializable: datetime.date"
        return (
            "; convert a datetime, date or time with .isoformat() (stored as is, it "
            "would read back as a str)"
        )
    return ""


def dumps_json(
    value: Any, what: str, *, nulls: int = 0, option: int = 0, native: bool = False
) -> bytes:
    """``orjson.dumps(value, option=option)``, or :class:`ConfigError` naming ``what`` if
    ``value`` is not JSON (a datetime, a UUID or an Enum too: it would read back as a
    str / its value) or holds a NaN or an infinity. ``nulls``: how many ``null`` the
    caller knows ``value`` holds itself (the walk is skipped while no other one
    appears). ``native``: a UUID or an Enum is written as its str / value (for a
    framework's own records whose reader expects that, e.g. LlamaIndex's docstore)."""
    try:
        data = orjson.dumps(value, option=option | NO_DATETIME)
    except TypeError as exc:
        raise ConfigError(
            f"{what} is not JSON-serialisable ({exc}): JSON cannot store it; use str, "
            f"numbers, bools, None, lists or dicts{not_json_hint(exc)} (nothing was written)"
        ) from exc
    if data.count(b"null") > nulls:  # a NaN or an infinity becomes null
        check_finite(value, what)
    if not native:
        check_no_native(value, what)
    return data


_SCALARS: frozenset[type] = frozenset({str, int, bool, type(None), bytes, float})
_NATIVE = (uuid.UUID, enum.Enum)  # orjson writes them as their str / value, no hook


def check_no_native(value: Any, what: str) -> None:
    """Raise :class:`ConfigError` if ``value`` holds a ``uuid.UUID`` or an ``enum.Enum``
    (StrEnum, IntEnum too): orjson encodes both natively, without calling ``default=``,
    so they would read back as a str / as their ``.value``, as a datetime would (which
    orjson's NO_DATETIME refuses). :func:`_plain` first (type checks, no copies); the
    naming walk only when it meets something else (a subclass, a dataclass, a UUID...)."""
    try:
        if _plain(value):
            return
        found = _find_native(value)
    except RecursionError:  # deeper than orjson encodes (255 levels): it refuses it
        return
    if found is None:
        return
    bad, path = found
    read, fix = (
        (f"its .value {bad.value!r}", "value.value")
        if isinstance(bad, enum.Enum)
        else ("a str", "str(value)")
    )
    raise ConfigError(
        f"{what} holds {bad!r} at {''.join(reversed(path)) or 'the top level'}, which "
        f"JSON would read back as {read}: store {fix} instead (nothing was written)"
    )


def _plain(value: Any, _scalars: frozenset[type] = _SCALARS) -> bool:
    """Whether ``value`` is only plain dicts, lists, tuples and JSON scalars (the
    recursion skips scalars without a call: ~2x a stack loop's speed)."""
    kind = type(value)
    if kind is dict:
        for item in value.values():
            if type(item) not in _scalars and not _plain(item):
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) not in _scalars and not _plain(item):
                return False
        return True
    return kind in _scalars


def _find_native(value: Any) -> tuple[Any, list[str]] | None:
    """:func:`check_no_native`'s naming walk (as orjson encodes: subclasses of dict,
    list and tuple, dataclasses); the path comes innermost step first."""
    if isinstance(value, _NATIVE):
        return value, []
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    else:
        return None
    for key, item in items:
        found = _find_native(item)
        if found is not None:
            found[1].append(f"[{key!r}]")
            return found
    return None


def exact_json(
    value: Any, option: int = 0, default: Callable[[Any], Any] | None = None
) -> bytes | None:
    """``orjson.dumps(value, option=option, default=default)`` when that text tells
    ``value`` apart from every other value, else ``None``: orjson writes a NaN or an
    infinity as ``null`` and refuses an int beyond 64 bits, so a cache keyed on it
    would serve the answer for ``None`` to ``NaN``, or fail."""
    try:
        data = orjson.dumps(value, option=option, default=default)
    except TypeError:
        return None
    if b"null" in data and has_non_finite(value):
        return None
    return data


def check_finite(value: Any, what: str) -> None:
    """Raise :class:`ConfigError` if a float in ``value`` (dicts, lists, tuples and
    dataclasses, walked as orjson encodes them) is a NaN or an infinity."""
    found = find_unreadable(value)  # a fast scan first, the walk only if it finds one
    if found is not None:
        raise ConfigError(
            f"{what} holds {found.value!r} at {found.path or 'the top level'}, which JSON "
            "cannot store (it would read back as null); use a finite number, None or a "
            "string (nothing was written)"
        )


def has_non_finite(value: Any) -> bool:
    """Whether ``value`` holds a NaN or an infinity."""
    return _scan(value, None, None, False)


def _scan(value: Any, marker: str | None, plain: tuple[type, ...] | None, keys: bool) -> bool:
    """Whether :func:`_find` would find something: a loop over plain dicts, lists and
    scalars (~4x faster than :func:`_find`, which only runs to name the place; anything
    else, e.g. a subclass or a dataclass, goes to :func:`_find`)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            if marker is not None and marker in item:
                return True
            if keys:
                for key in item:
                    if type(key) is not str:  # a str subclass too: _find decides
                        return True
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is float:
            if item - item != 0:  # nan - nan and inf - inf are nan
                return True
        elif kind in _LEAVES and (kind is not bytes or plain is None):
            continue
        elif _find(item, marker, plain, keys) is not None:
            return True
    return False


class Unreadable(NamedTuple):
    """What :func:`find_unreadable` found: its ``kind``, the ``value`` itself and its
    ``path`` (``"['a'][0]"``; ``""`` at the top level; for a key, its dict's path)."""

    kind: Literal["non-finite", "marker", "object", "key"]
    value: Any
    path: str


def find_unreadable(
    value: Any,
    *,
    marker: str | None = None,
    objects: bool = False,
    keys: bool = False,
    allow: tuple[type, ...] = (),
) -> Unreadable | None:
    """The first place in ``value`` that would not read back from JSON as itself, or
    None: a NaN or an infinity (``"non-finite"``); with ``marker``, a dict holding that
    key (``"marker"``, e.g. kombu's ``"__type__"``, which its decoder turns into an
    object); with ``objects``, a value of no JSON type (``"object"``: not str, int,
    float, bool, None, list, tuple or dict); with ``keys``, a dict key that is not a str
    (``"key"``: JSON's keys are strings, so 1 reads back as "1" and a datetime key cannot
    be encoded); ``allow``: more types ``objects`` lets through (an encoder's own, e.g.
    kombu's datetime). Without ``objects``, dataclasses are walked as orjson encodes them
    and other objects are passed over."""
    plain = _PLAIN + allow if objects else None
    found = _find(value, marker, plain, keys) if _scan(value, marker, plain, keys) else None
    if found is None:
        return None
    kind, bad, path = found
    return Unreadable(kind, bad, "".join(reversed(path)))


_Found = tuple[Literal["non-finite", "marker", "object", "key"], Any, list[str]]


def _find(
    value: Any, marker: str | None, plain: tuple[type, ...] | None, keys: bool
) -> _Found | None:
    """:func:`find_unreadable`'s walk; the path comes innermost step first."""
    if isinstance(value, float):
        return None if math.isfinite(value) else ("non-finite", value, [])
    if isinstance(value, dict):
        if marker is not None and marker in value:
            return ("marker", value, [])
        if keys:
            key = next((k for k in value if not isinstance(k, str)), _NONE)
            if key is not _NONE:
                return ("key", key, [])
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    elif plain is not None and not isinstance(value, plain):
        return ("object", value, [])
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    else:
        return None
    for key, item in items:
        found = _find(item, marker, plain, keys)
        if found is not None:
            found[2].append(f"[{key!r}]")
            return found
    return None
