"""The indexed form of RediSearch TAG values, shared by the semantic cache and the
vector index.

Stored raw, tag values are trimmed, split on separators and case-folded by the server:
``"a\\tb"`` matched ``"a b"``, ``" a"`` matched ``"a"`` and ``" "`` matched nothing, so
one tenant could see another's entries. Indexing an escaped form makes a tag filter
match exactly the same string.

RediSearch also truncates an indexed tag to :data:`TAG_LIMIT` bytes (so two long values
sharing their first 4,096 bytes were one tag, and a filter on a longer value matched
nothing). An escaped form longer than that is indexed, and filtered on, as its first
:data:`TAG_HEAD` bytes, ``"__"`` (which no escaped form contains: ``_`` is always
followed by two hex digits) and the SHA-256 of the value: equality stays exact.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

__all__ = ["TAG_HEAD", "TAG_LIMIT", "TAG_SEPARATOR", "tag_value"]

# Separator between the values of a multi-valued tag: never in an escaped value.
TAG_SEPARATOR = "\x1f"
_NOT_TAG_SAFE = re.compile(r"[^A-Za-z0-9]+")
# RediSearch indexes at most this many bytes of a tag (the rest is cut off).
TAG_LIMIT = 4096
# Bytes of the escaped form kept before the digest of an over-long value (room for
# "__" and 64 hex digits, with margin, under TAG_LIMIT).
TAG_HEAD = 3976


def _hex_bytes(match: re.Match[str]) -> str:
    return "_" + match.group().encode("utf-8", "surrogatepass").hex("_")


@lru_cache(maxsize=4096)  # tenants, authors... repeat across the documents of a write
def _escaped(value: str) -> str:
    return _NOT_TAG_SAFE.sub(_hex_bytes, value)


def tag_value(value: str) -> str:
    """The indexed form of a tag value: letters and digits kept, every other byte as
    ``_hh`` (``"acme"`` stays ``"acme"``, ``"a b"`` is ``"a_20b"``, ``"é"`` is
    ``"_c3_a9"``).

    Injective, and nothing RediSearch would trim, split, fold or parse is left; longer
    than :data:`TAG_LIMIT` bytes, it ends in a digest of the value (see the module).
    """
    if value.isascii() and value.isalnum() and len(value) <= TAG_LIMIT:
        return value  # the common case: nothing to escape
    escaped = _escaped(value) if len(value) <= 256 else _NOT_TAG_SAFE.sub(_hex_bytes, value)
    if len(escaped) <= TAG_LIMIT:
        return escaped
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{escaped[:TAG_HEAD]}__{digest}"
