"""commitAssignments is all or nothing: a validation problem, or a failure of any one
fixture's write half-way through, leaves the database exactly as it was."""

from __future__ import annotations

import asyncio
import copy
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text, update

from app.domain.errors import ConcurrentUpdate, ValidationFailed
from app.domain.fixture import RefereeRole
from app.repos.engine import WRITE
from app.repos.tables import fixtures
from app.services import assignments as assignment_service

FIRST, SECOND = RefereeRole.FIRST, RefereeRole.SECOND
KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


async def _board_of_three(world):
    """Three fixtures on three days, each with a FIRST and a SECOND referee staged;
    the first fixture also has a committed FIRST referee that the commit would replace."""
    board = []
    for day in range(3):
        fixture = await world.fixture(KICK_OFF + timedelta(days=day))
        first, second = await world.referee(), await world.referee()
        board.append((fixture, first, second))
    replaced = await world.referee()
    await world.committed(board[0][0].id, replaced.id, FIRST)
    for fixture, first, second in board:
        await world.staged(fixture.id, first.id, FIRST)
        await world.staged(fixture.id, second.id, SECOND)
    return board


async def test_one_invalid_staged_assignment_refuses_the_whole_commit(deps, world) -> None:
    board = await _board_of_three(world)
    undeclared = await world.referee()
    invalid_fixture = await world.fixture(KICK_OFF + timedelta(days=3))
    await world.staged(invalid_fixture.id, undeclared.id, FIRST, declare=False)
    before = await world.snapshot()

    with pytest.raises(ValidationFailed) as refused:
        await assignment_service.commit_staged_assignments(deps)

    assert refused.value.reason == "VALIDATION_FAILED"
    assert [(p.code, p.fixture_id, p.referee_id) for p in refused.value.problems] == [
        ("REFEREE_NOT_AVAILABLE", invalid_fixture.id, undeclared.id)
    ]
    assert refused.value.extensions()["problems"] == [
        {"code": "REFEREE_NOT_AVAILABLE", "fixtureId": str(invalid_fixture.id), "refereeId": str(undeclared.id)}
    ]
    after = await world.snapshot()
    assert after == before  # every assignment still STAGED, referee columns and outbox untouched
    assert sum(a["status"] == "STAGED" for a in after["assignments"]) == 2 * len(board) + 1


def _skip_updates_trigger(backend: str, fixture_id) -> list[str]:
    """DDL making every UPDATE of one fixture row match nothing, as if another writer had
    bumped its version meanwhile (the row update the repository's version check relies on)."""
    if backend == "sqlite":
        return [
            f"CREATE TRIGGER skip_fixture_update BEFORE UPDATE ON fixtures "
            f"WHEN OLD.id = '{fixture_id.hex}' BEGIN SELECT RAISE(IGNORE); END"
        ]
    return [
        "CREATE FUNCTION skip_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        f"CREATE TRIGGER skip_fixture_update BEFORE UPDATE ON fixtures FOR EACH ROW "
        f"WHEN (OLD.id = '{fixture_id}') EXECUTE FUNCTION skip_update()",
    ]


async def test_a_commit_failing_at_its_last_fixture_write_rolls_back_the_earlier_writes(
    deps, world, backend, sql_statements
) -> None:
    board = await _board_of_three(world)
    # The service writes fixtures in id order: make the last of them fail.
    last = max(fixture.id for fixture, _, _ in board)
    for ddl in _skip_updates_trigger(backend, last):
        await world.execute(text(ddl))
    before = await world.snapshot()
    sql_statements.reset()

    with pytest.raises(ConcurrentUpdate) as refused:
        await assignment_service.commit_staged_assignments(deps)

    assert refused.value.reason == "CONCURRENT_UPDATE"
    fixture_updates = [s for s in sql_statements.statements if s.startswith("UPDATE fixtures")]
    assert len(fixture_updates) == 3  # the two earlier fixtures were written, then rolled back
    assert await world.snapshot() == before


async def _wait_until_blocked(world, backend: str) -> None:
    """Until another session of this database waits for a row lock (PostgreSQL); SQLite
    gives no such view, a short pause lets the commit reach its BEGIN IMMEDIATE."""
    if backend == "sqlite":
        await asyncio.sleep(0.3)
        return
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(200):
        async with world.engine.connect() as conn:
            if await conn.scalar(query):
                return
        await asyncio.sleep(0.025)
    raise AssertionError("the commit never waited for the locked fixture row")


async def test_a_commit_racing_a_change_of_one_of_its_fixtures_applies_all_or_nothing(deps, world, backend) -> None:
    board = await _board_of_three(world)
    last = max(fixture.id for fixture, _, _ in board)
    before = await world.snapshot()

    # Another writer changes the fixture the commit writes last and holds its transaction
    # open until the commit is under way.
    async with world.engine.connect() as writer:
        await writer.execution_options(**{WRITE: True})
        async with writer.begin():
            await writer.execute(update(fixtures).where(fixtures.c.id == last).values(version=fixtures.c.version + 1))
            commit = asyncio.create_task(assignment_service.commit_staged_assignments(deps))
            await _wait_until_blocked(world, backend)
    [outcome] = await asyncio.wait_for(asyncio.gather(commit, return_exceptions=True), timeout=30)

    after = await world.snapshot()
    if backend == "postgresql":
        # The commit read the old version, wrote the earlier fixtures, waited for the locked
        # row, then found it changed: all it wrote is rolled back; only the writer's change stays.
        assert isinstance(outcome, ConcurrentUpdate), outcome
        expected = copy.deepcopy(before)
        for row in expected["fixtures"]:
            row["version"] += row["id"] == last
        assert after == expected
    else:
        # SQLite serialises writers: the commit began after the change, saw it and succeeded.
        assert not isinstance(outcome, BaseException), outcome
        assert {a["status"] for a in after["assignments"]} == {"COMMITTED"}
        assert [e["type"] for e in after["outbox"]].count("AssignmentsCommitted") == 2
