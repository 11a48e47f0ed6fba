"""Use cases of the fixture schedule: create, move, re-venue, cancel."""

from __future__ import annotations

import uuid
from datetime import datetime
from uuid import UUID

from app.domain.fixture import Fixture, ScheduledFixture, ensure_different_teams
from app.repos.uow import UnitOfWork
from app.services.deps import ServiceDeps, found, retried_once_on_connection_loss


@retried_once_on_connection_loss
async def create_fixture(
    deps: ServiceDeps, date: datetime, venue_id: UUID, team_home_id: UUID, team_away_id: UUID
) -> Fixture:
    ensure_different_teams(team_home_id, team_away_id)
    async with deps.uow() as uow:
        found(await uow.venues.get(venue_id), "venue", venue_id)
        found(await uow.teams.get(team_home_id), "team", team_home_id)
        found(await uow.teams.get(team_away_id), "team", team_away_id)
        others = await _same_day(uow, deps, date)
        fixture = Fixture.schedule(uuid.uuid4(), date, venue_id, team_home_id, team_away_id, others, deps.calendar)
        await uow.fixtures.add(fixture)
        await uow.commit()
    return fixture


@retried_once_on_connection_loss
async def change_fixture_date(deps: ServiceDeps, fixture_id: UUID, date: datetime) -> Fixture:
    async with deps.uow() as uow:
        fixture = found(await uow.fixtures.get(fixture_id), "fixture", fixture_id)
        fixture.change_date(date, await _same_day(uow, deps, date), deps.calendar)
        await _save_if_changed(uow, fixture)
    return fixture


@retried_once_on_connection_loss
async def change_fixture_venue(deps: ServiceDeps, fixture_id: UUID, venue_id: UUID) -> Fixture:
    async with deps.uow() as uow:
        fixture = found(await uow.fixtures.get(fixture_id), "fixture", fixture_id)
        found(await uow.venues.get(venue_id), "venue", venue_id)
        fixture.change_venue(venue_id, await _same_day(uow, deps, fixture.date), deps.calendar)
        await _save_if_changed(uow, fixture)
    return fixture


@retried_once_on_connection_loss
async def cancel_fixture(deps: ServiceDeps, fixture_id: UUID) -> Fixture:
    async with deps.uow() as uow:
        fixture = found(await uow.fixtures.get(fixture_id), "fixture", fixture_id)
        fixture.cancel()
        await _save_if_changed(uow, fixture)
    return fixture


async def _same_day(uow: UnitOfWork, deps: ServiceDeps, date: datetime) -> list[ScheduledFixture]:
    start, end = deps.calendar.day_bounds(date)
    return await uow.fixtures.scheduled_between(start, end)


async def _save_if_changed(uow: UnitOfWork, fixture: Fixture) -> None:
    """A command that changed nothing (same date, same venue) writes nothing."""
    if fixture.events:
        await uow.fixtures.save(fixture)
        await uow.commit()
