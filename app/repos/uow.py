"""The UnitOfWork: one database transaction per application service call.

It rolls back unless `commit()` is called, hands out repositories bound to its
connection, and on commit writes every event that the aggregates it handed out
recorded to the outbox table, in the same transaction.

A database connection lost under it (a restart, a failover, `pg_terminate_backend`)
leaves as `ConnectionLost`, which says whether COMMIT had been sent: before it, the
transaction cannot have committed (its outbox rows with it), so running the service
again is safe (`app.services.deps.retried_once_on_connection_loss`); during or after
it, the outcome is unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from app.domain.errors import ConcurrentUpdate
from app.domain.events import DomainEvent
from app.repos.directory import RefereeRepository, TeamRepository, VenueRepository
from app.repos.engine import WRITE
from app.repos.fixtures import FixtureRepository
from app.repos.lock import LockRepository
from app.repos.notifications import NotificationRepository
from app.repos.outbox import append, outbox_row
from app.repos.tracking import Tracker

# SQLSTATEs of a transaction that lost a race: serialization failure, deadlock.
_LOST_RACE = {"40001", "40P01"}


class ConnectionLost(Exception):
    """The database connection of a UnitOfWork was lost; `commit_sent`: during or after COMMIT."""

    def __init__(self, commit_sent: bool) -> None:
        when = "during COMMIT, outcome unknown" if commit_sent else "before COMMIT, nothing applied"
        super().__init__(f"database connection lost {when}")
        self.commit_sent = commit_sent


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Aggregate(Protocol):
    id: Any
    version: int
    events: list[DomainEvent]


class UnitOfWork:
    referees: RefereeRepository
    teams: TeamRepository
    venues: VenueRepository
    fixtures: FixtureRepository
    lock: LockRepository
    notifications: NotificationRepository

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], datetime] = utcnow,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self.clock = clock
        self._after_commit = after_commit
        self._conn: AsyncConnection | None = None
        self._tx: AsyncTransaction | None = None
        self._tracker = Tracker()
        self._commit_sent = False

    async def __aenter__(self) -> UnitOfWork:
        self._conn = await self._engine.connect()
        await self._conn.execution_options(**{WRITE: True})
        self._tx = await self._conn.begin()
        conn, tracker = self._conn, self._tracker
        self.referees = RefereeRepository(conn, tracker)
        self.teams = TeamRepository(conn, tracker)
        self.venues = VenueRepository(conn, tracker)
        self.fixtures = FixtureRepository(conn, tracker)
        self.lock = LockRepository(conn, tracker)
        self.notifications = NotificationRepository(conn)
        return self

    def record(self, aggregate: Aggregate) -> None:
        """Have the events of an aggregate that no repository stores written to the outbox."""
        self._tracker.saved(aggregate)

    async def commit(self) -> None:
        assert self._conn is not None and self._tx is not None
        now = self.clock()
        rows = [outbox_row(event, aggregate.version, now) for aggregate, event in self._tracker.pending_events()]
        await append(self._conn, rows)
        self._commit_sent = True  # from here a lost connection may have committed or not
        await self._tx.commit()
        if rows and self._after_commit is not None:
            self._after_commit()  # wake the local relay: there is something to publish

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._conn is not None and self._tx is not None
        try:
            if self._tx.is_active:
                await self._tx.rollback()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            # Nothing to undo: the server rolls back a lost connection's transaction itself.
        finally:
            await self._conn.close()
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            raise ConnectionLost(self._commit_sent) from exc
        if isinstance(exc, DBAPIError) and _lost_race(exc):
            raise ConcurrentUpdate("data") from exc


def _lost_race(error: DBAPIError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if sqlstate in _LOST_RACE:
        return True
    return "database is locked" in str(error.orig)  # SQLite: another writer held the lock too long
