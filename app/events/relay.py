"""The outbox relay: publishes committed domain events to the bus, in commit order.

It claims unpublished outbox rows (never by an id cursor: sequences can commit out
of order and a cursor would skip events), publishes them, then marks them published
in the same transaction. A crash between publish and mark gives a duplicate, never a
loss; consumers deduplicate by event id. Several relays may run on one PostgreSQL
database at once: claimed rows are locked and skipped by the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.events.bus import BusUnavailable, EventBus
from app.events.envelope import Envelope
from app.repos import outbox
from app.repos.engine import WRITE
from app.repos.uow import utcnow

log = logging.getLogger("whistle.relay")


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: EventBus,
        *,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        max_backoff: float = 5.0,
        retention: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine, self._bus, self._clock = engine, bus, clock
        self._batch_size, self._poll_interval, self._max_backoff = batch_size, poll_interval, max_backoff
        self._retention = retention
        self._wake = asyncio.Event()
        self.published = 0  # events published by this relay, for tests and benchmarks

    def wake(self) -> None:
        """Something was committed to the outbox: publish it now rather than at the next poll."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Sequence what was committed, then publish one batch; how many events went out.
        Raises BusUnavailable, publishing nothing."""
        await self.sequence()
        async with self._engine.connect() as conn:
            await conn.execution_options(**{WRITE: True})
            async with conn.begin():
                rows = await outbox.claim(conn, self._batch_size)
                if not rows:
                    return 0
                await self._bus.publish([envelope(r) for r in rows])
                await outbox.mark_published(conn, [r.seq for r in rows], self._clock())
        self.published += len(rows)
        return len(rows)

    async def sequence(self) -> int:
        """Give committed events their positions, in a transaction of its own: a position is
        durable before the event leaves, so a republished event keeps its position."""
        async with self._engine.connect() as conn:
            await conn.execution_options(**{WRITE: True})
            async with conn.begin():
                return await outbox.sequence(conn, self._batch_size * 5)

    async def prune(self) -> int:
        """Delete published rows older than the retention period."""
        async with self._engine.begin() as conn:
            return await outbox.prune(conn, self._clock() - self._retention)

    async def run(self) -> None:
        """Publish until cancelled: on every wake-up, at least every poll interval."""
        listener = asyncio.create_task(self._listen(), name="outbox-listener")
        backoff = 0.0
        last_prune = 0.0
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    # Until nothing is left: a short batch does not mean the end, since
                    # only the oldest unpublished event of each aggregate is claimable.
                    while await self.publish_pending():
                        pass
                    backoff = 0.0
                except BusUnavailable as error:
                    backoff = min(self._max_backoff, max(0.1, backoff * 2))
                    log.warning("event bus unavailable, retrying in %.1f s: %s", backoff, error)
                    await asyncio.sleep(backoff)
                    continue
                except DBAPIError as error:
                    if not error.connection_invalidated:
                        log.exception("outbox relay failed, retrying in %.1f s", self._poll_interval)
                    else:  # the database dropped the connection (a restart, a failover): nothing was marked
                        log.warning("outbox relay lost its database connection, retrying in %.1f s", self._poll_interval)
                except Exception:
                    log.exception("outbox relay failed, retrying in %.1f s", self._poll_interval)
                if loop.time() - last_prune > 60:
                    last_prune = loop.time()
                    with contextlib.suppress(Exception):
                        await self.prune()
                await self._sleep()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _sleep(self) -> None:
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives
        # while the wake-up is already done (cpython gh-86296), and the relay then never
        # stops (the lifespan shutdown hung after a commit right before it).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._poll_interval):
                await self._wake.wait()
        self._wake.clear()

    async def _listen(self) -> None:
        """On PostgreSQL, wake on NOTIFY from any process that commits outbox rows."""
        url = self._engine.url
        if url.get_backend_name() != "postgresql":
            return
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                conn = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot LISTEN for outbox writes (polling meanwhile): %s", error)
                await asyncio.sleep(self._poll_interval * 5)
                continue
            try:
                await conn.add_listener(outbox.CHANNEL, lambda *_: self.wake())
                while not conn.is_closed():
                    await asyncio.sleep(self._poll_interval * 5)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()


def envelope(row: Any) -> Envelope:
    return Envelope(
        id=row.id,
        seq=row.seq,
        type=row.type,
        aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id,
        version=row.aggregate_version,
        payload=row.payload,
        created_at=row.created_at,
        position=row.position,
    )
