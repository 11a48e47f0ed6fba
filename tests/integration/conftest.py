"""Helpers of the integration tests: build the league through the services, read rows back."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.directory import Referee, Team, Venue
from app.domain.fixture import Fixture, RefereeRole
from app.repos.tables import metadata, outbox
from app.services import assignments, availability, directory, fixtures
from app.services.deps import ServiceDeps


class World:
    """The league of one test. Builders go through the application services (so the
    database holds only what the real use cases write); readers return plain dicts."""

    def __init__(self, deps: ServiceDeps) -> None:
        self.deps = deps
        self.engine: AsyncEngine = deps.engine
        self._serial = itertools.count(1)

    # --- builders -------------------------------------------------------------------

    async def referee(self, name: str | None = None, club: str = "VC Nord") -> Referee:
        return await directory.create_referee(self.deps, name or f"Referee {next(self._serial)}", club)

    async def team(self, name: str | None = None, club: str = "VC Nord") -> Team:
        return await directory.create_team(self.deps, name or f"Team {next(self._serial)}", club)

    async def venue(self, name: str | None = None) -> Venue:
        return await directory.create_venue(
            self.deps, name or f"Hall {next(self._serial)}", "Hauptstr. 1", "10115", "Berlin"
        )

    async def fixture(
        self,
        date: datetime,
        *,
        venue: UUID | None = None,
        home: UUID | None = None,
        away: UUID | None = None,
    ) -> Fixture:
        """A scheduled fixture; a venue or team not given is created for it alone."""
        venue = venue or (await self.venue()).id
        home = home or (await self.team()).id
        away = away or (await self.team()).id
        return await fixtures.create_fixture(self.deps, date, venue, home, away)

    async def declared(self, fixture_id: UUID, *referee_ids: UUID) -> None:
        for referee_id in referee_ids:
            await availability.declare_availability(self.deps, fixture_id, referee_id)

    async def staged(self, fixture_id: UUID, referee_id: UUID, role: RefereeRole, *, declare: bool = True) -> None:
        if declare:
            await self.declared(fixture_id, referee_id)
        await assignments.stage_assignment(self.deps, fixture_id, referee_id, role)

    async def committed(self, fixture_id: UUID, referee_id: UUID, role: RefereeRole) -> None:
        """Declare, stage and commit (nothing else may be staged at that moment)."""
        await self.staged(fixture_id, referee_id, role)
        await assignments.commit_staged_assignments(self.deps)

    # --- readers --------------------------------------------------------------------

    async def rows(self, table: Table, *where: Any) -> list[dict[str, Any]]:
        """The table's rows matching `where`, ordered by primary key."""
        async with self.engine.connect() as conn:
            result = await conn.execute(select(table).where(*where).order_by(*table.primary_key.columns))
            return [dict(row._mapping) for row in result]

    async def row(self, table: Table, *where: Any) -> dict[str, Any]:
        found = await self.rows(table, *where)
        assert len(found) == 1, found
        return found[0]

    async def outbox(self, after_seq: int = 0) -> list[dict[str, Any]]:
        """Outbox rows written after `after_seq`, in write order."""
        return await self.rows(outbox, outbox.c.seq > after_seq)

    async def last_seq(self) -> int:
        rows = await self.outbox()
        return rows[-1]["seq"] if rows else 0

    async def events(self, after_seq: int = 0) -> list[tuple[str, str, UUID, int, dict[str, Any]]]:
        """(type, aggregate_type, aggregate_id, aggregate_version, payload) of the outbox rows
        written after `after_seq`; every one of them stamped and not yet published."""
        rows = await self.outbox(after_seq)
        assert all(r["created_at"] is not None for r in rows), rows
        assert all(r["published_at"] is None for r in rows), rows
        return [(r["type"], r["aggregate_type"], r["aggregate_id"], r["aggregate_version"], r["payload"]) for r in rows]

    async def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every table: compare two snapshots to prove nothing changed."""
        return {table.name: await self.rows(table) for table in metadata.sorted_tables}

    async def execute(self, statement: Any) -> Any:
        """Run one statement in its own committed transaction (raw test set-up)."""
        async with self.engine.begin() as conn:
            return await conn.execute(statement)


@pytest.fixture
def world(deps: ServiceDeps) -> World:
    return World(deps)
