"""Optimistic concurrency: an aggregate saved from a stale read is refused with
CONCURRENT_UPDATE and changes nothing; concurrent writers never lose an update.

On SQLite, write transactions begin IMMEDIATE, so writers queue and both succeed; on
PostgreSQL two writers can really collide, and then exactly one of them is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from app.domain.errors import ConcurrentUpdate
from app.domain.fixture import RefereeRole
from app.repos.tables import availabilities, fixtures
from app.repos.uow import UnitOfWork
from app.services import assignments as assignment_service
from app.services import availability
from app.services import fixtures as fixture_service
from app.services.directory import change_referee_club

KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)
RUNS = 6


async def _race(*commands: Awaitable[Any]) -> list[Any]:
    """Run the commands concurrently; their results or the exceptions they raised."""
    return await asyncio.wait_for(asyncio.gather(*commands, return_exceptions=True), timeout=60)


def _refused(outcome: Any) -> bool:
    """True when the command lost the race; any other exception is a test failure."""
    if isinstance(outcome, BaseException):
        assert isinstance(outcome, ConcurrentUpdate), repr(outcome)
        assert (outcome.code, outcome.reason) == ("CONFLICT", "CONCURRENT_UPDATE")
        return True
    return False


# --- stale aggregates ------------------------------------------------------------------


async def test_saving_a_stale_fixture_is_refused_and_changes_nothing(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee = await world.referee()
    async with UnitOfWork(deps.engine) as uow:
        stale = await uow.fixtures.get(fixture.id)
    await fixture_service.change_fixture_date(deps, fixture.id, KICK_OFF + timedelta(days=1))
    before = await world.snapshot()

    stale.stage(referee.id, RefereeRole.FIRST, KICK_OFF - timedelta(days=1))
    with pytest.raises(ConcurrentUpdate) as refused:
        async with UnitOfWork(deps.engine) as uow:
            await uow.fixtures.save(stale)
            await uow.commit()

    assert refused.value.reason == "CONCURRENT_UPDATE"
    assert await world.snapshot() == before


async def test_saving_a_stale_availability_lock_is_refused_and_changes_nothing(deps, world, clock) -> None:
    async with UnitOfWork(deps.engine) as uow:
        stale = await uow.lock.get()
    await availability.lock_availabilities(deps)
    await availability.unlock_availabilities(deps)
    before = await world.snapshot()

    stale.lock(clock.advance())
    with pytest.raises(ConcurrentUpdate) as refused:
        async with UnitOfWork(deps.engine) as uow:
            await uow.lock.save(stale)
            await uow.commit()

    assert refused.value.reason == "CONCURRENT_UPDATE"
    assert await world.snapshot() == before


async def test_saving_a_stale_referee_is_refused_and_changes_nothing(deps, world) -> None:
    referee = await world.referee(club="VC Nord")
    async with UnitOfWork(deps.engine) as uow:
        stale = await uow.referees.get(referee.id)
    await change_referee_club(deps, referee.id, "SC Süd")
    before = await world.snapshot()

    stale.change_club("TV West")
    with pytest.raises(ConcurrentUpdate):
        async with UnitOfWork(deps.engine) as uow:
            await uow.referees.save(stale)
            await uow.commit()

    assert await world.snapshot() == before


# --- concurrent writers ---------------------------------------------------------------------


async def test_concurrent_date_and_venue_changes_never_lose_an_update(deps, world) -> None:
    for run in range(RUNS):
        fixture = await world.fixture(KICK_OFF + timedelta(days=2 * run))
        new_date, new_venue = fixture.date + timedelta(hours=2), (await world.venue()).id

        moved, revenued = await _race(
            fixture_service.change_fixture_date(deps, fixture.id, new_date),
            fixture_service.change_fixture_venue(deps, fixture.id, new_venue),
        )

        row = await world.row(fixtures, fixtures.c.id == fixture.id)
        lost = [_refused(moved), _refused(revenued)]
        assert lost.count(True) <= 1, "at most one writer loses the race"
        assert (row["date"] == new_date) is not lost[0]
        assert (row["venue_id"] == new_venue) is not lost[1]
        assert row["version"] == 1 + lost.count(False)
        versions = [e[3] for e in await world.events() if e[2] == fixture.id]
        assert versions == list(range(1, row["version"] + 1)), "one event per save, versions in order"


async def test_concurrent_declarations_by_two_referees_never_lose_one(deps, world) -> None:
    for run in range(RUNS):
        fixture = await world.fixture(KICK_OFF + timedelta(days=run))
        anna, ben = await world.referee(), await world.referee()

        outcomes = await _race(
            availability.declare_availability(deps, fixture.id, anna.id),
            availability.declare_availability(deps, fixture.id, ben.id),
        )

        lost = [_refused(o) for o in outcomes]
        assert lost.count(True) <= 1
        stored = {r["referee_id"] for r in await world.rows(availabilities, availabilities.c.fixture_id == fixture.id)}
        assert stored == {r.id for r, refused in zip((anna, ben), lost) if not refused}
        events = await world.events()
        declared = [e[4]["referee_id"] for e in events if e[2] == fixture.id and e[0] == "AvailabilityDeclared"]
        assert sorted(declared) == sorted(str(r) for r in stored)


async def test_no_declaration_lands_after_the_lock_that_raced_it(deps, world) -> None:
    for run in range(RUNS):
        await availability.unlock_availabilities(deps)
        fixture = await world.fixture(KICK_OFF + timedelta(days=run))
        referee = await world.referee()
        seq = await world.last_seq()

        declared, locked = await _race(
            availability.declare_availability(deps, fixture.id, referee.id),
            availability.lock_availabilities(deps),
        )

        assert not isinstance(locked, BaseException), repr(locked)
        types = [e[0] for e in await world.events(seq)]
        if isinstance(declared, BaseException):
            assert getattr(declared, "reason", None) in {"AVAILABILITIES_LOCKED", "CONCURRENT_UPDATE"}, repr(declared)
            assert types == ["AvailabilityLockChanged"]
        else:
            assert types == ["AvailabilityDeclared", "AvailabilityLockChanged"]


async def test_concurrent_commits_commit_the_staged_assignments_exactly_once(deps, world) -> None:
    for run in range(RUNS):
        fixture = await world.fixture(KICK_OFF + timedelta(days=run))
        first, second = await world.referee(), await world.referee()
        await world.staged(fixture.id, first.id, RefereeRole.FIRST)
        await world.staged(fixture.id, second.id, RefereeRole.SECOND)
        seq = await world.last_seq()

        outcomes = await _race(
            assignment_service.commit_staged_assignments(deps),
            assignment_service.commit_staged_assignments(deps),
        )

        done = [o for o in outcomes if not _refused(o)]
        assert sum(not commit.empty for commit in done) == 1
        row = await world.row(fixtures, fixtures.c.id == fixture.id)
        assert (row["first_referee_id"], row["second_referee_id"]) == (first.id, second.id)
        assert [e[0] for e in await world.events(seq)] == ["RefereesChanged", "AssignmentsCommitted"]
