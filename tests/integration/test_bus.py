"""The event bus port, one suite for both adapters (in-process and Redis Streams),
plus what only Redis can do: lose its connection and come back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from app.events.bus import BusUnavailable, DeadLetter, EventBus
from app.events.envelope import Envelope
from app.events.memory_bus import MemoryBus
from app.events.redis_bus import RedisStreamBus
from tests.integration.bus_fixtures import (
    RedisServer,
    dead_letters,
    delete_streams,
    envelope,
    free_port,
    require_redis,
    services_missing,
    unique_stream_name,
)

IDLE_MS = 200  # min_idle_ms of the groups under test
WAIT = 5.0  # seconds: the longest a test waits for something that should come


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    if request.param == "memory":
        memory = MemoryBus()
        try:
            yield memory
        finally:
            await memory.close()
        return
    url = await require_redis()
    redis_bus = RedisStreamBus(url, stream=unique_stream_name())
    try:
        yield redis_bus
    finally:
        await redis_bus.close()
        await delete_streams(url, redis_bus.stream, redis_bus.dead_stream)


async def next_of(tail: AsyncIterator[Envelope], count: int) -> list[Envelope]:
    async def take() -> list[Envelope]:
        return [await anext(tail) for _ in range(count)]

    return await asyncio.wait_for(take(), WAIT)


# -- the envelope --


def test_envelope_fields_round_trip_with_bytes_and_non_utc_time() -> None:
    original = Envelope(
        id=uuid.uuid4(),
        seq=42,
        type="AssignmentsCommitted",
        aggregate_type="Fixture",
        aggregate_id=uuid.uuid4(),
        version=7,
        payload={"name": "Zoë", "slots": [1, 2], "nested": {"ok": True, "none": None}},
        created_at=datetime(2026, 1, 15, 13, 0, tzinfo=timezone(timedelta(hours=1))),
    )
    assert original.created_at.tzinfo is timezone.utc  # normalized
    fields = original.to_fields()
    assert all(isinstance(key, str) and isinstance(value, str) for key, value in fields.items())
    assert fields["payload"] == '{"name":"Zoë","slots":[1,2],"nested":{"ok":true,"none":null}}'
    as_bytes = {key.encode(): value.encode() for key, value in fields.items()}
    assert Envelope.from_fields(as_bytes) == original
    assert Envelope.from_fields({**fields, "error": "extra fields are ignored"}) == original


def test_envelope_refuses_naive_time_and_incomplete_fields() -> None:
    with pytest.raises(ValueError):
        Envelope(uuid.uuid4(), 1, "T", "A", uuid.uuid4(), 1, {}, datetime(2026, 1, 1))
    fields = envelope(1).to_fields()
    del fields["version"]
    with pytest.raises(KeyError):
        Envelope.from_fields(fields)


async def test_envelope_travels_unchanged(bus: EventBus) -> None:
    sent = envelope(1, payload={"text": "Zoë → ü", "list": [1, {"a": None}], "float": 1.5})
    async with bus.tail() as tail:
        await bus.publish([sent])
        assert await next_of(tail, 1) == [sent]
    group = bus.group("g", "a", min_idle_ms=IDLE_MS)
    [delivery] = await group.read(block_ms=50)
    assert delivery.envelope == sent


# -- tails --


async def test_two_tails_each_see_every_envelope_in_order(bus: EventBus) -> None:
    sent = [envelope(seq) for seq in range(1, 11)]
    async with bus.tail() as first, bus.tail() as second:
        await bus.publish(sent[:4])
        await bus.publish(sent[4:])
        assert await next_of(first, 10) == sent
        assert await next_of(second, 10) == sent


async def test_a_tail_started_after_a_publish_does_not_see_it(bus: EventBus) -> None:
    before, after = envelope(1), envelope(2)
    await bus.publish([before])
    async with bus.tail() as tail:
        await bus.publish([after])
        assert await next_of(tail, 1) == [after]


async def test_closing_a_tail_or_the_bus_ends_iteration(bus: EventBus) -> None:
    tail, other = bus.tail(), bus.tail()
    await tail.ready()
    await other.ready()
    waiting = asyncio.create_task(anext(tail))
    await asyncio.sleep(0.05)
    await tail.aclose()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, WAIT)

    waiting = asyncio.create_task(anext(other))
    await asyncio.sleep(0.05)
    await bus.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, WAIT)
    with pytest.raises(RuntimeError):
        await bus.publish([envelope(1)])


async def test_closing_the_bus_ends_a_blocked_group_read(bus: EventBus) -> None:
    group = bus.group("g", "a", min_idle_ms=IDLE_MS)
    assert await group.read(block_ms=10) == []
    reading = asyncio.create_task(group.read(block_ms=5000))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await bus.close()
    assert await asyncio.wait_for(reading, WAIT) == []
    assert time.monotonic() - started < 1.0
    with pytest.raises(RuntimeError):
        await group.read(block_ms=10)


# -- consumer groups --


async def test_a_group_delivers_each_envelope_once_to_one_of_its_consumers(bus: EventBus) -> None:
    sent = [envelope(seq) for seq in range(1, 11)]
    await bus.publish(sent)
    a = bus.group("projector", "a", min_idle_ms=60_000)
    b = bus.group("projector", "b", min_idle_ms=60_000)
    got: dict[str, list[Envelope]] = {"a": [], "b": []}
    while True:
        batch_a = await a.read(count=3, block_ms=50)
        batch_b = await b.read(count=3, block_ms=50)
        if not batch_a and not batch_b:
            break
        assert all(d.delivery_count == 1 for d in batch_a + batch_b)
        got["a"] += [d.envelope for d in batch_a]
        got["b"] += [d.envelope for d in batch_b]
    assert got["a"] and got["b"]
    assert sorted(got["a"] + got["b"], key=lambda e: e.seq) == sent  # each once, none lost
    # Another group reads the whole stream again, from its beginning.
    other = bus.group("cache", "a", min_idle_ms=60_000)
    assert [d.envelope for d in await other.read(count=100, block_ms=50)] == sent


async def test_a_blocked_read_returns_on_publish_and_does_not_hold_up_publish(bus: EventBus) -> None:
    group = bus.group("g", "a", min_idle_ms=IDLE_MS)
    assert await group.read(block_ms=50) == []  # creates the group
    reading = asyncio.create_task(group.read(block_ms=3000))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await bus.publish([sent := envelope(1)])
    assert time.monotonic() - started < 0.5
    [delivery] = await asyncio.wait_for(reading, WAIT)
    assert delivery.envelope == sent
    assert time.monotonic() - started < 1.0


async def test_an_unacked_entry_is_redelivered_after_min_idle(bus: EventBus) -> None:
    sent = envelope(1)
    await bus.publish([sent])
    a = bus.group("g", "a", min_idle_ms=IDLE_MS)
    b = bus.group("g", "b", min_idle_ms=IDLE_MS)
    [first] = await a.read(block_ms=50)
    assert (first.envelope, first.delivery_count) == (sent, 1)
    assert await b.read(block_ms=50) == []  # not idle long enough yet
    await asyncio.sleep(IDLE_MS / 1000 + 0.05)
    [second] = await b.read(block_ms=50)  # a "crashed": b takes over
    assert (second.envelope, second.message_id, second.delivery_count) == (sent, first.message_id, 2)
    await asyncio.sleep(IDLE_MS / 1000 + 0.05)
    [third] = await a.read(block_ms=50)
    assert third.delivery_count == 3
    await a.ack(third)
    await asyncio.sleep(IDLE_MS / 1000 + 0.05)
    assert await b.read(block_ms=50) == []


async def test_ack_stops_redelivery(bus: EventBus) -> None:
    await bus.publish([envelope(1), envelope(2)])
    a = bus.group("g", "a", min_idle_ms=IDLE_MS)
    b = bus.group("g", "b", min_idle_ms=IDLE_MS)
    first, second = await a.read(block_ms=50)
    await a.ack(first)
    await asyncio.sleep(IDLE_MS / 1000 + 0.05)
    assert [d.envelope for d in await b.read(block_ms=50)] == [second.envelope]
    await asyncio.sleep(IDLE_MS / 1000 + 0.05)
    [again] = await a.read(block_ms=50)
    await a.ack(again)
    await asyncio.sleep(IDLE_MS / 1000 + 0.05)
    assert await a.read(block_ms=50) == []
    assert await b.read(block_ms=50) == []


async def test_dead_letter_sets_the_entry_aside_for_good(bus: EventBus) -> None:
    poison, fine = envelope(1), envelope(2)
    await bus.publish([poison, fine])
    a = bus.group("projector", "a", min_idle_ms=IDLE_MS)
    b = bus.group("projector", "b", min_idle_ms=IDLE_MS)
    first, second = await a.read(block_ms=50)
    await a.dead_letter(first, "ValueError: bad payload")
    await a.ack(second)
    assert await dead_letters(bus) == [
        DeadLetter(
            envelope=poison,
            error="ValueError: bad payload",
            group="projector",
            consumer="a",
            message_id=first.message_id,
            delivery_count=1,
        )
    ]
    await asyncio.sleep(IDLE_MS / 1000 + 0.05)
    assert await b.read(block_ms=50) == []
    assert await a.read(block_ms=50) == []


# -- the in-process adapter only --


async def test_memory_tail_that_falls_behind_loses_the_oldest() -> None:
    bus = MemoryBus(tail_buffer=3)
    try:
        async with bus.tail() as tail:
            sent = [envelope(seq) for seq in range(1, 6)]
            await bus.publish(sent)
            assert await next_of(tail, 3) == sent[2:]
    finally:
        await bus.close()


# -- Redis only --


async def test_redis_publish_trims_the_stream_approximately() -> None:
    url = await require_redis()
    bus = RedisStreamBus(url, stream=unique_stream_name(), maxlen=10)
    client = Redis.from_url(url)
    try:
        for start in range(0, 1000, 100):
            await bus.publish([envelope(seq) for seq in range(start, start + 100)])
        assert await client.xlen(bus.stream) < 500
    finally:
        await client.aclose()
        await bus.close()
        await delete_streams(url, bus.stream)


async def test_redis_restart_publish_fails_then_tail_and_group_resume_by_themselves() -> None:
    if not RedisServer.available():
        services_missing("redis-server", "the binary is not on PATH", "Install Redis")
    server = RedisServer(free_port())
    server.start()
    bus = RedisStreamBus(
        server.url,
        stream="whistle:events",
        socket_timeout=1.0,
        connect_timeout=0.5,
        tail_block_ms=500,
        reconnect_cap=0.5,
    )
    try:
        tail = bus.tail()
        await tail.ready()
        group = bus.group("projector", "a", min_idle_ms=60_000)
        first = envelope(1)
        await bus.publish([first])
        assert await next_of(tail, 1) == [first]
        [delivery] = await group.read(block_ms=100)
        assert delivery.envelope == first
        await group.ack(delivery)

        server.stop()
        started = time.monotonic()
        with pytest.raises(BusUnavailable):
            await bus.publish([envelope(2)])
        assert time.monotonic() - started < 3.0
        waiting = asyncio.create_task(anext(tail))
        assert await group.read(block_ms=100) == []  # no exception while Redis is away
        await asyncio.sleep(1.0)  # the tail retries meanwhile
        assert not waiting.done()

        server.start()  # same port, no persistence: the stream and the group are gone
        third = envelope(3)
        await bus.publish([third])
        assert await asyncio.wait_for(waiting, WAIT) == third  # the same tail, reconnected
        [delivery] = await group.read(block_ms=100)  # the group, re-created at "0"
        assert (delivery.envelope, delivery.delivery_count) == (third, 1)
        await group.ack(delivery)
        await tail.aclose()
    finally:
        await bus.close()
        server.stop()
