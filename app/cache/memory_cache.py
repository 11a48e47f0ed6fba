"""The in-process cache adapter: an LRU with a TTL per entry, for one instance."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from app.cache.port import check_ttl


class MemoryCache:
    """A `Cache` in this process's memory.

    Entries live until their TTL has passed on `clock` (an expired entry is a miss and
    is dropped when met) or until they are the least recently used (read or written)
    beyond `max_entries`. Values are kept as JSON bytes, so callers get a fresh copy on
    every read, exactly as from Redis. Not thread-safe; meant for one event loop.
    """

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries!r}")
        self._max_entries = max_entries
        self._clock = clock
        # key -> (expires at on `clock`, JSON bytes); the last entry is the most recently used.
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    async def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        now = self._clock()
        hits: dict[str, Any] = {}
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                continue
            expires_at, payload = entry
            if expires_at <= now:
                del self._entries[key]
                continue
            self._entries.move_to_end(key)
            hits[key] = orjson.loads(payload)
        return hits

    async def set_many(self, values: Mapping[str, Any], ttl_seconds: float) -> None:
        check_ttl(ttl_seconds)
        # Serialize everything first: a bad value stores nothing.
        payloads = {key: orjson.dumps(value) for key, value in values.items()}
        expires_at = self._clock() + ttl_seconds
        for key, payload in payloads.items():
            self._entries[key] = (expires_at, payload)
            self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def close(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        """How many entries are held, expired ones not yet dropped included."""
        return len(self._entries)
