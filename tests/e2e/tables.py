"""Proof that a refused call changed nothing: every table's row count and checksum.

`await unchanged_tables(database_url)` is an async context manager: it waits until the
server's background work is done (the relay has published every outbox row, the
projector has written its notifications), fingerprints every table of the database,
lets the block run, waits again and fails if any table differs, naming it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

Fingerprints = dict[str, tuple[int, str]]  # table -> (rows, SHA-256 of the sorted rows)


async def fingerprints(database_url: str) -> Fingerprints:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
            found: Fingerprints = {}
            for name in sorted(names):
                rows = (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()
                lines = sorted(repr(tuple(row)) for row in rows)
                found[name] = (len(rows), hashlib.sha256("\n".join(lines).encode()).hexdigest())
            unpublished = (await conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))).scalar()
    finally:
        await engine.dispose()
    found["(unpublished outbox rows)"] = (int(unpublished or 0), "")
    return found


async def settled(database_url: str, timeout: float = 10.0) -> Fingerprints:
    """The fingerprints once the server's background work has stopped changing them."""
    deadline = asyncio.get_running_loop().time() + timeout
    previous = await fingerprints(database_url)
    while True:
        await asyncio.sleep(0.15)
        current = await fingerprints(database_url)
        if current == previous and current["(unpublished outbox rows)"][0] == 0:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the database did not settle within {timeout} s")
        previous = current


@asynccontextmanager
async def unchanged_tables(database_url: str) -> AsyncIterator[None]:
    before = await settled(database_url)
    yield
    after = await settled(database_url)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"a refused call changed these tables: {changed}"
