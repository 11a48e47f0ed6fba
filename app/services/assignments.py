"""Use cases of the assignment board: stage, remove, validate, commit."""

from __future__ import annotations

import uuid
from uuid import UUID

from app.domain.commit import AssignmentCommit, commit_assignments
from app.domain.fixture import Assignment, Fixture, RefereeRole
from app.domain.validation import AssignmentProblem, validate_assignments
from app.repos.uow import UnitOfWork
from app.services.deps import ServiceDeps, found, retried_once_on_connection_loss


@retried_once_on_connection_loss
async def stage_assignment(deps: ServiceDeps, fixture_id: UUID, referee_id: UUID, role: RefereeRole) -> Assignment:
    async with deps.uow() as uow:
        fixture = await _fixture_and_referee(uow, fixture_id, referee_id)
        assignment = fixture.stage(referee_id, role, uow.clock())
        if fixture.events:
            await uow.fixtures.save(fixture)
            await uow.commit()
    return assignment


@retried_once_on_connection_loss
async def remove_staged_assignment(deps: ServiceDeps, fixture_id: UUID, referee_id: UUID) -> None:
    async with deps.uow() as uow:
        fixture = await _fixture_and_referee(uow, fixture_id, referee_id)
        fixture.remove_staged(referee_id)
        await uow.fixtures.save(fixture)
        await uow.commit()


@retried_once_on_connection_loss
async def remove_committed_assignment(deps: ServiceDeps, fixture_id: UUID, referee_id: UUID) -> None:
    async with deps.uow() as uow:
        fixture = await _fixture_and_referee(uow, fixture_id, referee_id)
        fixture.remove_committed(referee_id)
        await uow.fixtures.save(fixture)
        await uow.commit()


@retried_once_on_connection_loss
async def validate_staged_assignments(deps: ServiceDeps) -> list[AssignmentProblem]:
    """Check every STAGED assignment; changes nothing."""
    async with deps.uow() as uow:
        return validate_assignments(await _board(uow), deps.calendar)


@retried_once_on_connection_loss
async def commit_staged_assignments(deps: ServiceDeps) -> AssignmentCommit:
    """Validate, then commit every staged assignment in one transaction, or nothing."""
    async with deps.uow() as uow:
        fixtures = await _board(uow)
        commit = commit_assignments(fixtures, uuid.uuid4(), uow.clock(), deps.calendar)
        if commit.empty:
            return commit
        # A stable order of row updates keeps two concurrent commits from deadlocking.
        for fixture in sorted(fixtures, key=lambda f: f.id):
            if fixture.events:
                await uow.fixtures.save(fixture)
        uow.record(commit)
        await uow.commit()
    return commit


async def _board(uow: UnitOfWork) -> list[Fixture]:
    """Every fixture with a staged assignment, and every fixture a staged referee holds."""
    staged = await uow.fixtures.with_staged_assignments()
    referee_ids = {a.referee_id for f in staged for a in f.staged()}
    known = {f.id for f in staged}
    held = [f for f in await uow.fixtures.held_by(referee_ids) if f.id not in known]
    return staged + held


async def _fixture_and_referee(uow: UnitOfWork, fixture_id: UUID, referee_id: UUID) -> Fixture:
    fixture = found(await uow.fixtures.get(fixture_id), "fixture", fixture_id)
    found(await uow.referees.get(referee_id), "referee", referee_id)
    return fixture
