"""Engines for both backends: PostgreSQL (asyncpg) and the embedded SQLite (aiosqlite)."""

from __future__ import annotations

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
    """Connections of the read engine for the loaders' reads, a few kept open between reads.

    `connect()` is used like `AsyncEngine.connect()` (`async with reads.connect() as conn`).
    Checking a connection out of SQLAlchemy's pool and back in costs ~50 µs of CPU (two
    greenlet switches, the pool's events and its reset on return): as much as a small
    statement sent through asyncpg (app.repos.fastpath). So on PostgreSQL up to `keep`
    connections stay checked out here, idle, for the next read; a connection whose read
    failed (SQLAlchemy may have invalidated it) and any beyond `keep` go back to the pool
    as before. The read engine's connections are AUTOCOMMIT: an idle one holds no
    transaction, snapshot or lock. `close()` (at shutdown, before the engine is disposed)
    gives them all back. SQLite keeps none (aiosqlite runs a thread per connection): every
    read checks one out and back in, as before.
    """

    def __init__(self, engine: AsyncEngine, keep: int) -> None:
        self.engine = engine
        self._keep = keep if engine.dialect.name == "postgresql" else 0
        self._idle: list[Any] = []
        self._closed = False

    def connect(self) -> _Lease:
        return _Lease(self)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


class _Lease:
    __slots__ = ("_owner", "_conn")

    def __init__(self, owner: ReadConnections) -> None:
        self._owner = owner

    async def __aenter__(self) -> Any:
        owner = self._owner
        self._conn = owner._idle.pop() if owner._idle else await owner.engine.connect()
        return self._conn

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        owner, conn = self._owner, self._conn
        lost = conn.sync_connection.invalidated
        if exc_type is None and not owner._closed and len(owner._idle) < owner._keep and not lost:
            owner._idle.append(conn)
            return
        await conn.close()
        if lost:  # the database dropped it (a restart, pg_terminate_backend): likely the kept ones too
            idle, owner._idle = owner._idle, []
            for kept in idle:
                await kept.close()  # the pool replaces them: SQLAlchemy invalidated what it held before
