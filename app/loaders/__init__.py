"""Per-request DataLoaders: every nested read batches its keys into one statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.cache.port import Cache
from app.domain.directory import Referee, Team, Venue
from app.loaders.batch import BatchLoader, Fetch
from app.loaders.cached import CachedLoader
from app.loaders.request_reads import RequestReads
from app.repos import reads
from app.repos.engine import ReadConnections
from app.repos.reads import AssignmentRecord, FixtureRecord, NotificationRecord

V = TypeVar("V")


def _notifications_fetch(
    unread_only: bool, limit: int
) -> Fetch[UUID, list[NotificationRecord]]:
    async def fetch(conn: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, list[NotificationRecord]]:
        return await reads.notifications_by_referee(conn, ids, unread_only, limit)

    return fetch


def _cached(fetch: Fetch[UUID, Any], kind: str) -> Callable[[Loaders], BatchLoader[UUID, Any]]:
    return lambda loaders: CachedLoader(loaders.reads, fetch, loaders._cache, kind, loaders._cache_ttl)


def _batch(fetch: Fetch[UUID, Any], missing: Any = None) -> Callable[[Loaders], BatchLoader[UUID, Any]]:
    return lambda loaders: BatchLoader(loaders.reads, fetch, missing=missing)


# The loaders of a request by attribute name. Each is built on first use (Loaders.__getattr__):
# a request uses two or three of them (one fixture: fixture, venue, team, referee), and building
# all of them for every request was ~10 µs of CPU for nothing.
_FACTORIES: dict[str, Callable[[Loaders], BatchLoader[UUID, Any]]] = {
    # Directory entries change rarely and are read everywhere: read through the cache.
    "referee": _cached(reads.referees_by_ids, "referee"),
    "team": _cached(reads.teams_by_ids, "team"),
    "venue": _cached(reads.venues_by_ids, "venue"),
    "fixture": _batch(reads.fixtures_by_ids),
    "available_referee_ids": _batch(reads.available_referee_ids_by_fixture, missing=[]),
    "available_fixtures": _batch(reads.available_fixtures_by_referee, missing=[]),
    "fixture_assignments": _batch(reads.assignments_by_fixture, missing=[]),
    "referee_assignments": _batch(reads.assignments_by_referee, missing=[]),
}


class Loaders:
    """The loaders of one request (or of one subscription event): never shared longer.

    Each loader is made on first use and then kept: every use in the request gets the
    same one, so it batches and caches exactly as if made up front."""

    referee: BatchLoader[UUID, Referee]
    team: BatchLoader[UUID, Team]
    venue: BatchLoader[UUID, Venue]
    fixture: BatchLoader[UUID, FixtureRecord]
    available_referee_ids: BatchLoader[UUID, list[UUID]]
    available_fixtures: BatchLoader[UUID, list[FixtureRecord]]
    fixture_assignments: BatchLoader[UUID, list[AssignmentRecord]]
    referee_assignments: BatchLoader[UUID, list[AssignmentRecord]]

    def __init__(self, read_engine: AsyncEngine | ReadConnections, cache: Cache, cache_ttl: float = 300, tracer: Any = None) -> None:
        self.reads = RequestReads(read_engine)
        self._cache, self._cache_ttl = cache, cache_ttl
        self._tracer = tracer  # an OpenTelemetry tracer when tracing is on: a span per batch
        self._notifications: dict[tuple[bool, int], BatchLoader[UUID, list[NotificationRecord]]] = {}

    def __getattr__(self, name: str) -> BatchLoader[UUID, Any]:
        """Called only for an attribute not set yet: builds the loader `name` and keeps it."""
        make = _FACTORIES.get(name)
        if make is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        loader = make(self)
        if self._tracer is not None:
            loader.trace_with(self._tracer, name)
        setattr(self, name, loader)  # from now on a plain attribute: __getattr__ is not called again
        return loader

    def notifications(self, unread_only: bool, limit: int) -> BatchLoader[UUID, list[NotificationRecord]]:
        """One loader per (unreadOnly, first) pair, so referees in a list share a statement."""
        key = (unread_only, limit)
        if key not in self._notifications:
            loader = BatchLoader(self.reads, _notifications_fetch(unread_only, limit), missing=[])
            if self._tracer is not None:
                loader.trace_with(self._tracer, "notifications")
            self._notifications[key] = loader
        return self._notifications[key]

    async def read(self, fetch: Callable[..., Awaitable[V]], *args: Any) -> V:
        """Run one read query (`fetch(conn, *args)`) outside the loaders."""
        return await self.reads(fetch, *args)

    async def settle(self) -> None:
        """Wait for this request's reads that are still running (see RequestReads)."""
        await self.reads.settle()

    def prime_referees(self, referees: Sequence[Referee]) -> None:
        for referee in referees:
            self.referee.prime(referee.id, referee)

    def remember_fixtures(self, records: Sequence[FixtureRecord]) -> None:
        self.fixture.remember({record.id: record for record in records})
