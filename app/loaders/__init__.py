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
from app.repos.reads import AssignmentRecord, FixtureRecord, NotificationRecord

V = TypeVar("V")


def _notifications_fetch(
    unread_only: bool, limit: int
) -> Fetch[UUID, list[NotificationRecord]]:
    async def fetch(conn: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, list[NotificationRecord]]:
        return await reads.notifications_by_referee(conn, ids, unread_only, limit)

    return fetch


class Loaders:
    """The loaders of one request (or of one subscription event): never shared longer."""

    def __init__(self, read_engine: AsyncEngine, cache: Cache, cache_ttl: float = 300, tracer: Any = None) -> None:
        self.reads = e = RequestReads(read_engine)
        self._tracer = tracer  # an OpenTelemetry tracer when tracing is on: a span per batch
        # Directory entries change rarely and are read everywhere: read through the cache.
        self.referee: BatchLoader[UUID, Referee] = CachedLoader(e, reads.referees_by_ids, cache, "referee", cache_ttl)
        self.team: BatchLoader[UUID, Team] = CachedLoader(e, reads.teams_by_ids, cache, "team", cache_ttl)
        self.venue: BatchLoader[UUID, Venue] = CachedLoader(e, reads.venues_by_ids, cache, "venue", cache_ttl)
        self.fixture: BatchLoader[UUID, FixtureRecord] = BatchLoader(e, reads.fixtures_by_ids)
        self.available_referee_ids: BatchLoader[UUID, list[UUID]] = BatchLoader(
            e, reads.available_referee_ids_by_fixture, missing=[]
        )
        self.available_fixtures: BatchLoader[UUID, list[FixtureRecord]] = BatchLoader(
            e, reads.available_fixtures_by_referee, missing=[]
        )
        self.fixture_assignments: BatchLoader[UUID, list[AssignmentRecord]] = BatchLoader(
            e, reads.assignments_by_fixture, missing=[]
        )
        self.referee_assignments: BatchLoader[UUID, list[AssignmentRecord]] = BatchLoader(
            e, reads.assignments_by_referee, missing=[]
        )
        self._notifications: dict[tuple[bool, int], BatchLoader[UUID, list[NotificationRecord]]] = {}
        if tracer is not None:
            for name, loader in vars(self).items():
                if isinstance(loader, BatchLoader):
                    loader.trace_with(tracer, name)

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

    def prime_fixtures(self, records: Sequence[FixtureRecord]) -> None:
        self.fixture.remember({record.id: record for record in records})
