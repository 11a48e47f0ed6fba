"""The database itself guards referential integrity and the assignment invariants,
whatever code writes to it."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from app.repos.tables import assignments, availabilities, fixtures, notifications

KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


def _assignment(fixture_id, referee_id, role: str, status: str) -> dict:
    return {"fixture_id": fixture_id, "referee_id": referee_id, "role": role, "status": status}


async def test_availability_of_an_unknown_referee_violates_a_foreign_key(world) -> None:
    fixture = await world.fixture(KICK_OFF)

    with pytest.raises(IntegrityError):
        await world.execute(insert(availabilities).values(fixture_id=fixture.id, referee_id=uuid4()))

    assert await world.rows(availabilities) == []


async def test_assignment_on_an_unknown_fixture_violates_a_foreign_key(world) -> None:
    referee = await world.referee()

    with pytest.raises(IntegrityError):
        await world.execute(insert(assignments).values(_assignment(uuid4(), referee.id, "FIRST", "STAGED")))


async def test_notification_of_an_unknown_referee_violates_a_foreign_key(world) -> None:
    fixture = await world.fixture(KICK_OFF)

    with pytest.raises(IntegrityError):
        await world.execute(
            insert(notifications).values(
                id=uuid4(),
                referee_id=uuid4(),
                fixture_id=fixture.id,
                kind="ASSIGNED",
                message="You referee.",
                created_at=KICK_OFF,
                read=False,
            )
        )


async def test_a_referee_holds_at_most_one_assignment_per_fixture(world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee = await world.referee()
    await world.execute(insert(assignments).values(_assignment(fixture.id, referee.id, "FIRST", "STAGED")))

    with pytest.raises(IntegrityError):
        await world.execute(insert(assignments).values(_assignment(fixture.id, referee.id, "SECOND", "STAGED")))

    assert len(await world.rows(assignments)) == 1


async def test_two_committed_referees_for_one_role_of_one_fixture_are_refused(world) -> None:
    fixture = await world.fixture(KICK_OFF)
    one, two = await world.referee(), await world.referee()
    await world.execute(insert(assignments).values(_assignment(fixture.id, one.id, "FIRST", "COMMITTED")))

    with pytest.raises(IntegrityError):
        await world.execute(insert(assignments).values(_assignment(fixture.id, two.id, "FIRST", "COMMITTED")))

    assert [a["referee_id"] for a in await world.rows(assignments)] == [one.id]


async def test_committed_role_uniqueness_ignores_staged_assignments_and_other_fixtures(world) -> None:
    fixture, other = await world.fixture(KICK_OFF), await world.fixture(KICK_OFF)
    one, two, three = await world.referee(), await world.referee(), await world.referee()

    await world.execute(
        insert(assignments).values(
            [
                _assignment(fixture.id, one.id, "FIRST", "COMMITTED"),
                _assignment(fixture.id, two.id, "FIRST", "STAGED"),
                _assignment(fixture.id, three.id, "FIRST", "STAGED"),
                _assignment(other.id, two.id, "FIRST", "COMMITTED"),
            ]
        )
    )

    assert len(await world.rows(assignments)) == 4


async def test_role_and_status_must_be_known_values(world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee = await world.referee()

    with pytest.raises(IntegrityError):
        await world.execute(insert(assignments).values(_assignment(fixture.id, referee.id, "THIRD", "STAGED")))
    with pytest.raises(IntegrityError):
        await world.execute(insert(assignments).values(_assignment(fixture.id, referee.id, "FIRST", "MAYBE")))
    with pytest.raises(IntegrityError):
        await world.execute(update(fixtures).where(fixtures.c.id == fixture.id).values(status="POSTPONED"))


async def test_a_team_cannot_play_itself_in_the_database_either(world) -> None:
    fixture = await world.fixture(KICK_OFF)

    with pytest.raises(IntegrityError):
        await world.execute(
            update(fixtures).where(fixtures.c.id == fixture.id).values(team_away_id=fixture.team_home_id)
        )
