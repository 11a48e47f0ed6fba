"""The hot reads sent through asyncpg directly (app.repos.fastpath): the same rows as
SQLAlchemy's path, still counted by statement listeners, and SQLAlchemy's own path
(and exceptions) wherever going past it could change something."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Float, bindparam, event, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.repos import fastpath, reads
from app.repos.engine import create_engine, read_only
from app.schema.limits import is_statement_timeout
from tests.integration.conftest import World

KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


def _page(names: frozenset[str]) -> Any:
    return reads._page_statement(names, False)


async def test_same_rows_as_sqlalchemys_path_and_counted(world: World, engine: AsyncEngine, backend: str) -> None:
    created = [await world.fixture(KICK_OFF + timedelta(hours=h)) for h in range(3)]
    ids = [f.id for f in created]
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    async with read_only(engine).connect() as conn:
        direct = await fastpath.rows(conn, _page(frozenset({"start"})), {"start": KICK_OFF, "limit": 10})
        through_sqlalchemy = [tuple(r) for r in await conn.execute(_page(frozenset({"start"})), {"start": KICK_OFF, "limit": 10})]
        assert direct == through_sqlalchemy and [r[0] for r in direct] == ids
        assert all(r[1].tzinfo is not None and r[1].utcoffset() == timedelta(0) for r in direct)  # UTCDateTime's result processing
        by_ids = await reads.fixtures_by_ids(conn, [ids[0], ids[2]])
        assert set(by_ids) == {ids[0], ids[2]} and by_ids[ids[0]] == reads._fixture(through_sqlalchemy[0])
        assert await reads.fixtures_by_ids(conn, []) == {}
        planned = fastpath._plan(conn.sync_connection, _page(frozenset({"start"})))  # type: ignore[arg-type]
    assert (planned is not None) == (backend == "postgresql")  # SQLite: always SQLAlchemy's path
    assert len(seen) == 4  # every statement seen by the listeners, whichever path ran it


async def test_sqlalchemys_path_inside_a_transaction_or_with_other_listeners(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        async with read_only(engine).connect() as conn:
            assert fastpath._direct(conn.sync_connection)  # type: ignore[arg-type]
        async with engine.connect() as conn:  # a connection that runs in a transaction
            assert not fastpath._direct(conn.sync_connection)  # type: ignore[arg-type]

        def after(*_args: Any) -> None:
            pass

        event.listen(engine.sync_engine, "after_cursor_execute", after)  # e.g. OpenTelemetry's spans
        async with read_only(engine).connect() as conn:
            assert not fastpath._direct(conn.sync_connection)  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def test_a_driver_error_is_sqlalchemys_exception(postgres_url: str) -> None:
    engine = create_engine(postgres_url, statement_timeout_ms=50)
    statement = select(func.pg_sleep(bindparam("seconds", type_=Float)))
    try:
        async with read_only(engine).connect() as conn:
            assert fastpath._plan(conn.sync_connection, statement) is not None  # type: ignore[arg-type]
            assert fastpath._plan(conn.sync_connection, select(func.pg_sleep(0.3))) is None  # a value of its own
            with pytest.raises(DBAPIError) as raised:
                await fastpath.rows(conn, statement, {"seconds": 0.3})
            assert is_statement_timeout(raised.value)
        async with read_only(engine).connect() as conn:  # the pool still gives working connections
            assert len(await fastpath.rows(conn, statement, {"seconds": 0.0})) == 1
    finally:
        await engine.dispose()
