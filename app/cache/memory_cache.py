"""The in-process cache adapter: an LRU with a TTL per entry, for one instance."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from app.cache.port import check_ttl


# Makes a value from a cached entry: (key, the entry's JSON value) -> anything.
Derive = Callable[[str, Any], Any]
_MISSING = object()


class MemoryCache:
    """A `Cache` in this process's memory.

    Entries live until their TTL has passed on `clock` (an expired entry is a miss and
    is dropped when met) or until they are the least recently used (read or written)
    beyond `max_entries`. Values are kept as JSON bytes, so callers get a fresh copy on
    every read, exactly as from Redis. Not thread-safe; meant for one event loop.

    Being in process, it also offers what Redis cannot: `peek_derived`, a value made
    from an entry once and kept with it, without waiting.
    """

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries!r}")
        self._max_entries = max_entries
        self._clock = clock
        # key -> (expires at on `clock`, JSON bytes, values derived from it by `peek_derived`);
        # the last entry is the most recently used.
        self._entries: OrderedDict[str, tuple[float, bytes, dict[Derive, Any]]] = OrderedDict()

    async def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        now = self._clock()
        hits: dict[str, Any] = {}
        for key in keys:
            entry = self._entries.get(key)
            if entry is None:
                continue
            expires_at, payload, _derived = entry
            if expires_at <= now:
                del self._entries[key]
                continue
            self._entries.move_to_end(key)
            hits[key] = orjson.loads(payload)
        return hits

    def peek_derived(self, keys: Sequence[str], derive: Derive) -> dict[str, Any] | None:
        """`derive(key, value)` of every key, or None when any key is not cached (or
        `derive` raised: the caller then reads the usual way, and meets the error there).

        Synchronous, and each entry's derived value is made once and kept with the entry:
        replaced, deleted or expired with it, so it is exactly as fresh as `get_many`. It is
        shared by every caller until then, so it must be immutable in practice (e.g. the
        GraphQL object of a cached referee, app.loaders.cached)."""
        now, entries = self._clock(), self._entries
        found: dict[str, Any] = {}
        for key in keys:
            entry = entries.get(key)
            if entry is None or entry[0] <= now:
                return None  # expired ones are dropped by get_many, which the caller runs next
            derived = entry[2]
            value = derived.get(derive, _MISSING)
            if value is _MISSING:
                try:
                    value = derived[derive] = derive(key, orjson.loads(entry[1]))
                except Exception:  # noqa: BLE001 - the usual read reports it
                    return None
            entries.move_to_end(key)
            found[key] = value
        return found

    async def set_many(self, values: Mapping[str, Any], ttl_seconds: float) -> None:
        check_ttl(ttl_seconds)
        # Serialize everything first: a bad value stores nothing.
        payloads = {key: orjson.dumps(value) for key, value in values.items()}
        expires_at = self._clock() + ttl_seconds
        for key, payload in payloads.items():
            self._entries[key] = (expires_at, payload, {})
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
