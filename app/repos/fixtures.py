"""Repository of the Fixture aggregate: the fixture row, its availabilities and assignments."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.errors import ConcurrentUpdate
from app.domain.fixture import (
    Assignment,
    AssignmentStatus,
    Fixture,
    FixtureStatus,
    RefereeRole,
    ScheduledFixture,
)
from app.repos.tables import assignments, availabilities, fixtures
from app.repos.tracking import Tracker


class FixtureRepository:
    def __init__(self, conn: AsyncConnection, tracker: Tracker) -> None:
        self._conn, self._tracker = conn, tracker

    async def get(self, fixture_id: UUID) -> Fixture | None:
        found = await self.get_many([fixture_id])
        return found[0] if found else None

    async def get_many(self, fixture_ids: Collection[UUID]) -> list[Fixture]:
        """The fixtures with these ids (unknown ids are left out), ordered by (date, id)."""
        if not fixture_ids:
            return []
        ids = list(fixture_ids)
        rows = (
            await self._conn.execute(
                select(fixtures).where(fixtures.c.id.in_(ids)).order_by(fixtures.c.date, fixtures.c.id)
            )
        ).all()
        available: dict[UUID, set[UUID]] = defaultdict(set)
        for fixture_id, referee_id in await self._conn.execute(
            select(availabilities.c.fixture_id, availabilities.c.referee_id).where(availabilities.c.fixture_id.in_(ids))
        ):
            available[fixture_id].add(referee_id)
        held: dict[UUID, dict[UUID, Assignment]] = defaultdict(dict)
        for row in await self._conn.execute(select(assignments).where(assignments.c.fixture_id.in_(ids))):
            a = _assignment_from_row(row._mapping)
            held[a.fixture_id][a.referee_id] = a
        return [
            self._tracker.seen(_fixture_from_row(r._mapping, available[r.id], held[r.id])) for r in rows
        ]

    async def with_staged_assignments(self) -> list[Fixture]:
        ids = await self._conn.scalars(
            select(assignments.c.fixture_id).where(assignments.c.status == AssignmentStatus.STAGED.value).distinct()
        )
        return await self.get_many(set(ids))

    async def held_by(self, referee_ids: Iterable[UUID]) -> list[Fixture]:
        """Fixtures on which any of these referees holds a committed assignment."""
        ids = await self._conn.scalars(
            select(assignments.c.fixture_id)
            .where(
                assignments.c.referee_id.in_(list(referee_ids)),
                assignments.c.status == AssignmentStatus.COMMITTED.value,
            )
            .distinct()
        )
        return await self.get_many(set(ids))

    async def scheduled_between(self, start: datetime, end: datetime) -> list[ScheduledFixture]:
        """Scheduled (not cancelled) fixtures starting in [start, end)."""
        rows = await self._conn.execute(
            select(fixtures.c.id, fixtures.c.date, fixtures.c.venue_id, fixtures.c.team_home_id, fixtures.c.team_away_id)
            .where(
                fixtures.c.status == FixtureStatus.SCHEDULED.value,
                fixtures.c.date >= start,
                fixtures.c.date < end,
            )
        )
        return [ScheduledFixture(*row) for row in rows]

    async def add(self, fixture: Fixture) -> None:
        fixture.version = 1
        await self._conn.execute(insert(fixtures).values(id=fixture.id, **_fixture_values(fixture), version=1))
        await self._insert_children(fixture)
        self._tracker.saved(fixture)

    async def save(self, fixture: Fixture) -> None:
        """Write the fixture if nobody changed it since it was loaded, else ConcurrentUpdate.

        The version-checked row update comes first: on PostgreSQL it locks the row,
        so a concurrent writer waits there and then fails the check.
        """
        result = await self._conn.execute(
            update(fixtures)
            .where(fixtures.c.id == fixture.id, fixtures.c.version == fixture.version)
            .values(**_fixture_values(fixture), version=fixture.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate("fixture")
        # Children are few per fixture: replacing them is simpler than diffing, and
        # deleting first keeps "one committed referee per role" true at every step.
        await self._conn.execute(delete(availabilities).where(availabilities.c.fixture_id == fixture.id))
        await self._conn.execute(delete(assignments).where(assignments.c.fixture_id == fixture.id))
        await self._insert_children(fixture)
        fixture.version += 1
        self._tracker.saved(fixture)

    async def _insert_children(self, fixture: Fixture) -> None:
        if fixture.available_referee_ids:
            await self._conn.execute(
                insert(availabilities),
                [{"fixture_id": fixture.id, "referee_id": r} for r in sorted(fixture.available_referee_ids)],
            )
        if fixture.assignments:
            await self._conn.execute(
                insert(assignments),
                [
                    {"fixture_id": a.fixture_id, "referee_id": a.referee_id, "role": a.role.value, "status": a.status.value}
                    for a in fixture.assignments.values()
                ],
            )


def _fixture_values(fixture: Fixture) -> dict[str, Any]:
    return {
        "date": fixture.date,
        "status": fixture.status.value,
        "venue_id": fixture.venue_id,
        "team_home_id": fixture.team_home_id,
        "team_away_id": fixture.team_away_id,
        "first_referee_id": fixture.first_referee_id,
        "second_referee_id": fixture.second_referee_id,
    }


def _fixture_from_row(row: Any, available: set[UUID], held: dict[UUID, Assignment]) -> Fixture:
    return Fixture(
        row["id"],
        date=row["date"],
        venue_id=row["venue_id"],
        team_home_id=row["team_home_id"],
        team_away_id=row["team_away_id"],
        status=FixtureStatus(row["status"]),
        version=row["version"],
        available_referee_ids=set(available),
        assignments=dict(held),
    )


def _assignment_from_row(row: Any) -> Assignment:
    return Assignment(row["fixture_id"], row["referee_id"], RefereeRole(row["role"]), AssignmentStatus(row["status"]))
