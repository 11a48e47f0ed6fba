"""The read queries of one request, run so that none outlives the request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


class RequestReads:
    """Runs `fetch(conn, *args)` on a connection of the read engine, each in a task of its own.

    GraphQL execution cancels a field's sibling resolvers once one of them fails a non-null
    field, and a DataLoader batch goes on after the fields waiting for it are gone. A read
    cancelled while it holds a connection can orphan it (aiosqlite keeps its thread and
    file open: omnilib/aiosqlite#259; SQLAlchemy #8145), and a read still running when the
    response is sent can outlive the engine at shutdown. So a read is never cancelled (its
    caller's cancellation is not passed in: reads take milliseconds, and PostgreSQL's
    statement_timeout bounds them), and `settle()` waits for the ones still running
    before the response goes out.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._running: set[asyncio.Future[Any]] = set()

    async def __call__(self, fetch: Callable[..., Awaitable[T]], *args: Any) -> T:
        task = asyncio.ensure_future(self._read(fetch, *args))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def _read(self, fetch: Callable[..., Awaitable[T]], *args: Any) -> T:
        async with self.engine.connect() as conn:
            return await fetch(conn, *args)

    async def settle(self) -> None:
        """Wait until no read of this request is running (their outcome belongs to their callers)."""
        while self._running:
            await asyncio.wait(set(self._running))
