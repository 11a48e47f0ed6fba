"""Only a lost database connection makes a service run twice: any other driver error,
on either backend (SQLite has no server to lose), leaves after one run, as before.
The connection-loss cases themselves, on PostgreSQL: tests/e2e/test_connection_loss.py."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.services import directory
from app.services.deps import ServiceDeps
from tests.conftest import StatementCounter


async def test_a_driver_error_that_is_not_a_lost_connection_runs_the_service_once(
    deps: ServiceDeps, engine: AsyncEngine, sql_statements: StatementCounter
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE outbox"))  # the commit's outbox insert fails
    sql_statements.reset()

    with pytest.raises(DBAPIError) as raised:
        await directory.create_referee(deps, "Anna Schmidt", "VC Nord")

    assert not raised.value.connection_invalidated
    inserts = [s for s in sql_statements.statements if s.lstrip().startswith("INSERT INTO referees")]
    assert len(inserts) == 1  # not run again
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM referees"))).scalar() == 0
