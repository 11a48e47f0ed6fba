"""Use cases of the directory: referees, teams, venues."""

from __future__ import annotations

import uuid
from uuid import UUID

from app.domain.directory import Referee, Team, Venue
from app.domain.text import required_text
from app.services.deps import ServiceDeps, found, retried_once_on_connection_loss


@retried_once_on_connection_loss
async def create_referee(deps: ServiceDeps, name: str, club: str) -> Referee:
    referee = Referee.register(uuid.uuid4(), name, club)
    async with deps.uow() as uow:
        await uow.referees.add(referee)
        await uow.commit()
    return referee


@retried_once_on_connection_loss
async def change_referee_club(deps: ServiceDeps, referee_id: UUID, club: str) -> Referee:
    club = required_text(club, "club")  # bad input is reported before an unknown referee
    async with deps.uow() as uow:
        referee = found(await uow.referees.get(referee_id), "referee", referee_id)
        referee.change_club(club)
        if referee.events:  # the same club again changes nothing and writes nothing
            await uow.referees.save(referee)
            await uow.commit()
    return referee


@retried_once_on_connection_loss
async def create_team(deps: ServiceDeps, name: str, club: str) -> Team:
    team = Team.register(uuid.uuid4(), name, club)
    async with deps.uow() as uow:
        await uow.teams.add(team)
        await uow.commit()
    return team


@retried_once_on_connection_loss
async def create_venue(
    deps: ServiceDeps,
    name: str,
    street: str,
    zip: str,
    city: str,
    telephone: str | None = None,
    email: str | None = None,
) -> Venue:
    venue = Venue.register(uuid.uuid4(), name, street, zip, city, telephone, email)
    async with deps.uow() as uow:
        await uow.venues.add(venue)
        await uow.commit()
    return venue
