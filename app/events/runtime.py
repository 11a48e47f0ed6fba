"""The event machinery of one server instance, started and stopped by the lifespan:
the outbox relay, the subscription broker (one bus reader) and the notifications
projector (a consumer group member)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.domain.calendar import LeagueCalendar
from app.events.broker import Broker
from app.events.bus import EventBus
from app.events.consumer import consume
from app.events.event_log import EventLog
from app.events.memory_bus import MemoryBus
from app.events.notifier import CONSUMER, NotificationsProjector
from app.events.redis_bus import RedisStreamBus
from app.events.relay import OutboxRelay


def create_bus(settings: Settings) -> EventBus:
    return RedisStreamBus(settings.redis_url) if settings.redis_url else MemoryBus()


def instance_name(settings: Settings) -> str:
    return settings.instance_name or f"{socket.gethostname()}-{os.getpid()}"


class EventRuntime:
    def __init__(self, engine: AsyncEngine, calendar: LeagueCalendar, settings: Settings) -> None:
        self.bus = create_bus(settings)
        self.relay = OutboxRelay(
            engine, self.bus, retention=timedelta(hours=settings.outbox_retention_hours)
        )
        self.broker = Broker(self.bus, settings.subscriber_queue_size, EventLog(engine))
        self.projector = NotificationsProjector(engine, calendar, after_commit=self.relay.wake)
        self._settings = settings
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        group = self.bus.group(CONSUMER, instance_name(self._settings), min_idle_ms=self._settings.consumer_retry_ms)
        self._tasks = [
            asyncio.create_task(self.broker.run(), name="broker"),
            asyncio.create_task(self.relay.run(), name="outbox-relay"),
            asyncio.create_task(
                consume(
                    group,
                    self.projector.handle,
                    name=CONSUMER,
                    max_deliveries=self._settings.consumer_max_deliveries,
                ),
                name="notifications-projector",
            ),
        ]
        await self.broker.started.wait()

    async def stop(self) -> None:
        """End subscriptions cleanly, then stop the background tasks and the bus."""
        self.broker.close()
        for task in self._tasks:
            await cancel_and_wait(task)
        await self.bus.close()


async def cancel_and_wait(task: asyncio.Task[None], grace: float = 2.0) -> None:
    """Cancel `task` until it has ended. One cancel() is not always enough: on Python 3.11
    asyncio.wait_for (redis-py wraps each send in one) swallows a cancellation that arrives
    just as what it waits for completes (CPython gh-86296), and the loop goes on forever.
    Cancel again only after `grace`, though: a cancellation that lands in a database call
    makes SQLAlchemy close that connection gracefully, and cancelling that close too
    strands aiosqlite's close waiting on a worker thread that has already stopped."""
    task.cancel()
    await asyncio.wait([task], timeout=grace)
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
