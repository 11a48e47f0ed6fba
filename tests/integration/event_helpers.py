"""Helpers of the event pipeline tests (relay, projector, broker, cache invalidation):
a bus of either adapter, reading back what a bus holds, draining the outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.calendar import LeagueCalendar
from app.events.bus import EventBus
from app.events.envelope import Envelope
from app.events.memory_bus import MemoryBus
from app.events.redis_bus import RedisStreamBus
from app.events.relay import OutboxRelay
from app.repos import outbox
from tests.conftest import SLOT
from tests.integration.bus_fixtures import delete_streams, require_redis, unique_stream_name

WAIT = 5.0  # seconds: the longest a test waits for something that should come
CALENDAR = LeagueCalendar(zone=timezone.utc, slot_length=SLOT)


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    """A fresh bus: the in-process one, or a stream of its own on the test Redis."""
    if request.param == "memory":
        memory = MemoryBus()
        try:
            yield memory
        finally:
            await memory.close()
        return
    url = await require_redis()
    redis_bus = RedisStreamBus(url, stream=unique_stream_name(), socket_timeout=2.0, tail_block_ms=200)
    try:
        yield redis_bus
    finally:
        await redis_bus.close()
        await delete_streams(url, redis_bus.stream, redis_bus.dead_stream)


async def on_bus(bus: EventBus) -> list[Envelope]:
    """Every envelope the bus holds, in bus order (a consumer group of its own, created at
    "0", reads the stream from its beginning; nothing is acked, nobody else is affected)."""
    group = bus.group(f"inspect-{uuid.uuid4().hex}", "inspector", min_idle_ms=3_600_000)
    found: list[Envelope] = []
    while batch := await group.read(count=1000, block_ms=0):
        found += [delivery.envelope for delivery in batch]
    return found


async def unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await outbox.unpublished_count(conn)


async def drain(relay: OutboxRelay) -> int:
    """Publish until nothing is left to claim; how many events went out."""
    total = 0
    while published := await relay.publish_pending():
        total += published
    return total


async def take(tail: AsyncIterator[Envelope], count: int, timeout: float = WAIT) -> list[Envelope]:
    async def collect() -> list[Envelope]:
        return [await anext(tail) for _ in range(count)]

    return await asyncio.wait_for(collect(), timeout)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = WAIT, step: float = 0.02) -> None:
    """Wait until `check()` holds; fail the test when it does not within `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {check.__qualname__}")
        await asyncio.sleep(step)


async def stop(*tasks: asyncio.Task[object]) -> None:
    """Cancel background tasks and wait until they are done."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except asyncio.CancelledError:
            pass
