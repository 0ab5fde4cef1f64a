"""The indexed form of RediSearch TAG values, shared by the semantic cache and the
vector index.

Stored raw, tag values are trimmed, split on separators and case-folded by the server:
``"a\\tb"`` matched ``"a b"``, ``" a"`` matched ``"a"`` and ``" "`` matched nothing, so
one tenant could see another's entries. Indexing an escaped form makes a tag filter
match exactly the same string.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["TAG_SEPARATOR", "tag_value"]

# Separator between the values of a multi-valued tag: never in an escaped value.
TAG_SEPARATOR = "\x1f"
_NOT_TAG_SAFE = re.compile(r"[^A-Za-z0-9]+")


def _hex_bytes(match: re.Match[str]) -> str:
    return "_" + match.group().encode("utf-8", "surrogatepass").hex("_")


@lru_cache(maxsize=4096)  # tenants, authors... repeat across the documents of a write
def _escaped(value: str) -> str:
    return _NOT_TAG_SAFE.sub(_hex_bytes, value)


def tag_value(value: str) -> str:
    """The indexed form of a tag value: letters and digits kept, every other byte as
    ``_hh`` (``"acme"`` stays ``"acme"``, ``"a b"`` is ``"a_20b"``, ``"é"`` is
    ``"_c3_a9"``).

    Injective, and nothing RediSearch would trim, split, fold or parse is left. Use it
    for the values of a redisvl ``Tag`` expression passed as a filter.
    """
    if value.isascii() and value.isalnum():
        return value  # the common case: nothing to escape
    return _escaped(value) if len(value) <= 256 else _NOT_TAG_SAFE.sub(_hex_bytes, value)
