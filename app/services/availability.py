"""Use cases of availability: referees declare and withdraw; the admin locks and unlocks."""

from __future__ import annotations

from uuid import UUID

from app.domain.availability_lock import AvailabilityLock
from app.domain.fixture import Fixture
from app.services.deps import ServiceDeps, found, retried_once_on_connection_loss


@retried_once_on_connection_loss
async def declare_availability(deps: ServiceDeps, fixture_id: UUID, referee_id: UUID) -> Fixture:
    async with deps.uow() as uow:
        fixture = found(await uow.fixtures.get(fixture_id), "fixture", fixture_id)
        found(await uow.referees.get(referee_id), "referee", referee_id)
        fixture.declare_availability(referee_id, await uow.lock.get(hold=True))
        await uow.fixtures.save(fixture)
        await uow.commit()
    return fixture


@retried_once_on_connection_loss
async def withdraw_availability(deps: ServiceDeps, fixture_id: UUID, referee_id: UUID) -> Fixture:
    async with deps.uow() as uow:
        fixture = found(await uow.fixtures.get(fixture_id), "fixture", fixture_id)
        found(await uow.referees.get(referee_id), "referee", referee_id)
        fixture.withdraw_availability(referee_id, await uow.lock.get(hold=True))
        await uow.fixtures.save(fixture)
        await uow.commit()
    return fixture


async def lock_availabilities(deps: ServiceDeps) -> AvailabilityLock:
    return await _set_lock(deps, locked=True)


async def unlock_availabilities(deps: ServiceDeps) -> AvailabilityLock:
    return await _set_lock(deps, locked=False)


@retried_once_on_connection_loss
async def _set_lock(deps: ServiceDeps, *, locked: bool) -> AvailabilityLock:
    async with deps.uow() as uow:
        lock = await uow.lock.get()
        (lock.lock if locked else lock.unlock)(uow.clock())
        if lock.events:  # idempotent: an unchanged lock writes nothing
            await uow.lock.save(lock)
            await uow.commit()
    return lock
