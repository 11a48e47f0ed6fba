"""Read-through caching of directory entries (referees, teams, venues) by id.

Entries are invalidated by the events that change them, on every instance (the
broker calls `invalidate`), and expire after a TTL in case an invalidation is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict
from typing import Any
from uuid import UUID

from app.cache.port import Cache
from app.domain.directory import Referee, Team, Venue
from app.events.envelope import Envelope
from app.loaders.batch import BatchLoader, Fetch
from app.loaders.request_reads import RequestReads

_FIELDS = {
    "referee": ("name", "club", "version"),
    "team": ("name", "club"),
    "venue": ("name", "street", "zip", "city", "telephone", "email"),
}
_TYPES: dict[str, Any] = {"referee": Referee, "team": Team, "venue": Venue}
# Events after which a cached entry may be stale: (kind, payload key of the id).
_INVALIDATING = {
    "RefereeCreated": ("referee", "referee_id"),
    "RefereeClubChanged": ("referee", "referee_id"),
    "TeamCreated": ("team", "team_id"),
    "VenueCreated": ("venue", "venue_id"),
}


def cache_key(kind: str, id: UUID) -> str:
    """`kind:id`. Remembered: a page asks for hundreds of keys, and str(UUID) is not cheap."""
    keys = _KEYS[kind]
    key = keys.get(id)
    if key is None:
        if len(keys) >= _KEYS_REMEMBERED:
            keys.clear()
        key = keys[id] = f"{kind}:{id}"
    return key


_KEYS: dict[str, dict[UUID, str]] = {kind: {} for kind in _FIELDS}
_KEYS_REMEMBERED = 50_000  # per kind: more than a league has


def _encode(kind: str, value: Any) -> dict[str, Any]:
    data = asdict(value)
    return {field: data[field] for field in _FIELDS[kind]}


def _decode(kind: str, id: UUID, data: dict[str, Any]) -> Any:
    return _TYPES[kind](id, **data)


def _deriver(kind: str, convert: Callable[[Any], Any]) -> Callable[[str, dict[str, Any]], Any]:
    """`convert` of the entry decoded, made from the cache key and the cached value; one
    function per (kind, convert), since the cache keeps derived values by function."""
    derive = _DERIVERS.get((kind, convert))
    if derive is None:
        start = len(kind) + 1  # the id after `kind:` (cache_key)
        derive = _DERIVERS[(kind, convert)] = lambda key, data: convert(_decode(kind, UUID(key[start:]), data))
    return derive


_DERIVERS: dict[tuple[str, Callable[[Any], Any]], Callable[[str, dict[str, Any]], Any]] = {}


class CachedLoader(BatchLoader[UUID, Any]):
    def __init__(self, reads: RequestReads, fetch: Fetch[UUID, Any], cache: Cache, kind: str, ttl: float) -> None:
        super().__init__(reads, fetch)
        self._store, self._kind, self._ttl = cache, kind, ttl
        # The in-process cache answers without waiting (MemoryCache.peek_derived); Redis cannot.
        self._peek_derived = getattr(cache, "peek_derived", None)

    def peek(self, keys: Iterable[UUID | None], convert: Callable[[Any], Any]) -> dict[UUID, Any] | None:
        """From the in-process cache: the converted entries, made once per cached entry and
        shared by every request while it is cached (what `convert` makes is never changed).
        A page of fixtures finds its venues, teams and referees there in one call, instead
        of a DataLoader future per id. Not for keys this request primed or loaded already:
        those are answered as loaded."""
        if self._peek_derived is None:
            return None
        unique = dict.fromkeys(keys)  # a page names each venue, team and referee many times
        unique.pop(None, None)
        if self._known or self._cache:
            if any(key in self._known or key in self._cache for key in unique):
                return None
        kind = self._kind
        names = [cache_key(kind, key) for key in unique]
        hits = self._peek_derived(names, _deriver(kind, convert))
        if hits is None:
            return None
        return {key: hits[name] for key, name in zip(unique, names)}

    async def batch_load_fn(self, keys: Sequence[UUID]) -> list[Any]:
        kind = self._kind
        names = [cache_key(kind, k) for k in keys]
        hits = await self._store.get_many(names)
        found = {k: _decode(kind, k, hit) for k, name in zip(keys, names) if (hit := hits.get(name)) is not None}
        missing = [k for k in keys if k not in found]
        if missing:
            loaded = [v for v in await super().batch_load_fn(missing) if v is not None]
            await self._store.set_many({cache_key(self._kind, v.id): _encode(self._kind, v) for v in loaded}, self._ttl)
            found.update((v.id, v) for v in loaded)
        return [found.get(k) for k in keys]


def invalidator(cache: Cache) -> Callable[[Envelope], Awaitable[None]]:
    """A broker listener that drops the cached entry an event makes stale."""

    async def invalidate(event: Envelope) -> None:
        target = _INVALIDATING.get(event.type)
        if target is not None:
            kind, id_key = target
            await cache.delete([cache_key(kind, UUID(event.payload[id_key]))])

    return invalidate
