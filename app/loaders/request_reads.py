"""The read queries of one request, run so that none outlives the request."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiodataloader import dispatch_queue_batch
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.repos.engine import ReadConnections

T = TypeVar("T")

# The code of aiodataloader's batch task: a DataLoader runs each batch in a Task of its own
# (`ensure_future(dispatch_queue_batch(...))`) that no caller holds, so none can cancel it.
_BATCH_TASK_CODE = dispatch_queue_batch.__code__


class RequestReads:
    """Runs `fetch(conn, *args)` on a connection of the read engine, so that none is
    cancelled half-way or outlives the request.

    GraphQL execution cancels a field's sibling resolvers once one of them fails a non-null
    field, and a DataLoader batch goes on after the fields waiting for it are gone. A read
    cancelled while it holds a connection can orphan it (aiosqlite keeps its thread and
    file open: omnilib/aiosqlite#259; SQLAlchemy #8145), and a read still running when the
    response is sent can outlive the engine at shutdown. So a read is never cancelled (its
    caller's cancellation is not passed in: reads take milliseconds, and PostgreSQL's
    statement_timeout bounds them), and `settle()` waits for the ones still running
    before the response goes out.

    A read called from a resolver (or anything a caller may cancel) runs in a task of its
    own behind `asyncio.shield`. A read called from a DataLoader's batch task (every
    loader read) is awaited directly: nothing holds that task, so nothing cancels it, and
    a task plus a shield per read cost ~15 µs and an extra turn of the event loop for
    nothing. Both kinds are waited for by `settle()`.
    """

    def __init__(self, engine: AsyncEngine | ReadConnections) -> None:
        self.engine = engine
        self._running: set[asyncio.Future[Any]] = set()

    async def __call__(self, fetch: Callable[..., Awaitable[T]], *args: Any) -> T:
        current = asyncio.current_task()
        if current is not None and getattr(current.get_coro(), "cr_code", None) is _BATCH_TASK_CODE:
            return await self._direct(fetch, *args)
        task = asyncio.ensure_future(self._read(fetch, *args))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def _direct(self, fetch: Callable[..., Awaitable[T]], *args: Any) -> T:
        """The read in the calling (uncancellable) task; `settle()` sees it as running until it ends."""
        running: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running.add(running)
        try:
            return await self._read(fetch, *args)
        finally:
            self._running.discard(running)
            running.set_result(None)

    async def _read(self, fetch: Callable[..., Awaitable[T]], *args: Any) -> T:
        try:
            async with self.engine.connect() as conn:
                return await fetch(conn, *args)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        # The connection was lost under the read (the database restarted, an operator ran
        # pg_terminate_backend): a read changes nothing, so it runs once more on a fresh one.
        async with self.engine.connect() as conn:
            return await fetch(conn, *args)

    async def settle(self) -> None:
        """Wait until no read of this request is running (their outcome belongs to their callers)."""
        while self._running:
            await asyncio.wait(set(self._running))
