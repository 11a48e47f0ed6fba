"""The outbox read by event position: the record every live event can be found in again.

The bus is fast but forgetful (a trimmed stream, a Redis restart that loses it, a reader
that was away); the outbox keeps every event for `WHISTLE_OUTBOX_RETENTION_HOURS` under
a gap-free position. The broker fills gaps the bus left from it, and a resuming
subscriber replays from it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from app.events.envelope import Envelope
from app.events.relay import envelope
from app.repos import outbox


class EventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def last_position(self) -> int:
        """The newest position handed out: every event up to it is committed and readable."""
        async with self._engine.connect() as conn:
            return await outbox.last_position(conn)

    async def after(self, position: int, limit: int = 500) -> list[Envelope]:
        """Up to `limit` events after `position`, in position order (fewer: the newest)."""
        async with self._engine.connect() as conn:
            return [envelope(row) for row in await outbox.after_position(conn, position, limit)]
