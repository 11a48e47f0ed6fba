"""The cache port: what the application needs from a cache, whatever backs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Cache(Protocol):
    """A read-through cache of small JSON-ready values by string key. Never raises on
    infrastructure failure: a cache that cannot answer behaves as a miss.

    Values must be serializable as JSON (dicts with string keys, lists, strings,
    numbers, booleans, None); a value that is not raises TypeError, which is a
    programming error and not an infrastructure failure. A stored None is a hit.
    """

    async def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The cached values of `keys`, only the hits (missing and expired keys are absent)."""
        ...

    async def set_many(self, values: Mapping[str, Any], ttl_seconds: float) -> None:
        """Store every value under its key for `ttl_seconds` (> 0), replacing any old value."""
        ...

    async def delete(self, keys: Sequence[str]) -> None:
        """Forget `keys`; keys that are not cached are ignored."""
        ...

    async def close(self) -> None:
        """Release the connections; the cache is not used afterwards."""
        ...


def check_ttl(ttl_seconds: float) -> None:
    """Reject a non-positive TTL: it is a caller's mistake, not a cache outage."""
    if not ttl_seconds > 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds!r}")
