"""Assignment board use cases: stage, remove, validate, commit, against the database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from app.domain.errors import Conflict, NotFound
from app.domain.fixture import Assignment, AssignmentStatus, RefereeRole
from app.repos.tables import assignments, fixtures
from app.services import assignments as assignment_service
from app.services import fixtures as fixture_service

FIRST, SECOND = RefereeRole.FIRST, RefereeRole.SECOND
STAGED, COMMITTED = AssignmentStatus.STAGED, AssignmentStatus.COMMITTED
KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


async def _held(world) -> set[tuple]:
    """(fixture id, referee id, role, status) of every assignment row."""
    return {(a["fixture_id"], a["referee_id"], a["role"], a["status"]) for a in await world.rows(assignments)}


async def _referee_columns(world, fixture_id) -> tuple:
    row = await world.row(fixtures, fixtures.c.id == fixture_id)
    return row["first_referee_id"], row["second_referee_id"]


# --- stage and remove --------------------------------------------------------------


async def test_stage_assignment_stores_it_staged_and_writes_assignment_staged(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee = await world.referee()
    await world.declared(fixture.id, referee.id)
    seq = await world.last_seq()

    staged = await assignment_service.stage_assignment(deps, fixture.id, referee.id, FIRST)

    assert staged == Assignment(fixture.id, referee.id, FIRST, STAGED)
    assert await _held(world) == {(fixture.id, referee.id, "FIRST", "STAGED")}
    assert await _referee_columns(world, fixture.id) == (None, None)  # staged is not committed
    assert await world.events(seq) == [
        (
            "AssignmentStaged",
            "Fixture",
            fixture.id,
            3,
            {"fixture_id": str(fixture.id), "referee_id": str(referee.id), "role": "FIRST"},
        )
    ]


async def test_staging_again_with_another_role_upserts_and_with_the_same_role_writes_nothing(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee = await world.referee()
    await world.staged(fixture.id, referee.id, FIRST)

    await assignment_service.stage_assignment(deps, fixture.id, referee.id, SECOND)
    after_upsert = await world.snapshot()
    await assignment_service.stage_assignment(deps, fixture.id, referee.id, SECOND)

    assert await _held(world) == {(fixture.id, referee.id, "SECOND", "STAGED")}
    assert await world.snapshot() == after_upsert
    assert [e[0] for e in await world.events()][-2:] == ["AssignmentStaged", "AssignmentStaged"]


async def test_refused_staging_and_removal_write_nothing(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    committed, staged, idle = await world.referee(), await world.referee(), await world.referee()
    await world.committed(fixture.id, committed.id, FIRST)
    await world.staged(fixture.id, staged.id, SECOND)
    cancelled = await world.fixture(KICK_OFF + timedelta(days=1))
    await fixture_service.cancel_fixture(deps, cancelled.id)
    played = await world.fixture(deps.clock() - timedelta(hours=1))
    await world.declared(played.id, idle.id)
    before = await world.snapshot()

    stage, remove_staged, remove_committed = (
        assignment_service.stage_assignment,
        assignment_service.remove_staged_assignment,
        assignment_service.remove_committed_assignment,
    )
    refusals = [
        (NotFound, "FIXTURE_NOT_FOUND", lambda: stage(deps, uuid4(), idle.id, FIRST)),
        (NotFound, "REFEREE_NOT_FOUND", lambda: stage(deps, fixture.id, uuid4(), FIRST)),
        (Conflict, "FIXTURE_CANCELLED", lambda: stage(deps, cancelled.id, idle.id, FIRST)),
        (Conflict, "FIXTURE_PLAYED", lambda: stage(deps, played.id, idle.id, FIRST)),
        (Conflict, "ALREADY_COMMITTED", lambda: stage(deps, fixture.id, committed.id, SECOND)),
        (NotFound, "ASSIGNMENT_NOT_FOUND", lambda: remove_staged(deps, fixture.id, idle.id)),
        (Conflict, "ALREADY_COMMITTED", lambda: remove_staged(deps, fixture.id, committed.id)),
        (NotFound, "ASSIGNMENT_NOT_FOUND", lambda: remove_committed(deps, fixture.id, idle.id)),
        (Conflict, "NOT_COMMITTED", lambda: remove_committed(deps, fixture.id, staged.id)),
        (NotFound, "FIXTURE_NOT_FOUND", lambda: remove_committed(deps, uuid4(), committed.id)),
    ]
    for error, reason, command in refusals:
        with pytest.raises(error) as refused:
            await command()
        assert refused.value.reason == reason, reason

    assert await world.snapshot() == before


async def test_remove_staged_assignment_deletes_it_and_writes_staged_removed(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee = await world.referee()
    await world.staged(fixture.id, referee.id, SECOND)
    seq = await world.last_seq()

    await assignment_service.remove_staged_assignment(deps, fixture.id, referee.id)

    assert await _held(world) == set()
    assert await world.events(seq) == [
        (
            "StagedAssignmentRemoved",
            "Fixture",
            fixture.id,
            4,
            {"fixture_id": str(fixture.id), "referee_id": str(referee.id), "role": "SECOND"},
        )
    ]


async def test_remove_committed_assignment_clears_the_role_and_writes_both_events(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    first, second = await world.referee(), await world.referee()
    await world.staged(fixture.id, first.id, FIRST)
    await world.staged(fixture.id, second.id, SECOND)
    await assignment_service.commit_staged_assignments(deps)
    seq = await world.last_seq()

    await assignment_service.remove_committed_assignment(deps, fixture.id, first.id)

    assert await _held(world) == {(fixture.id, second.id, "SECOND", "COMMITTED")}
    assert await _referee_columns(world, fixture.id) == (None, second.id)
    version = (await world.row(fixtures))["version"]
    assert await world.events(seq) == [
        (
            "CommittedAssignmentRemoved",
            "Fixture",
            fixture.id,
            version,
            {"fixture_id": str(fixture.id), "referee_id": str(first.id), "role": "FIRST"},
        ),
        (
            "RefereesChanged",
            "Fixture",
            fixture.id,
            version,
            {"fixture_id": str(fixture.id), "first_referee_id": None, "second_referee_id": str(second.id)},
        ),
    ]


# --- commit --------------------------------------------------------------------------


async def test_commit_makes_every_staged_assignment_committed_and_sets_the_referee_columns(deps, world, clock) -> None:
    early, late = await world.fixture(KICK_OFF), await world.fixture(KICK_OFF + timedelta(days=1))
    anna, ben, cleo = await world.referee(), await world.referee(), await world.referee()
    await world.staged(early.id, anna.id, FIRST)
    await world.staged(early.id, ben.id, SECOND)
    await world.staged(late.id, cleo.id, FIRST)
    seq = await world.last_seq()

    commit = await assignment_service.commit_staged_assignments(deps)

    assert commit.committed_at == clock.now
    assert commit.assignments == [
        Assignment(early.id, anna.id, FIRST, COMMITTED),
        Assignment(early.id, ben.id, SECOND, COMMITTED),
        Assignment(late.id, cleo.id, FIRST, COMMITTED),
    ]
    assert commit.replaced == []
    assert await _held(world) == {
        (early.id, anna.id, "FIRST", "COMMITTED"),
        (early.id, ben.id, "SECOND", "COMMITTED"),
        (late.id, cleo.id, "FIRST", "COMMITTED"),
    }
    assert await _referee_columns(world, early.id) == (anna.id, ben.id)
    assert await _referee_columns(world, late.id) == (cleo.id, None)

    events = await world.events(seq)
    assert sorted(e[:4] for e in events if e[1] == "Fixture") == sorted(
        [("RefereesChanged", "Fixture", early.id, 6), ("RefereesChanged", "Fixture", late.id, 4)]
    )
    assert events[-1] == (
        "AssignmentsCommitted",
        "AssignmentCommit",
        commit.id,
        1,
        {
            "commit_id": str(commit.id),
            "committed_at": clock.now.isoformat(),
            "assignments": [
                {"fixture_id": str(early.id), "referee_id": str(anna.id), "role": "FIRST"},
                {"fixture_id": str(early.id), "referee_id": str(ben.id), "role": "SECOND"},
                {"fixture_id": str(late.id), "referee_id": str(cleo.id), "role": "FIRST"},
            ],
            "replaced": [],
        },
    )
    assert len(events) == 3


async def test_commit_replaces_the_committed_first_referee(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    old, new, second = await world.referee(), await world.referee(), await world.referee()
    await world.staged(fixture.id, old.id, FIRST)
    await world.staged(fixture.id, second.id, SECOND)
    await assignment_service.commit_staged_assignments(deps)
    await world.staged(fixture.id, new.id, FIRST)
    seq = await world.last_seq()

    commit = await assignment_service.commit_staged_assignments(deps)

    assert commit.assignments == [Assignment(fixture.id, new.id, FIRST, COMMITTED)]
    assert commit.replaced == [Assignment(fixture.id, old.id, FIRST, COMMITTED)]
    assert await _held(world) == {
        (fixture.id, new.id, "FIRST", "COMMITTED"),
        (fixture.id, second.id, "SECOND", "COMMITTED"),
    }
    assert await _referee_columns(world, fixture.id) == (new.id, second.id)
    events = await world.events(seq)
    assert [e[0] for e in events] == ["RefereesChanged", "AssignmentsCommitted"]
    assert events[1][4]["replaced"] == [{"fixture_id": str(fixture.id), "referee_id": str(old.id), "role": "FIRST"}]


async def test_committing_with_nothing_staged_is_an_empty_commit_without_event(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    await world.committed(fixture.id, (await world.referee()).id, FIRST)
    before = await world.snapshot()

    commit = await assignment_service.commit_staged_assignments(deps)

    assert commit.empty and commit.assignments == [] and commit.replaced == []
    assert await world.snapshot() == before


# --- validation ------------------------------------------------------------------------


async def test_validate_reports_every_problem_and_changes_nothing(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    overlapping = await world.fixture(KICK_OFF + timedelta(hours=1))  # other venue, overlapping slot
    busy, rival_one, rival_two, undeclared = (
        await world.referee(),
        await world.referee(),
        await world.referee(),
        await world.referee(),
    )
    await world.committed(overlapping.id, busy.id, FIRST)  # a fixture with nothing staged
    await world.staged(fixture.id, busy.id, SECOND)
    await world.staged(fixture.id, rival_one.id, FIRST)
    await world.staged(fixture.id, rival_two.id, FIRST)
    await world.staged(overlapping.id, undeclared.id, SECOND, declare=False)
    before = await world.snapshot()

    problems = await assignment_service.validate_staged_assignments(deps)

    assert {(p.code, p.fixture_id, p.referee_id) for p in problems} == {
        ("ROLE_TAKEN", fixture.id, rival_one.id),
        ("ROLE_TAKEN", fixture.id, rival_two.id),
        ("DOUBLE_BOOKED", fixture.id, busy.id),
        ("DIFFERENT_VENUE_SAME_DAY", fixture.id, busy.id),
        ("REFEREE_NOT_AVAILABLE", overlapping.id, undeclared.id),
    }
    assert len(problems) == 5
    double_booked = next(p for p in problems if p.code == "DOUBLE_BOOKED")
    assert str(overlapping.id) in double_booked.message
    assert await world.snapshot() == before


async def test_validation_ignores_a_committed_assignment_the_commit_replaces(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    overlapping = await world.fixture(KICK_OFF + timedelta(hours=1))  # overlapping, other venue
    moving, replacement = await world.referee(), await world.referee()
    await world.committed(fixture.id, moving.id, FIRST)
    await world.staged(fixture.id, replacement.id, FIRST)  # replaces `moving` on `fixture`
    await world.staged(overlapping.id, moving.id, FIRST)

    assert await assignment_service.validate_staged_assignments(deps) == []
    commit = await assignment_service.commit_staged_assignments(deps)

    assert commit.replaced == [Assignment(fixture.id, moving.id, FIRST, COMMITTED)]
    assert await _referee_columns(world, fixture.id) == (replacement.id, None)
    assert await _referee_columns(world, overlapping.id) == (moving.id, None)


async def test_a_cancelled_fixture_keeps_committed_referees_but_never_blocks_them(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    overlapping = await world.fixture(KICK_OFF + timedelta(hours=1))
    referee = await world.referee()
    await world.committed(fixture.id, referee.id, FIRST)
    await fixture_service.cancel_fixture(deps, fixture.id)
    await world.staged(overlapping.id, referee.id, FIRST)

    assert await assignment_service.validate_staged_assignments(deps) == []
    await assignment_service.commit_staged_assignments(deps)

    assert await _held(world) == {
        (fixture.id, referee.id, "FIRST", "COMMITTED"),
        (overlapping.id, referee.id, "FIRST", "COMMITTED"),
    }
