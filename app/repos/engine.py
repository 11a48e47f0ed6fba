"""Engines for both backends: PostgreSQL (asyncpg) and the embedded SQLite (aiosqlite)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Execution option a UnitOfWork sets on its connection: on SQLite its transaction
# starts with BEGIN IMMEDIATE, so writers queue for the write lock up front instead
# of failing half-way when a read snapshot turns out stale.
WRITE = "whistle_write"


def create_engine(
    url: str, pool_size: int = 10, echo: bool = False, statement_timeout_ms: int | None = None
) -> AsyncEngine:
    """`statement_timeout_ms`: PostgreSQL's statement_timeout on every connection (the
    server sets it; None keeps the database's default). SQLite has no such setting."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo)
        _tune_sqlite(engine)
        return engine
    connect_args: dict[str, Any] = {}
    if statement_timeout_ms is not None:
        connect_args["server_settings"] = {"statement_timeout": str(statement_timeout_ms)}
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, connect_args=connect_args
    )


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; `_on_begin` emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE) else "BEGIN")


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same pool without transactions: reads skip the BEGIN/ROLLBACK round trips."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


class ReadConnections:
    """Connections of the read engine for the loaders' reads, kept open between reads.

    `connect()` is used like `AsyncEngine.connect()` (`async with reads.connect() as conn`).
    Checking a connection out of SQLAlchemy's pool and back in costs ~50 µs of CPU (two
    greenlet switches, the pool's events and its reset on return): as much as a small
    statement sent through asyncpg (app.repos.fastpath). So on PostgreSQL the reads use at
    most `keep` connections, opened once and kept checked out here, idle between reads; a
    read that finds them all busy waits for the next one to be free (as a pool without
    overflow would). Before, reads beyond `keep` checked connections out of the pool, and
    with `keep` already out, those were the pool's overflow: opened (TLS attempt, type
    introspection, ~1 ms) and closed again for every read under 16 concurrent requests.
    A connection whose read failed (SQLAlchemy may have invalidated it) goes back to the
    pool and a new one is opened for the next read. The read engine's connections are
    AUTOCOMMIT: an idle one holds no transaction, snapshot or lock. `close()` (at
    shutdown, before the engine is disposed) gives them all back. SQLite keeps none
    (aiosqlite runs a thread per connection): every read checks one out and back in.
    """

    def __init__(self, engine: AsyncEngine, keep: int) -> None:
        self.engine = engine
        self._keep = max(1, keep) if engine.dialect.name == "postgresql" else 0
        self._idle: list[Any] = []
        self._open = 0  # connections held here, idle or lent (at most `keep`)
        self._waiting: deque[asyncio.Future[Any]] = deque()  # reads waiting for a connection
        self._closed = False

    def connect(self) -> _Lease:
        return _Lease(self)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        for conn in idle:
            await conn.close()
        while self._waiting:
            self._hand_over(None)

    def _hand_over(self, conn: Any) -> bool:
        """Give `conn` (None: the right to open one) to the first read still waiting."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return True
        return False


class _Lease:
    __slots__ = ("_owner", "_conn")

    def __init__(self, owner: ReadConnections) -> None:
        self._owner = owner

    async def __aenter__(self) -> Any:
        owner = self._owner
        if not owner._keep:
            self._conn = await owner.engine.connect()
            return self._conn
        if owner._idle:
            conn = owner._idle.pop()
        elif owner._open < owner._keep or owner._closed:
            owner._open += 1
            conn = None
        else:
            waiter = asyncio.get_running_loop().create_future()
            owner._waiting.append(waiter)
            conn = await waiter  # a connection handed over, or the right to open one
        if conn is None:
            try:
                conn = await owner.engine.connect()
            except BaseException:
                owner._open -= 1
                if owner._waiting and owner._open < owner._keep:
                    owner._open += 1
                    owner._hand_over(None)
                raise
        self._conn = conn
        return conn

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        owner, conn = self._owner, self._conn
        if not owner._keep:
            await conn.close()
            return
        lost = conn.sync_connection.invalidated
        if exc_type is None and not owner._closed and not lost:
            if not owner._hand_over(conn):
                owner._idle.append(conn)
            return
        owner._open -= 1
        await conn.close()  # back to the pool (or discarded, when invalidated)
        if lost:  # the database dropped it (a restart, pg_terminate_backend): likely the kept ones too
            idle, owner._idle = owner._idle, []
            owner._open -= len(idle)
            for kept in idle:
                await kept.close()  # the pool replaces them: SQLAlchemy invalidated what it held before
        if owner._waiting and not owner._closed:
            owner._open += 1
            owner._hand_over(None)
