"""Repositories of the directory aggregates: referees, teams, venues."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.directory import Referee, Team, Venue
from app.domain.errors import ConcurrentUpdate
from app.repos.tables import referees, teams, venues
from app.repos.tracking import Tracker


class RefereeRepository:
    def __init__(self, conn: AsyncConnection, tracker: Tracker) -> None:
        self._conn, self._tracker = conn, tracker

    async def get(self, referee_id: UUID) -> Referee | None:
        row = (await self._conn.execute(select(referees).where(referees.c.id == referee_id))).first()
        return None if row is None else self._tracker.seen(referee_from_row(row._mapping))

    async def add(self, referee: Referee) -> None:
        referee.version = 1
        await self._conn.execute(insert(referees).values(id=referee.id, name=referee.name, club=referee.club, version=1))
        self._tracker.saved(referee)

    async def save(self, referee: Referee) -> None:
        result = await self._conn.execute(
            update(referees)
            .where(referees.c.id == referee.id, referees.c.version == referee.version)
            .values(name=referee.name, club=referee.club, version=referee.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate("referee")
        referee.version += 1
        self._tracker.saved(referee)


class TeamRepository:
    def __init__(self, conn: AsyncConnection, tracker: Tracker) -> None:
        self._conn, self._tracker = conn, tracker

    async def get(self, team_id: UUID) -> Team | None:
        row = (await self._conn.execute(select(teams).where(teams.c.id == team_id))).first()
        return None if row is None else self._tracker.seen(team_from_row(row._mapping))

    async def add(self, team: Team) -> None:
        await self._conn.execute(insert(teams).values(id=team.id, name=team.name, club=team.club))
        self._tracker.saved(team)


class VenueRepository:
    def __init__(self, conn: AsyncConnection, tracker: Tracker) -> None:
        self._conn, self._tracker = conn, tracker

    async def get(self, venue_id: UUID) -> Venue | None:
        row = (await self._conn.execute(select(venues).where(venues.c.id == venue_id))).first()
        return None if row is None else self._tracker.seen(venue_from_row(row._mapping))

    async def add(self, venue: Venue) -> None:
        await self._conn.execute(
            insert(venues).values(
                id=venue.id,
                name=venue.name,
                street=venue.street,
                zip=venue.zip,
                city=venue.city,
                telephone=venue.telephone,
                email=venue.email,
            )
        )
        self._tracker.saved(venue)


def referee_from_row(row: Any) -> Referee:
    return Referee(row["id"], row["name"], row["club"], version=row["version"])


def team_from_row(row: Any) -> Team:
    return Team(row["id"], row["name"], row["club"])


def venue_from_row(row: Any) -> Venue:
    return Venue(
        row["id"],
        name=row["name"],
        street=row["street"],
        zip=row["zip"],
        city=row["city"],
        telephone=row["telephone"],
        email=row["email"],
    )
