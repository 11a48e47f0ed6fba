"""Repository of referees' notifications (written by the notifications projector)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.repos.tables import notifications


class NotificationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def mark_read(self, referee_id: UUID, ids: Collection[UUID] | None) -> int:
        """Mark the referee's unread notifications (all, or those of `ids`) read; how many changed."""
        query = update(notifications).where(notifications.c.referee_id == referee_id, notifications.c.read.is_(False))
        if ids is not None:
            query = query.where(notifications.c.id.in_(list(ids)))
        result = await self._conn.execute(query.values(read=True))
        return result.rowcount


async def add_notifications(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert notification rows (id, referee_id, fixture_id, kind, message, created_at, read)."""
    if rows:
        await conn.execute(insert(notifications), list(rows))
