"""A mutation whose PostgreSQL connection is killed (`pg_terminate_backend`, as an operator
or a failover does) under it, through the whole app over HTTP.

Lost before COMMIT was sent, the transaction cannot have committed: the mutation runs
once more on a fresh connection and the client sees a normal answer, the change and its
one outbox event exactly once, and no ERROR in the log. Lost at COMMIT (outcome unknown),
or lost on the second run too, the client gets INTERNAL_SERVER_ERROR with a message that
says which, and the log one WARNING line with the correlation id, without traceback.

The kill is deterministic: a SQLAlchemy event on the app's engine terminates the backend
of the connection about to send the chosen statement (or COMMIT) and waits until that
backend has exited, so the statement that follows finds the connection gone.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

import app.server
from app.config import Settings
from app.repos.engine import create_engine
from app.repos.migrate import upgrade
from tests.e2e.conftest import running_app
from tests.e2e.helpers import GraphQL, League, assert_no_leak, only_error

pytestmark = pytest.mark.postgres

CREATE_REFEREE = "mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id name } }"


@dataclass
class Killer:
    """Terminates app connections from its own (admin) connection when told to."""

    admin: asyncpg.Connection
    killed: list[int] = field(default_factory=list)

    def kill(self, conn: Connection) -> None:
        """Called inside a SQLAlchemy event, in the app's greenlet: returns once the backend is gone."""
        pid = conn.connection.driver_connection.get_server_pid()  # type: ignore[union-attr]
        self.killed.append(pid)  # first: another event meanwhile sees it done
        assert await_only(self.admin.fetchval("SELECT pg_terminate_backend($1, 5000)", pid))


@dataclass
class Stack:
    gql: GraphQL
    engine: AsyncEngine  # the app's own engine
    check: AsyncEngine  # a separate engine, for the test's own queries
    killer: Killer

    def kill_before(self, statement: str, times: int = 1) -> None:
        """Kill the connection about to send a statement that starts with `statement`, `times` times."""

        def before_cursor_execute(conn: Connection, _cursor: Any, sql: str, *_args: Any) -> None:
            if sql.lstrip().startswith(statement) and len(self.killer.killed) < times:
                self.killer.kill(conn)

        event.listen(self.engine.sync_engine, "before_cursor_execute", before_cursor_execute)

    def kill_at_commit(self, after: str) -> None:
        """Kill the connection that sent a statement starting with `after` when it commits,
        before COMMIT is sent (a mutation's, not a background writer's)."""
        armed: set[int] = set()

        def before_cursor_execute(conn: Connection, _cursor: Any, sql: str, *_args: Any) -> None:
            if sql.lstrip().startswith(after):
                armed.add(id(conn.connection.driver_connection))

        def commit(conn: Connection) -> None:
            if id(conn.connection.driver_connection) in armed and not self.killer.killed:
                self.killer.kill(conn)

        event.listen(self.engine.sync_engine, "before_cursor_execute", before_cursor_execute)
        event.listen(self.engine.sync_engine, "commit", commit)

    async def count(self, sql: str, **params: Any) -> int:
        async with self.check.connect() as conn:
            return int((await conn.execute(text(sql), params)).scalar_one())


@pytest.fixture
async def stack(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    check = create_engine(postgres_url)
    await upgrade(check)
    created: list[AsyncEngine] = []

    def recording_create_engine(url: str, **kwargs: Any) -> AsyncEngine:
        created.append(create_engine(url, **kwargs))
        return created[-1]

    monkeypatch.setattr(app.server, "create_engine", recording_create_engine)
    dsn = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        async with running_app(Settings(database_url=postgres_url, seed_demo=False)) as http:
            (engine,) = created
            yield Stack(GraphQL(http), engine, check, Killer(admin))
    finally:
        await admin.close()
        await check.dispose()


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING)
    return caplog


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


def warnings_logged(caplog: pytest.LogCaptureFixture, containing: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and containing in r.getMessage()]


async def create_referee(stack: Stack, name: str) -> dict[str, Any]:
    return await stack.gql(CREATE_REFEREE, {"i": {"name": name, "club": "VC Nord"}})


async def referees_named(stack: Stack, name: str) -> int:
    return await stack.count("SELECT count(*) FROM referees WHERE name = :name", name=name)


async def outbox_rows_of(stack: Stack, aggregate_id: str | None) -> int:
    return await stack.count("SELECT count(*) FROM outbox WHERE aggregate_id = :id", id=aggregate_id)


async def test_a_connection_lost_before_commit_is_retried_once_and_applied_exactly_once(
    stack: Stack, server_log: pytest.LogCaptureFixture
) -> None:
    stack.kill_before("INSERT INTO outbox")  # the transaction's last statement before COMMIT
    result = await create_referee(stack, "Retried Referee")

    assert "errors" not in result, result
    referee_id = result["data"]["createReferee"]["id"]
    assert len(stack.killer.killed) == 1  # the connection really was killed under the mutation
    assert await referees_named(stack, "Retried Referee") == 1
    assert await outbox_rows_of(stack, referee_id) == 1  # the lost run's event never committed
    assert await stack.count("SELECT count(*) FROM outbox") == 1
    assert errors_logged(server_log) == []
    (retried,) = warnings_logged(server_log, "database connection lost before COMMIT")
    assert retried.exc_info is None and "\n" not in retried.getMessage()
    # The app goes on normally on its (replaced) connections.
    assert "errors" not in await create_referee(stack, "Next Referee")


async def test_a_mutation_on_a_pooled_connection_killed_while_idle_is_retried(
    stack: Stack, server_log: pytest.LogCaptureFixture
) -> None:
    """The chaos run's case: every connection of the database terminated at once (a
    restart, a failover), then a mutation; its first statement finds its pooled connection
    dead. Reads of its answer retry on their own (app.loaders.request_reads)."""
    league = League(stack.gql)
    fixture, referee = await league.fixture("2037-05-02T14:00:00Z"), await league.referee()
    await league.declare(fixture, referee)
    outbox_before = await stack.count("SELECT count(*) FROM outbox WHERE aggregate_id = :id", id=fixture)
    database = make_url(str(stack.check.url)).database
    killed = await stack.killer.admin.fetchval(
        "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    assert killed >= 2  # the app's pooled connections (and the check engine's, replaced here)
    await stack.check.dispose()

    result = await stack.gql(
        "mutation($i: StageAssignmentInput!) { stageAssignment(input: $i) { role fixture { id } referee { id } } }",
        {"i": {"fixtureId": fixture, "refereeId": referee, "role": "FIRST"}},
    )

    assert "errors" not in result, result
    assert result["data"]["stageAssignment"] == {"role": "FIRST", "fixture": {"id": fixture}, "referee": {"id": referee}}
    staged = "SELECT count(*) FROM assignments WHERE fixture_id = :f AND referee_id = :r"
    assert await stack.count(staged, f=fixture, r=referee) == 1
    assert await stack.count("SELECT count(*) FROM outbox WHERE aggregate_id = :id", id=fixture) == outbox_before + 1
    assert errors_logged(server_log) == []
    assert len(warnings_logged(server_log, "database connection lost before COMMIT in stage_assignment")) == 1


async def test_a_connection_lost_at_commit_is_not_retried_and_answers_a_clear_error(
    stack: Stack, server_log: pytest.LogCaptureFixture
) -> None:
    inserts: list[str] = []
    event.listen(
        stack.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, sql, *_a: inserts.append(sql) if sql.lstrip().startswith("INSERT INTO referees") else None,
    )
    stack.kill_at_commit(after="INSERT INTO referees")
    response = await stack.gql.post(CREATE_REFEREE, {"i": {"name": "Unknown Outcome", "club": "VC Nord"}})

    assert_no_leak(response)
    error = only_error(response.json())
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    correlation_id = error["extensions"]["correlationId"]
    assert correlation_id in error["message"] and "may or may not have been applied" in error["message"]
    assert len(stack.killer.killed) == 1 and len(inserts) == 1  # run once: no retry after COMMIT was sent
    applied = await referees_named(stack, "Unknown Outcome")
    assert applied <= 1
    assert await stack.count("SELECT count(*) FROM outbox") == applied  # its event with it, or neither
    assert errors_logged(server_log) == []
    (logged,) = [r for r in server_log.records if correlation_id in r.getMessage()]
    assert logged.levelno == logging.WARNING and logged.exc_info is None
    assert "database connection lost" in logged.getMessage() and "outcome unknown" in logged.getMessage()


async def test_a_connection_lost_again_on_the_retry_answers_a_clear_error_and_applies_nothing(
    stack: Stack, server_log: pytest.LogCaptureFixture
) -> None:
    stack.kill_before("INSERT INTO outbox", times=2)
    response = await stack.gql.post(CREATE_REFEREE, {"i": {"name": "Twice Lost", "club": "VC Nord"}})

    assert_no_leak(response)
    error = only_error(response.json())
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "nothing was changed" in error["message"]
    assert len(stack.killer.killed) == 2  # the first run and the one retry, no third
    assert await referees_named(stack, "Twice Lost") == 0
    assert await stack.count("SELECT count(*) FROM outbox") == 0
    assert errors_logged(server_log) == []
    (logged,) = warnings_logged(server_log, error["extensions"]["correlationId"])
    assert logged.exc_info is None and "nothing applied" in logged.getMessage()


