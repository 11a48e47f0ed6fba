"""Directory use cases store referees, teams and venues and record their events in the
outbox, in the same transaction."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from app.domain.errors import InvalidInput, NotFound
from app.repos.tables import outbox, referees, teams, venues
from app.services import directory


async def test_create_referee_stores_it_and_writes_referee_created(deps, world, clock) -> None:
    referee = await directory.create_referee(deps, "  Anna Schmidt ", "VC Nord")

    assert await world.rows(referees) == [{"id": referee.id, "name": "Anna Schmidt", "club": "VC Nord", "version": 1}]
    assert await world.events() == [
        (
            "RefereeCreated",
            "Referee",
            referee.id,
            1,
            {"referee_id": str(referee.id), "name": "Anna Schmidt", "club": "VC Nord"},
        )
    ]
    row = (await world.rows(outbox))[0]
    assert row["created_at"] == clock.now
    assert row["published_at"] is None


async def test_change_referee_club_bumps_the_version_and_writes_club_changed(deps, world) -> None:
    referee = await world.referee(club="VC Nord")
    seq = await world.last_seq()

    changed = await directory.change_referee_club(deps, referee.id, " SC Süd ")

    assert (changed.club, changed.version) == ("SC Süd", 2)
    assert (await world.row(referees))["club"] == "SC Süd"
    assert await world.events(seq) == [
        ("RefereeClubChanged", "Referee", referee.id, 2, {"referee_id": str(referee.id), "club": "SC Süd"})
    ]


async def test_changing_a_referee_to_the_same_club_writes_nothing(deps, world) -> None:
    referee = await world.referee(club="VC Nord")
    before = await world.snapshot()

    unchanged = await directory.change_referee_club(deps, referee.id, "VC Nord")

    assert (unchanged.club, unchanged.version) == ("VC Nord", 1)
    assert await world.snapshot() == before


async def test_refused_directory_commands_change_nothing(deps, world) -> None:
    referee = await world.referee()
    before = await world.snapshot()

    with pytest.raises(NotFound) as unknown:
        await directory.change_referee_club(deps, uuid4(), "SC Süd")
    with pytest.raises(InvalidInput) as blank:
        await directory.change_referee_club(deps, referee.id, "   ")
    with pytest.raises(InvalidInput) as email:
        await directory.create_venue(deps, "Hall", "Street 1", "10115", "Berlin", email="not-an-email")

    assert unknown.value.reason == "REFEREE_NOT_FOUND"
    assert blank.value.reason == "INVALID_TEXT"
    assert email.value.reason == "INVALID_EMAIL"
    assert await world.snapshot() == before


async def test_create_team_stores_it_and_writes_team_created(deps, world) -> None:
    team = await directory.create_team(deps, "Falcons", "VC Nord")

    assert await world.rows(teams) == [{"id": team.id, "name": "Falcons", "club": "VC Nord"}]
    assert await world.events() == [
        ("TeamCreated", "Team", team.id, 1, {"team_id": str(team.id), "name": "Falcons", "club": "VC Nord"})
    ]


async def test_create_venue_stores_it_and_writes_venue_created(deps, world) -> None:
    venue = await directory.create_venue(deps, "Sporthalle", "Hauptstr. 1", "10115", "Berlin", "", " a@b.de ")

    assert await world.rows(venues) == [
        {
            "id": venue.id,
            "name": "Sporthalle",
            "street": "Hauptstr. 1",
            "zip": "10115",
            "city": "Berlin",
            "telephone": None,
            "email": "a@b.de",
        }
    ]
    assert await world.events() == [
        ("VenueCreated", "Venue", venue.id, 1, {"venue_id": str(venue.id), "name": "Sporthalle"})
    ]


async def test_outbox_rows_are_stamped_with_the_clock_of_their_transaction(deps, world, clock) -> None:
    first = await world.referee()
    later = clock.advance(timedelta(minutes=5))
    second = await world.referee()

    rows = await world.rows(outbox)
    assert [(r["aggregate_id"], r["created_at"]) for r in rows] == [
        (first.id, later - timedelta(minutes=5)),
        (second.id, later),
    ]
    assert len({r["id"] for r in rows}) == 2
