"""Availability use cases: referees declare and withdraw on fixtures; the admin locks and
unlocks the global availability lock (idempotently)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from app.domain.availability_lock import LOCK_ID
from app.domain.errors import Conflict, NotFound
from app.domain.fixture import RefereeRole
from app.repos.tables import availabilities, availability_lock, fixtures
from app.services import availability, fixtures as fixture_service

KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


async def test_declare_availability_stores_it_and_writes_availability_declared(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee = await world.referee()
    seq = await world.last_seq()

    declared = await availability.declare_availability(deps, fixture.id, referee.id)

    assert declared.available_referee_ids == {referee.id}
    assert await world.rows(availabilities) == [{"fixture_id": fixture.id, "referee_id": referee.id}]
    assert (await world.row(fixtures))["version"] == 2
    assert await world.events(seq) == [
        (
            "AvailabilityDeclared",
            "Fixture",
            fixture.id,
            2,
            {"fixture_id": str(fixture.id), "referee_id": str(referee.id)},
        )
    ]


async def test_withdraw_availability_removes_it_and_writes_availability_withdrawn(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee, stays = await world.referee(), await world.referee()
    await world.declared(fixture.id, referee.id, stays.id)
    seq = await world.last_seq()

    await availability.withdraw_availability(deps, fixture.id, referee.id)

    assert await world.rows(availabilities) == [{"fixture_id": fixture.id, "referee_id": stays.id}]
    assert await world.events(seq) == [
        (
            "AvailabilityWithdrawn",
            "Fixture",
            fixture.id,
            4,
            {"fixture_id": str(fixture.id), "referee_id": str(referee.id)},
        )
    ]


async def test_refused_declarations_and_withdrawals_write_nothing(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    declared, assigned, idle = await world.referee(), await world.referee(), await world.referee()
    await world.declared(fixture.id, declared.id)
    await world.committed(fixture.id, assigned.id, RefereeRole.FIRST)
    cancelled = await world.fixture(KICK_OFF + timedelta(days=1))
    await world.declared(cancelled.id, declared.id)
    await fixture_service.cancel_fixture(deps, cancelled.id)
    before = await world.snapshot()

    refusals = [
        (NotFound, "FIXTURE_NOT_FOUND", availability.declare_availability, uuid4(), idle.id),
        (NotFound, "REFEREE_NOT_FOUND", availability.declare_availability, fixture.id, uuid4()),
        (NotFound, "REFEREE_NOT_FOUND", availability.withdraw_availability, fixture.id, uuid4()),
        (Conflict, "FIXTURE_CANCELLED", availability.declare_availability, cancelled.id, idle.id),
        (Conflict, "FIXTURE_CANCELLED", availability.withdraw_availability, cancelled.id, declared.id),
        (Conflict, "ALREADY_DECLARED", availability.declare_availability, fixture.id, declared.id),
        (Conflict, "NOT_DECLARED", availability.withdraw_availability, fixture.id, idle.id),
        (Conflict, "REFEREE_ASSIGNED", availability.withdraw_availability, fixture.id, assigned.id),
    ]
    for error, reason, command, fixture_id, referee_id in refusals:
        with pytest.raises(error) as refused:
            await command(deps, fixture_id, referee_id)
        assert refused.value.reason == reason, reason

    assert await world.snapshot() == before


async def test_lock_availabilities_locks_and_writes_lock_changed(deps, world, clock) -> None:
    lock = await availability.lock_availabilities(deps)

    assert (lock.locked, lock.changed_at, lock.version) == (True, clock.now, 1)
    assert await world.rows(availability_lock) == [
        {"id": LOCK_ID, "locked": True, "changed_at": clock.now, "version": 1}
    ]
    assert await world.events() == [
        (
            "AvailabilityLockChanged",
            "AvailabilityLock",
            LOCK_ID,
            1,
            {"lock_id": str(LOCK_ID), "locked": True, "changed_at": clock.now.isoformat()},
        )
    ]


async def test_locking_is_idempotent_and_keeps_changed_at(deps, world, clock) -> None:
    locked_at = clock.now
    await availability.lock_availabilities(deps)
    clock.advance(timedelta(hours=1))
    before = await world.snapshot()

    again = await availability.lock_availabilities(deps)

    assert (again.locked, again.changed_at, again.version) == (True, locked_at, 1)
    assert await world.snapshot() == before


async def test_unlock_availabilities_unlocks_and_is_idempotent(deps, world, clock) -> None:
    await availability.lock_availabilities(deps)
    unlocked_at = clock.advance(timedelta(hours=1))
    seq = await world.last_seq()

    lock = await availability.unlock_availabilities(deps)
    again = await availability.unlock_availabilities(deps)

    assert (lock.locked, lock.changed_at, lock.version) == (False, unlocked_at, 2)
    assert (again.locked, again.changed_at, again.version) == (False, unlocked_at, 2)
    assert [(e[0], e[3], e[4]["locked"]) for e in await world.events(seq)] == [("AvailabilityLockChanged", 2, False)]


async def test_while_locked_referees_can_neither_declare_nor_withdraw(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    declared, idle = await world.referee(), await world.referee()
    await world.declared(fixture.id, declared.id)
    await availability.lock_availabilities(deps)
    before = await world.snapshot()

    with pytest.raises(Conflict) as declaring:
        await availability.declare_availability(deps, fixture.id, idle.id)
    with pytest.raises(Conflict) as withdrawing:
        await availability.withdraw_availability(deps, fixture.id, declared.id)

    assert (declaring.value.reason, withdrawing.value.reason) == ("AVAILABILITIES_LOCKED", "AVAILABILITIES_LOCKED")
    assert await world.snapshot() == before

    await availability.unlock_availabilities(deps)
    await availability.declare_availability(deps, fixture.id, idle.id)
    assert {r["referee_id"] for r in await world.rows(availabilities)} == {declared.id, idle.id}
