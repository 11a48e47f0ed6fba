"""The notifications projector: turns committed domain events into referees'
notifications, exactly once per event (inbox), and announces each new notification
through the outbox (NotificationCreated) for the live `notifications` subscription."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.domain.calendar import LeagueCalendar
from app.domain.events import NotificationCreated
from app.domain.notifications import FixtureDescription, message, notifications_due
from app.events.envelope import Envelope
from app.repos import inbox, outbox, reads
from app.repos.engine import WRITE
from app.repos.notifications import add_notifications
from app.repos.uow import utcnow

CONSUMER = "notifications"


class NotificationsProjector:
    def __init__(
        self,
        engine: AsyncEngine,
        calendar: LeagueCalendar,
        after_commit: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine, self._calendar, self._after_commit, self._clock = engine, calendar, after_commit, clock

    async def handle(self, event: Envelope) -> None:
        due = notifications_due(event.type, event.payload)
        if not due:
            return
        now = self._clock()
        async with self._engine.connect() as conn:
            await conn.execution_options(**{WRITE: True})
            async with conn.begin():
                if not await inbox.first_delivery(conn, CONSUMER, event.id, now):
                    return  # a redelivery: applied before
                fixtures = await self._describe(conn, {d.fixture_id for d in due})
                rows = [
                    {
                        "id": uuid.uuid4(),
                        "referee_id": d.referee_id,
                        "fixture_id": d.fixture_id,
                        "kind": d.kind.value,
                        "message": message(d, fixtures[d.fixture_id]),
                        "created_at": now,
                        "read": False,
                    }
                    for d in due
                    if d.fixture_id in fixtures
                ]
                await add_notifications(conn, rows)
                await outbox.append(conn, [outbox.outbox_row(_created(r), 1, now) for r in rows])
        if self._after_commit is not None:
            self._after_commit()

    async def _describe(self, conn: AsyncConnection, ids: Collection[UUID]) -> dict[UUID, FixtureDescription]:
        fixtures = await reads.fixtures_by_ids(conn, list(ids))
        team_ids = {t for f in fixtures.values() for t in (f.team_home_id, f.team_away_id)}
        teams = await reads.teams_by_ids(conn, list(team_ids))
        venues = await reads.venues_by_ids(conn, list({f.venue_id for f in fixtures.values()}))
        return {
            f.id: FixtureDescription(
                home=teams[f.team_home_id].name,
                away=teams[f.team_away_id].name,
                when=self._calendar.describe(f.date),
                venue=venues[f.venue_id].name,
            )
            for f in fixtures.values()
        }


def _created(row: dict[str, object]) -> NotificationCreated:
    return NotificationCreated(
        notification_id=row["id"],  # type: ignore[arg-type]
        referee_id=row["referee_id"],  # type: ignore[arg-type]
        fixture_id=row["fixture_id"],  # type: ignore[arg-type]
        kind=str(row["kind"]),
    )
