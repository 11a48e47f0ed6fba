"""Shared fixtures of the integration and e2e tests: a fresh database on each backend.

Every test that asks for `database_url` (or `engine`, `deps`) runs twice: on the
embedded SQLite backend and on PostgreSQL. The PostgreSQL run gets its own
throw-away database on the server named by WHISTLE_TEST_DATABASE_URL; when that
server is unreachable the run is skipped loudly, or fails when
WHISTLE_REQUIRE_SERVICES=1 (CI).

Every test also fails when the event loop reported an error nobody handled ("Task
exception was never retrieved", an exception in a callback): `no_unhandled_loop_errors`.
"""

from __future__ import annotations

import gc
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.calendar import LeagueCalendar
from app.repos.engine import create_engine
from app.repos.migrate import upgrade
from app.services.deps import ServiceDeps

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SLOT = timedelta(minutes=150)

# --- errors the event loop reported and nobody handled --------------------------------------


class LoopErrors(logging.Handler):
    """Collects what asyncio's default exception handler logs: a task whose exception was
    never retrieved, an exception in a callback, a failing exception handler. Each is a bug
    (an error that reached nobody), however the test itself went."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(logging.Formatter().format(record))


_loop_errors = LoopErrors()
logging.getLogger("asyncio").addHandler(_loop_errors)


@pytest.fixture(autouse=True)
def no_unhandled_loop_errors() -> Iterator[None]:
    """Fails the test during which the event loop logged an unhandled exception. A task
    collected later than its test reports in the test that runs when it is collected (the
    traceback names where it came from)."""
    _loop_errors.messages.clear()
    yield
    if _loop_errors.messages:
        found = "\n\n".join(_loop_errors.messages)
        _loop_errors.messages.clear()
        pytest.fail(f"the event loop logged unhandled exceptions:\n{found}", pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Tasks that outlived the last test are collected here: a late report fails the run."""
    gc.collect()
    if _loop_errors.messages:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print("\nthe event loop logged unhandled exceptions after the last test:\n" + "\n\n".join(_loop_errors.messages))


# Why PostgreSQL could not be used, once known: later tests skip without waiting again.
_postgres_unavailable: str | None = None


def _postgres_missing(reason: str) -> None:
    if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"PostgreSQL is required (WHISTLE_REQUIRE_SERVICES=1) but unavailable: {reason}", pytrace=False)
    pytest.skip(
        f"POSTGRESQL UNAVAILABLE, postgres-backend tests SKIPPED: {reason}. Start the server or set "
        "WHISTLE_TEST_DATABASE_URL; WHISTLE_REQUIRE_SERVICES=1 makes this a failure."
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat at the very end that the PostgreSQL half of the suite did not run."""
    if _postgres_unavailable is not None:
        terminalreporter.write_sep("!", "PostgreSQL tests were SKIPPED", red=True, bold=True)
        terminalreporter.write_line(_postgres_unavailable, red=True)


async def _admin_connection(server_url: str) -> asyncpg.Connection:
    global _postgres_unavailable
    if _postgres_unavailable is not None:
        _postgres_missing(_postgres_unavailable)
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return await asyncpg.connect(dsn, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        _postgres_unavailable = f"cannot connect to {make_url(server_url)!r} ({type(error).__name__}: {error})"
        _postgres_missing(_postgres_unavailable)
        raise  # not reached: skip and fail raise


@asynccontextmanager
async def _postgres_database() -> AsyncIterator[str]:
    server_url = os.environ.get("WHISTLE_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)
    name = f"whistle_test_{uuid.uuid4().hex}"
    admin = await _admin_connection(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await _admin_connection(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[str]:
    """The URL of a fresh, empty database on the backend of this parameter."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/whistle.db"
        return
    async with _postgres_database() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, for what only PostgreSQL has (e.g. statement_timeout)."""
    async with _postgres_database() as url:
        yield url


@pytest.fixture
def backend(database_url: str) -> str:
    """`"sqlite"` or `"postgresql"`: for the few assertions that differ per backend."""
    return make_url(database_url).get_backend_name()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated database; disposed after the test."""
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


class Clock:
    """A clock that stands still until told: `clock()` is `clock.now`; `advance()` moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta = timedelta(seconds=1)) -> datetime:
        self.now += delta
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc))


@pytest.fixture
def deps(engine: AsyncEngine, clock: Clock) -> ServiceDeps:
    """Service dependencies: the league in UTC with 150-minute slots, the test clock."""
    return ServiceDeps(engine=engine, calendar=LeagueCalendar(zone=timezone.utc, slot_length=SLOT), clock=clock)


class StatementCounter:
    """Counts the SQL statements an engine sends (an executemany counts once;
    SQLite's explicit BEGIN is left out so that both backends count alike)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.statements: list[str] = []
        self._engine = engine
        event.listen(engine.sync_engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()

    def close(self) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._on_execute)


@pytest.fixture
def sql_statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Counts what `engine` sends from now on: `sql_statements.reset()`, run, `.count`."""
    counter = StatementCounter(engine)
    yield counter
    counter.close()
