"""Fixture schedule use cases: create, move, re-venue, cancel. Each change is stored with
its event in the outbox, in one transaction; a refused change writes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.fixture import FixtureStatus, RefereeRole
from app.repos.tables import assignments, availabilities, fixtures
from app.services import fixtures as fixture_service

FIRST, SECOND = RefereeRole.FIRST, RefereeRole.SECOND
KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


def _ids(*items) -> list[str]:
    return sorted(str(i.id) for i in items)


async def test_create_fixture_stores_it_and_writes_fixture_created(deps, world) -> None:
    venue, home, away = await world.venue(), await world.team(), await world.team()
    seq = await world.last_seq()

    fixture = await fixture_service.create_fixture(deps, KICK_OFF, venue.id, home.id, away.id)

    assert await world.rows(fixtures) == [
        {
            "id": fixture.id,
            "date": KICK_OFF,
            "status": "SCHEDULED",
            "venue_id": venue.id,
            "team_home_id": home.id,
            "team_away_id": away.id,
            "first_referee_id": None,
            "second_referee_id": None,
            "version": 1,
        }
    ]
    assert await world.events(seq) == [
        (
            "FixtureCreated",
            "Fixture",
            fixture.id,
            1,
            {
                "fixture_id": str(fixture.id),
                "date": "2026-03-01T18:00:00+00:00",
                "venue_id": str(venue.id),
                "team_home_id": str(home.id),
                "team_away_id": str(away.id),
            },
        )
    ]


async def test_create_fixture_stores_the_instant_in_utc_whatever_the_offset_given(deps, world) -> None:
    berlin_evening = datetime(2026, 3, 1, 19, 0, tzinfo=timezone(timedelta(hours=1)))

    fixture = await world.fixture(berlin_evening)

    stored = (await world.row(fixtures))["date"]
    assert stored == KICK_OFF and stored.utcoffset() == timedelta(0)
    assert fixture.date == KICK_OFF


async def test_refused_fixture_creation_writes_nothing(deps, world) -> None:
    existing = await world.fixture(KICK_OFF)
    venue, home, away = await world.venue(), await world.team(), await world.team()
    before = await world.snapshot()

    refusals = [
        (InvalidInput, "SAME_TEAM", (KICK_OFF, venue.id, home.id, home.id)),
        (NotFound, "VENUE_NOT_FOUND", (KICK_OFF, uuid4(), home.id, away.id)),
        (NotFound, "TEAM_NOT_FOUND", (KICK_OFF, venue.id, uuid4(), away.id)),
        (NotFound, "TEAM_NOT_FOUND", (KICK_OFF, venue.id, home.id, uuid4())),
        (Conflict, "VENUE_BUSY", (KICK_OFF + timedelta(hours=3), existing.venue_id, home.id, away.id)),
        (Conflict, "TEAM_BUSY", (KICK_OFF + timedelta(hours=3), venue.id, existing.team_away_id, away.id)),
    ]
    for error, reason, args in refusals:
        with pytest.raises(error) as refused:
            await fixture_service.create_fixture(deps, *args)
        assert refused.value.reason == reason

    assert await world.snapshot() == before


async def test_change_fixture_date_moves_it_and_notifies_committed_and_declared_referees(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    committed, declared = await world.referee(), await world.referee()
    await world.committed(fixture.id, committed.id, FIRST)
    await world.declared(fixture.id, declared.id)
    seq = await world.last_seq()
    new_date = KICK_OFF + timedelta(days=7)

    moved = await fixture_service.change_fixture_date(deps, fixture.id, new_date)

    row = await world.row(fixtures)
    assert (row["date"], row["version"], row["first_referee_id"]) == (new_date, moved.version, committed.id)
    assert await world.events(seq) == [
        (
            "FixtureDateChanged",
            "Fixture",
            fixture.id,
            moved.version,
            {
                "fixture_id": str(fixture.id),
                "previous_date": KICK_OFF.isoformat(),
                "date": new_date.isoformat(),
                "concerned_referee_ids": _ids(committed, declared),
            },
        )
    ]


async def test_moving_a_fixture_to_its_own_date_writes_nothing(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    same_instant = KICK_OFF.astimezone(timezone(timedelta(hours=2)))
    before = await world.snapshot()

    same = await fixture_service.change_fixture_date(deps, fixture.id, same_instant)

    assert same.version == 1
    assert await world.snapshot() == before


async def test_moving_a_fixture_within_its_own_day_does_not_collide_with_itself(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)

    await fixture_service.change_fixture_date(deps, fixture.id, KICK_OFF + timedelta(hours=2))

    assert (await world.row(fixtures))["date"] == KICK_OFF + timedelta(hours=2)


async def test_change_fixture_venue_writes_venue_changed(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    declared = await world.referee()
    await world.declared(fixture.id, declared.id)
    venue = await world.venue()
    seq = await world.last_seq()

    moved = await fixture_service.change_fixture_venue(deps, fixture.id, venue.id)

    assert (await world.row(fixtures))["venue_id"] == venue.id
    assert await world.events(seq) == [
        (
            "FixtureVenueChanged",
            "Fixture",
            fixture.id,
            moved.version,
            {
                "fixture_id": str(fixture.id),
                "previous_venue_id": str(fixture.venue_id),
                "venue_id": str(venue.id),
                "concerned_referee_ids": [str(declared.id)],
            },
        )
    ]


async def test_refused_date_and_venue_changes_write_nothing(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    neighbour = await world.fixture(KICK_OFF + timedelta(hours=3))  # same day, elsewhere
    same_venue = await world.fixture(KICK_OFF + timedelta(days=1), venue=fixture.venue_id)
    same_team = await world.fixture(KICK_OFF + timedelta(days=2), home=fixture.team_home_id)
    cancelled = await world.fixture(KICK_OFF + timedelta(days=3))
    await fixture_service.cancel_fixture(deps, cancelled.id)
    later_that_day = KICK_OFF + timedelta(hours=4)
    before = await world.snapshot()

    refusals = [
        (NotFound, "FIXTURE_NOT_FOUND", lambda: fixture_service.change_fixture_date(deps, uuid4(), KICK_OFF)),
        (NotFound, "FIXTURE_NOT_FOUND", lambda: fixture_service.change_fixture_venue(deps, uuid4(), fixture.venue_id)),
        (NotFound, "VENUE_NOT_FOUND", lambda: fixture_service.change_fixture_venue(deps, fixture.id, uuid4())),
        (Conflict, "FIXTURE_CANCELLED", lambda: fixture_service.change_fixture_date(deps, cancelled.id, KICK_OFF)),
        (
            Conflict,
            "FIXTURE_CANCELLED",
            lambda: fixture_service.change_fixture_venue(deps, cancelled.id, fixture.venue_id),
        ),
        (Conflict, "VENUE_BUSY", lambda: fixture_service.change_fixture_venue(deps, fixture.id, neighbour.venue_id)),
        (Conflict, "VENUE_BUSY", lambda: fixture_service.change_fixture_date(deps, same_venue.id, later_that_day)),
        (Conflict, "TEAM_BUSY", lambda: fixture_service.change_fixture_date(deps, same_team.id, later_that_day)),
    ]
    for error, reason, command in refusals:
        with pytest.raises(error) as refused:
            await command()
        assert refused.value.reason == reason, reason

    assert await world.snapshot() == before


async def test_cancel_fixture_drops_staged_keeps_committed_and_writes_fixture_cancelled(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    first, second, declared = await world.referee(), await world.referee(), await world.referee()
    await world.committed(fixture.id, first.id, FIRST)
    await world.staged(fixture.id, second.id, SECOND)
    await world.declared(fixture.id, declared.id)
    seq = await world.last_seq()

    cancelled = await fixture_service.cancel_fixture(deps, fixture.id)

    row = await world.row(fixtures)
    assert (row["status"], row["first_referee_id"], row["second_referee_id"]) == ("CANCELLED", first.id, None)
    assert cancelled.status is FixtureStatus.CANCELLED
    assert [(a["referee_id"], a["role"], a["status"]) for a in await world.rows(assignments)] == [
        (first.id, "FIRST", "COMMITTED")
    ]
    assert len(await world.rows(availabilities)) == 3  # declarations stay on record
    assert await world.events(seq) == [
        (
            "FixtureCancelled",
            "Fixture",
            fixture.id,
            cancelled.version,
            {
                "fixture_id": str(fixture.id),
                "concerned_referee_ids": _ids(first, second, declared),
                "removed_staged_referee_ids": [str(second.id)],
            },
        )
    ]


async def test_cancelling_twice_is_refused_and_writes_nothing(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    await fixture_service.cancel_fixture(deps, fixture.id)
    before = await world.snapshot()

    with pytest.raises(Conflict) as refused:
        await fixture_service.cancel_fixture(deps, fixture.id)
    with pytest.raises(NotFound) as unknown:
        await fixture_service.cancel_fixture(deps, uuid4())

    assert (refused.value.reason, unknown.value.reason) == ("ALREADY_CANCELLED", "FIXTURE_NOT_FOUND")
    assert await world.snapshot() == before


async def test_a_cancelled_fixture_frees_its_venue_and_teams_for_that_day(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    await fixture_service.cancel_fixture(deps, fixture.id)

    replay = await world.fixture(
        KICK_OFF + timedelta(hours=1), venue=fixture.venue_id, home=fixture.team_home_id, away=fixture.team_away_id
    )

    assert [r["id"] for r in await world.rows(fixtures, fixtures.c.status == "SCHEDULED")] == [replay.id]


async def test_each_save_of_a_fixture_stamps_its_events_with_the_next_version(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee = await world.referee()
    await world.committed(fixture.id, referee.id, FIRST)  # declare, stage, commit
    await fixture_service.change_fixture_date(deps, fixture.id, KICK_OFF + timedelta(days=1))
    await fixture_service.cancel_fixture(deps, fixture.id)

    fixture_events = [(e[0], e[3]) for e in await world.events() if e[2] == fixture.id]
    assert fixture_events == [
        ("FixtureCreated", 1),
        ("AvailabilityDeclared", 2),
        ("AssignmentStaged", 3),
        ("RefereesChanged", 4),
        ("FixtureDateChanged", 5),
        ("FixtureCancelled", 6),
    ]
    assert (await world.row(fixtures))["version"] == 6
