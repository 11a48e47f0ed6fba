"""Event positions and resuming, against real databases (SQLite, PostgreSQL) and real buses
(in-process, Redis Streams): positions are gap-free and survive a republish, a resumed
stream replays from the outbox then goes live with no gap and no duplicate at the seam,
the broker fills what the bus lost from the outbox, and a cursor it cannot serve is refused."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.events.broker import Broker, CursorExpired, CursorNotIssued
from app.events.bus import EventBus
from app.events.envelope import Envelope
from app.events.event_log import EventLog
from app.events.memory_bus import MemoryBus
from app.events.relay import OutboxRelay
from app.repos import outbox
from app.repos.tables import outbox as outbox_table
from tests.conftest import Clock
from tests.integration.event_helpers import WAIT, bus, drain, on_bus, stop, take  # noqa: F401 - fixture
from tests.integration.test_relay import CrashAfterPublish, club_changes, insert_outbox


def everything(event: Envelope) -> bool:
    return True


async def positions(engine: AsyncEngine) -> list[int | None]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(outbox_table.c.position).order_by(outbox_table.c.seq))).scalars())


class Running:
    """A broker with the outbox as its log, reading `bus` in the background."""

    def __init__(self, bus: EventBus, engine: AsyncEngine) -> None:
        self.broker = Broker(bus, log=EventLog(engine), sweep_interval=0.2)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Broker:
        self._task = asyncio.create_task(self.broker.run())
        await asyncio.wait_for(self.broker.started.wait(), WAIT)
        return self.broker

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        await stop(self._task)


async def sequenced(engine: AsyncEngine, relay: OutboxRelay, rows: int, clock: Clock) -> None:
    await insert_outbox(engine, club_changes(rows, 1, clock.now))
    await relay.sequence()


async def test_positions_are_gap_free_in_commit_order_and_kept_when_republished(
    engine: AsyncEngine, clock: Clock
) -> None:
    await insert_outbox(engine, club_changes(3, 2, clock.now))
    bus = MemoryBus()
    try:
        with pytest.raises(RuntimeError, match="between publish and mark"):
            await OutboxRelay(engine, CrashAfterPublish(bus)).publish_pending()  # type: ignore[arg-type]
        first_pass = {e.id: e.position for e in await on_bus(bus)}
        await drain(OutboxRelay(engine, bus))
        await insert_outbox(engine, club_changes(2, 1, clock.now))
        await drain(OutboxRelay(engine, bus))
        assert await positions(engine) == list(range(1, 9))  # in seq (commit) order, no gap
        for envelope in await on_bus(bus):  # the republished ones kept their position
            assert first_pass.get(envelope.id, envelope.position) == envelope.position
        async with engine.connect() as conn:
            assert await outbox.last_position(conn) == 8
    finally:
        await bus.close()


async def test_a_resumed_stream_replays_then_goes_live_without_a_gap_or_duplicate(
    bus: EventBus, engine: AsyncEngine, clock: Clock
) -> None:
    relay = OutboxRelay(engine, bus, batch_size=7)  # small batches: the replay and live interleave
    await insert_outbox(engine, club_changes(20, 1, clock.now))
    await drain(relay)
    async with Running(bus, engine) as broker:

        async def publish_more() -> None:
            for _ in range(10):
                await insert_outbox(engine, club_changes(3, 1, clock.now))
                await drain(relay)
                await asyncio.sleep(0)

        async with aclosing(broker.stream(everything, after=5)) as stream:
            more = asyncio.create_task(publish_more())  # while the replay runs
            received = await take(aiter(stream), 45)
            await more
            assert [e.position for e in received] == list(range(6, 51))
            await insert_outbox(engine, club_changes(1, 1, clock.now))
            await drain(relay)
            assert [e.position for e in await take(aiter(stream), 1)] == [51]


async def test_a_resumed_stream_replays_only_what_it_wants(bus: EventBus, engine: AsyncEngine, clock: Clock) -> None:
    rows = club_changes(6, 1, clock.now)
    await insert_outbox(engine, rows)
    await drain(OutboxRelay(engine, bus))
    chosen = {rows[1]["aggregate_id"], rows[4]["aggregate_id"]}
    async with Running(bus, engine) as broker:
        async with aclosing(broker.stream(lambda e: e.aggregate_id in chosen, after=1)) as stream:
            assert [e.position for e in await take(aiter(stream), 2)] == [2, 5]


async def test_an_event_the_bus_lost_reaches_subscribers_from_the_outbox_in_order(
    bus: EventBus, engine: AsyncEngine, clock: Clock
) -> None:
    relay = OutboxRelay(engine, bus)
    async with Running(bus, engine) as broker:
        async with aclosing(broker.stream(everything)) as stream:
            events = aiter(stream)
            first = asyncio.create_task(take(events, 3))
            await asyncio.sleep(0.1)  # the subscriber is registered (on the stream's first step)
            await sequenced(engine, relay, 3, clock)
            log = await EventLog(engine).after(0)
            await bus.publish([log[2]])  # 1 and 2 never reach the bus
            assert [e.position for e in await first] == [1, 2, 3]
            await sequenced(engine, relay, 1, clock)  # never published at all: the sweep finds it
            assert [e.position for e in await take(events, 1)] == [4]
            await bus.publish(log)  # late copies of what was passed on are dropped
            await sequenced(engine, relay, 1, clock)
            assert [e.position for e in await take(events, 1)] == [5]


async def test_a_cursor_never_issued_or_no_longer_kept_is_refused(
    bus: EventBus, engine: AsyncEngine, clock: Clock
) -> None:
    await insert_outbox(engine, club_changes(5, 1, clock.now))
    await drain(OutboxRelay(engine, bus))
    async with Running(bus, engine) as broker:
        with pytest.raises(CursorNotIssued):
            await anext(broker.stream(everything, after=6))
        async with engine.begin() as conn:  # what pruning does: a prefix of the positions goes
            await conn.execute(delete(outbox_table).where(outbox_table.c.position <= 2))
        with pytest.raises(CursorExpired):
            await anext(broker.stream(everything, after=1))
        async with aclosing(broker.stream(everything, after=2)) as stream:  # the oldest kept follows 2
            assert [e.position for e in await take(aiter(stream), 3)] == [3, 4, 5]
        async with engine.begin() as conn:
            await conn.execute(delete(outbox_table))
        with pytest.raises(CursorExpired):
            await anext(broker.stream(everything, after=4))
        async with aclosing(broker.stream(everything, after=5)) as stream:  # the newest: nothing to replay
            await insert_outbox(engine, club_changes(1, 1, clock.now))
            await drain(OutboxRelay(engine, bus))
            assert [e.position for e in await take(aiter(stream), 1)] == [6]


async def test_prune_keeps_the_positions_after_the_oldest_kept_one(engine: AsyncEngine, clock: Clock) -> None:
    await insert_outbox(engine, club_changes(4, 1, clock.now))
    relay = OutboxRelay(engine, MemoryBus(), retention=timedelta(days=7), clock=lambda: clock.now)
    await relay.sequence()
    old, recent = clock.now - timedelta(days=8), clock.now - timedelta(days=1)
    async with engine.begin() as conn:  # 3 was published after the retention's start, 4 long before it
        for position, published in ((1, old), (2, old), (3, recent), (4, old)):
            await conn.execute(
                update(outbox_table).where(outbox_table.c.position == position).values(published_at=published)
            )
    assert await relay.prune() == 2
    assert [p for p in await positions(engine)] == [3, 4]



async def test_rows_published_before_positions_existed_get_none(engine: AsyncEngine, clock: Clock) -> None:
    """An upgraded database: what went out before is not sequenced (and never passed on again)."""
    await insert_outbox(engine, club_changes(2, 1, clock.now))
    async with engine.begin() as conn:
        await conn.execute(update(outbox_table).values(published_at=clock.now))
    await insert_outbox(engine, club_changes(1, 1, clock.now))
    await OutboxRelay(engine, MemoryBus()).sequence()
    assert await positions(engine) == [None, None, 1]
