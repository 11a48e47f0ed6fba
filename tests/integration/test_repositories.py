"""Repositories map aggregates to rows and back without loss; the UnitOfWork is the
transaction: nothing persists without commit()."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.domain.availability_lock import LOCK_ID, AvailabilityLock
from app.domain.directory import Referee, Team, Venue
from app.domain.fixture import Assignment, AssignmentStatus, Fixture, FixtureStatus, RefereeRole, ScheduledFixture
from app.repos.tables import assignments, availabilities, fixtures, outbox, referees
from app.repos.uow import UnitOfWork
from app.services.fixtures import change_fixture_date

FIRST, SECOND = RefereeRole.FIRST, RefereeRole.SECOND
STAGED, COMMITTED = AssignmentStatus.STAGED, AssignmentStatus.COMMITTED
BERLIN_EVENING = datetime(2026, 3, 1, 18, 30, tzinfo=timezone(timedelta(hours=1)))


async def _directory(engine, referee_count: int = 3):
    """Referees, a venue and two teams stored straight through the repositories."""
    refs = [Referee(uuid4(), f"Referee {i}", "VC Nord") for i in range(referee_count)]
    venue = Venue(uuid4(), "Sporthalle Mitte", "Hauptstr. 1", "10115", "Berlin", "+49 30 1234", "halle@example.org")
    home, away = Team(uuid4(), "Falcons", "VC Nord"), Team(uuid4(), "Eagles", "SC Süd")
    async with UnitOfWork(engine) as uow:
        for referee in refs:
            await uow.referees.add(referee)
        await uow.venues.add(venue)
        await uow.teams.add(home)
        await uow.teams.add(away)
        await uow.commit()
    return refs, venue, home, away


async def _stored_fixture(engine, date: datetime = BERLIN_EVENING):
    """A fixture with three declared referees: the first committed FIRST, the second staged SECOND."""
    refs, venue, home, away = await _directory(engine)
    a, b, c = (r.id for r in refs)
    fixture_id = uuid4()
    fixture = Fixture(
        fixture_id,
        date=date,
        venue_id=venue.id,
        team_home_id=home.id,
        team_away_id=away.id,
        available_referee_ids={a, b, c},
        assignments={
            a: Assignment(fixture_id, a, FIRST, COMMITTED),
            b: Assignment(fixture_id, b, SECOND, STAGED),
        },
    )
    async with UnitOfWork(engine) as uow:
        await uow.fixtures.add(fixture)
        await uow.commit()
    return fixture, refs, venue, home, away


def _venue_fields(venue: Venue) -> tuple:
    return (venue.id, venue.name, venue.street, venue.zip, venue.city, venue.telephone, venue.email)


async def test_referee_round_trips_and_save_bumps_its_version(engine) -> None:
    referee = Referee(uuid4(), "Anna Schmidt", "VC Nord")
    async with UnitOfWork(engine) as uow:
        await uow.referees.add(referee)
        await uow.commit()
    assert referee.version == 1

    async with UnitOfWork(engine) as uow:
        loaded = await uow.referees.get(referee.id)
        assert (loaded.id, loaded.name, loaded.club, loaded.version) == (referee.id, "Anna Schmidt", "VC Nord", 1)
        loaded.club = "SC Süd"
        await uow.referees.save(loaded)
        await uow.commit()

    async with UnitOfWork(engine) as uow:
        again = await uow.referees.get(referee.id)
    assert (again.club, again.version) == ("SC Süd", 2)


async def test_team_and_venue_round_trip_with_optional_fields(engine) -> None:
    team = Team(uuid4(), "Falcons", "VC Nord")
    full = Venue(uuid4(), "Sporthalle Mitte", "Hauptstr. 1", "10115", "Berlin", "+49 30 1234", "halle@example.org")
    bare = Venue(uuid4(), "Schulhalle", "Weg 2", "20095", "Hamburg")
    async with UnitOfWork(engine) as uow:
        await uow.teams.add(team)
        await uow.venues.add(full)
        await uow.venues.add(bare)
        await uow.commit()

    async with UnitOfWork(engine) as uow:
        loaded_team = await uow.teams.get(team.id)
        loaded_full = await uow.venues.get(full.id)
        loaded_bare = await uow.venues.get(bare.id)
    assert (loaded_team.id, loaded_team.name, loaded_team.club) == (team.id, "Falcons", "VC Nord")
    assert _venue_fields(loaded_full) == _venue_fields(full)
    assert _venue_fields(loaded_bare) == _venue_fields(bare)
    assert (loaded_bare.telephone, loaded_bare.email) == (None, None)


async def test_unknown_ids_load_as_none(engine) -> None:
    async with UnitOfWork(engine) as uow:
        assert await uow.referees.get(uuid4()) is None
        assert await uow.teams.get(uuid4()) is None
        assert await uow.venues.get(uuid4()) is None
        assert await uow.fixtures.get(uuid4()) is None


async def test_fixture_round_trips_with_availabilities_and_staged_and_committed_assignments(engine, world) -> None:
    fixture, refs, venue, home, away = await _stored_fixture(engine)
    a, b, c = (r.id for r in refs)

    async with UnitOfWork(engine) as uow:
        loaded = await uow.fixtures.get(fixture.id)

    assert loaded.id == fixture.id
    assert loaded.date == BERLIN_EVENING
    assert loaded.date.utcoffset() == timedelta(0)  # stored and returned as UTC
    assert (loaded.venue_id, loaded.team_home_id, loaded.team_away_id) == (venue.id, home.id, away.id)
    assert loaded.status is FixtureStatus.SCHEDULED
    assert loaded.version == 1
    assert loaded.available_referee_ids == {a, b, c}
    assert loaded.assignments == {
        a: Assignment(fixture.id, a, FIRST, COMMITTED),
        b: Assignment(fixture.id, b, SECOND, STAGED),
    }
    row = await world.row(fixtures, fixtures.c.id == fixture.id)
    assert (row["first_referee_id"], row["second_referee_id"]) == (a, None)  # committed referees only


async def test_fixture_save_replaces_its_children_and_bumps_the_version(engine, world) -> None:
    fixture, refs, *_ = await _stored_fixture(engine)
    a, b, c = (r.id for r in refs)

    async with UnitOfWork(engine) as uow:
        loaded = await uow.fixtures.get(fixture.id)
        loaded.available_referee_ids.discard(c)
        loaded.assignments[b] = Assignment(fixture.id, b, SECOND, COMMITTED)
        loaded.status = FixtureStatus.CANCELLED
        await uow.fixtures.save(loaded)
        await uow.commit()
    assert loaded.version == 2

    async with UnitOfWork(engine) as uow:
        again = await uow.fixtures.get(fixture.id)
    assert again.version == 2
    assert again.status is FixtureStatus.CANCELLED
    assert again.available_referee_ids == {a, b}
    assert again.assignments == {
        a: Assignment(fixture.id, a, FIRST, COMMITTED),
        b: Assignment(fixture.id, b, SECOND, COMMITTED),
    }
    row = await world.row(fixtures, fixtures.c.id == fixture.id)
    assert (row["first_referee_id"], row["second_referee_id"], row["version"]) == (a, b, 2)
    assert len(await world.rows(availabilities, availabilities.c.fixture_id == fixture.id)) == 2
    assert len(await world.rows(assignments, assignments.c.fixture_id == fixture.id)) == 2


async def test_fixture_queries_select_by_staged_held_and_schedule_window(engine) -> None:
    fixture, refs, venue, home, away = await _stored_fixture(engine)
    a, b, c = (r.id for r in refs)
    later = Fixture(uuid4(), BERLIN_EVENING + timedelta(days=1), venue.id, home.id, away.id)
    cancelled = Fixture(
        uuid4(), BERLIN_EVENING + timedelta(hours=1), venue.id, home.id, away.id, status=FixtureStatus.CANCELLED
    )
    async with UnitOfWork(engine) as uow:
        await uow.fixtures.add(later)
        await uow.fixtures.add(cancelled)
        await uow.commit()

    async with UnitOfWork(engine) as uow:
        many = await uow.fixtures.get_many([later.id, uuid4(), fixture.id])
        staged = await uow.fixtures.with_staged_assignments()
        held_by_a = await uow.fixtures.held_by([a])
        held_by_b = await uow.fixtures.held_by([b, c])
        window = await uow.fixtures.scheduled_between(BERLIN_EVENING, BERLIN_EVENING + timedelta(days=1))

    assert [f.id for f in many] == [fixture.id, later.id]  # by date; unknown ids left out
    assert [f.id for f in staged] == [fixture.id]
    assert [f.id for f in held_by_a] == [fixture.id]
    assert held_by_b == []  # b's assignment is only staged
    # [start, end): `later` starts exactly at the end; the cancelled one never counts
    assert window == [ScheduledFixture(fixture.id, BERLIN_EVENING, venue.id, home.id, away.id)]


async def test_availability_lock_round_trips_and_save_bumps_its_version(engine) -> None:
    changed_at = datetime(2026, 2, 1, 9, 0, 0, 250000, tzinfo=timezone.utc)
    async with UnitOfWork(engine) as uow:
        lock = await uow.lock.get()
        assert (lock.id, lock.locked, lock.changed_at, lock.version) == (LOCK_ID, False, None, 0)
        lock.lock(changed_at)
        await uow.lock.save(lock)
        await uow.commit()

    async with UnitOfWork(engine) as uow:
        loaded: AvailabilityLock = await uow.lock.get(hold=True)
    assert (loaded.locked, loaded.changed_at, loaded.version) == (True, changed_at, 1)


async def test_unit_of_work_without_commit_persists_nothing(engine, world) -> None:
    async with UnitOfWork(engine) as uow:
        await uow.referees.add(Referee.register(uuid4(), "Anna", "VC Nord"))

    with pytest.raises(RuntimeError, match="boom"):
        async with UnitOfWork(engine) as uow:
            await uow.referees.add(Referee.register(uuid4(), "Ben", "VC Nord"))
            raise RuntimeError("boom")

    assert await world.rows(referees) == []
    assert await world.rows(outbox) == []


async def test_unit_of_work_refuses_to_commit_an_aggregate_changed_but_not_saved(engine, world) -> None:
    referee = Referee(uuid4(), "Anna", "VC Nord")
    async with UnitOfWork(engine) as uow:
        await uow.referees.add(referee)
        await uow.commit()

    with pytest.raises(RuntimeError, match="not saved"):
        async with UnitOfWork(engine) as uow:
            loaded = await uow.referees.get(referee.id)
            loaded.change_club("SC Süd")
            await uow.commit()

    assert (await world.row(referees))["club"] == "VC Nord"
    assert await world.rows(outbox) == []


def _refuse_outbox_inserts(backend: str) -> list[str]:
    if backend == "sqlite":
        return ["CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"]
    return [
        "CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'outbox refused'; END $$",
        "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_outbox()",
    ]


async def test_a_change_whose_outbox_rows_cannot_be_written_is_rolled_back(deps, world, backend) -> None:
    fixture = await world.fixture(BERLIN_EVENING)
    for ddl in _refuse_outbox_inserts(backend):
        await world.execute(text(ddl))
    before = await world.snapshot()

    with pytest.raises(DBAPIError, match="outbox refused"):
        await change_fixture_date(deps, fixture.id, BERLIN_EVENING + timedelta(days=1))

    assert await world.snapshot() == before
