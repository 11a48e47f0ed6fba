"""Repository of the global availability lock (one row, optimistic version)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.availability_lock import LOCK_ID, AvailabilityLock
from app.domain.errors import ConcurrentUpdate
from app.repos.tables import availability_lock
from app.repos.tracking import Tracker


class LockRepository:
    def __init__(self, conn: AsyncConnection, tracker: Tracker) -> None:
        self._conn, self._tracker = conn, tracker

    async def get(self, *, hold: bool = False) -> AvailabilityLock:
        """The lock; with `hold`, a share lock on its row keeps it from changing until commit
        (PostgreSQL; SQLite writers are serialised anyway)."""
        query = select(availability_lock).where(availability_lock.c.id == LOCK_ID)
        if hold:
            query = query.with_for_update(read=True)
        row = (await self._conn.execute(query)).one()._mapping
        return self._tracker.seen(AvailabilityLock(row["locked"], row["changed_at"], row["version"]))

    async def save(self, lock: AvailabilityLock) -> None:
        result = await self._conn.execute(
            update(availability_lock)
            .where(availability_lock.c.id == LOCK_ID, availability_lock.c.version == lock.version)
            .values(locked=lock.locked, changed_at=lock.changed_at, version=lock.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate("availability lock")
        lock.version += 1
        self._tracker.saved(lock)
