"""The loaders' read connections: on PostgreSQL a few stay open between reads (no pool
checkout per read), never more than `keep`, never one whose read failed, all given back
by close(); on SQLite every read checks one out and back in as before."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.repos.engine import ReadConnections, read_only


def _checked_out(engine: AsyncEngine) -> int:
    return engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]


async def test_connections_are_kept_up_to_keep_and_given_back(engine: AsyncEngine, backend: str) -> None:
    reads = ReadConnections(read_only(engine), keep=2)
    async with reads.connect() as first:
        assert await first.scalar(text("SELECT 1")) == 1
    async with reads.connect() as again:
        assert await again.scalar(text("SELECT 1")) == 1
    kept = 1 if backend == "postgresql" else 0
    assert (again is first) == (kept == 1)  # PostgreSQL: the same connection, no checkout
    assert _checked_out(engine) == kept

    async def read(started: asyncio.Event, release: asyncio.Event) -> object:
        async with reads.connect() as conn:
            started.set()
            await release.wait()
            return conn

    events = [(asyncio.Event(), asyncio.Event()) for _ in range(2)]
    tasks = [asyncio.ensure_future(read(*pair)) for pair in events]
    for started, _ in events:
        await started.wait()
    for _, release in events:
        release.set()
    connections = await asyncio.gather(*tasks)
    assert len({id(c) for c in connections}) == 2  # concurrent reads never share a connection
    assert _checked_out(engine) == (2 if backend == "postgresql" else 0)  # at most `keep` stay

    await reads.close()
    assert _checked_out(engine) == 0
    async with reads.connect() as late:  # after close(): checked out and back in
        assert await late.scalar(text("SELECT 1")) == 1
    assert _checked_out(engine) == 0


async def test_a_connection_whose_read_failed_goes_back_to_the_pool(engine: AsyncEngine) -> None:
    reads = ReadConnections(read_only(engine), keep=2)
    with pytest.raises(Exception):
        async with reads.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))
    assert _checked_out(engine) == 0
    async with reads.connect() as conn:
        assert await conn.scalar(text("SELECT 1")) == 1
    await reads.close()
    assert _checked_out(engine) == 0


async def test_a_read_beyond_keep_waits_for_a_kept_connection_instead_of_opening_one(engine: AsyncEngine, backend: str) -> None:
    """On PostgreSQL at most `keep` connections serve the reads: more would be the pool's
    overflow, opened and closed for each read."""
    if backend != "postgresql":
        pytest.skip("SQLite keeps no read connections")
    reads = ReadConnections(read_only(engine), keep=2)

    async def read(started: asyncio.Event, release: asyncio.Event) -> object:
        async with reads.connect() as conn:
            started.set()
            await release.wait()
            assert await conn.scalar(text("SELECT 1")) == 1
            return conn

    events = [(asyncio.Event(), asyncio.Event()) for _ in range(3)]
    tasks = [asyncio.ensure_future(read(*pair)) for pair in events]
    await events[0][0].wait()
    await events[1][0].wait()
    await asyncio.sleep(0.05)
    assert not events[2][0].is_set() and _checked_out(engine) == 2  # the third waits
    events[0][1].set()
    first = await tasks[0]
    await events[2][0].wait()  # ... and gets the connection the first gave back
    events[1][1].set()
    events[2][1].set()
    _second, third = await asyncio.gather(tasks[1], tasks[2])
    assert third is first and _checked_out(engine) == 2
    await reads.close()
    assert _checked_out(engine) == 0
