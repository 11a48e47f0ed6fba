"""The subscription broker reading a real bus (in-process and Redis Streams): fan-out,
filters, dropping duplicates and stale versions, cutting off a slow subscriber without
holding up the others, ending subscriptions, and listeners before subscribers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import pytest

from app.events.broker import Broker, Subscriber, SubscriberOverflow
from app.events.bus import EventBus
from app.events.envelope import Envelope
from app.events.memory_bus import MemoryBus
from tests.integration.event_helpers import WAIT, bus, stop, take  # noqa: F401 - fixture

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
FIXTURE_A, FIXTURE_B = uuid.uuid4(), uuid.uuid4()
_seq = iter(range(1, 1_000_000))


def event(aggregate_id: uuid.UUID, version: int, type: str = "FixtureDateChanged") -> Envelope:
    seq = next(_seq)
    return Envelope(
        id=uuid.uuid4(),
        seq=seq,
        type=type,
        aggregate_type="Fixture",
        aggregate_id=aggregate_id,
        version=version,
        payload={"fixture_id": str(aggregate_id)},
        created_at=T0 + timedelta(seconds=seq),
    )


@pytest.fixture
async def memory_bus() -> AsyncIterator[MemoryBus]:
    memory = MemoryBus()
    try:
        yield memory
    finally:
        await memory.close()


class Running:
    """A broker reading `bus` in the background, ready (tail positioned) on entry."""

    def __init__(self, bus: EventBus, queue_size: int = 256) -> None:
        self.broker = Broker(bus, queue_size)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Broker:
        self._task = asyncio.create_task(self.broker.run())
        await asyncio.wait_for(self.broker.started.wait(), WAIT)
        return self.broker

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task is not None
        await stop(self._task)


async def everything_until_closed(subscriber: Subscriber) -> list[Envelope]:
    return [e async for e in subscriber]


def all_events(event: Envelope) -> bool:
    return True


async def test_every_subscriber_gets_every_event_in_order(bus: EventBus) -> None:
    sent = [event(FIXTURE_A, v) for v in range(1, 4)] + [event(FIXTURE_B, v) for v in range(1, 3)]
    async with Running(bus) as broker:
        first, second = aiter(broker.subscribe(all_events)), aiter(broker.subscribe(all_events))
        await bus.publish(sent[:2])
        await bus.publish(sent[2:])
        assert await take(first, 5) == sent
        assert await take(second, 5) == sent
        assert broker.subscriber_count == 2
        await first.aclose()
        await second.aclose()


async def test_a_subscriber_gets_only_the_events_it_wants(memory_bus: MemoryBus) -> None:
    async with Running(memory_bus) as broker:
        only_a = broker.subscribe(lambda e: e.aggregate_id == FIXTURE_A)
        everything = broker.subscribe(all_events)
        sent = [event(FIXTURE_B, 1), event(FIXTURE_A, 1), event(FIXTURE_B, 2), event(FIXTURE_A, 2)]
        await memory_bus.publish(sent)
        assert await take(aiter(everything), 4) == sent
        reader = aiter(only_a)
        assert await take(reader, 2) == [sent[1], sent[3]]
        await memory_bus.publish([event(FIXTURE_B, 3), marker := event(FIXTURE_A, 3)])
        assert await take(reader, 1) == [marker]  # nothing of B's in between
        await reader.aclose()


async def test_a_duplicate_event_id_is_passed_on_once(bus: EventBus) -> None:
    first = event(FIXTURE_A, 1)
    after = event(FIXTURE_A, 2)
    async with Running(bus) as broker:
        subscriber = aiter(broker.subscribe(all_events))
        await bus.publish([first])
        await bus.publish([first])  # redelivered by a relay that crashed before marking it
        await bus.publish([after])
        assert await take(subscriber, 2) == [first, after]
        await subscriber.aclose()


async def test_an_older_version_after_a_newer_one_is_dropped(memory_bus: MemoryBus) -> None:
    newer, older, other = event(FIXTURE_A, 5), event(FIXTURE_A, 4), event(FIXTURE_B, 1)
    same_version = [event(FIXTURE_A, 6), event(FIXTURE_A, 6)]  # two events of one transaction
    async with Running(memory_bus) as broker:
        subscriber = aiter(broker.subscribe(all_events))
        await memory_bus.publish([newer, older, other, *same_version])
        assert await take(subscriber, 4) == [newer, other, *same_version]
        await memory_bus.publish([event(FIXTURE_A, 3), marker := event(FIXTURE_A, 7)])
        assert await take(subscriber, 1) == [marker]  # the stale one in between was dropped too
        await subscriber.aclose()


async def test_a_slow_subscriber_is_cut_off_while_the_others_get_everything(memory_bus: MemoryBus) -> None:
    async with Running(memory_bus, queue_size=3) as broker:
        slow = broker.subscribe(all_events)  # never reads
        fast = aiter(broker.subscribe(all_events))
        sent = [event(FIXTURE_A, v) for v in range(1, 11)]
        received = []
        for envelope in sent:
            await memory_bus.publish([envelope])
            received += await take(fast, 1)
        assert received == sent
        assert slow.overflowed
        assert broker.subscriber_count == 1  # the slow one was dropped
        with pytest.raises(SubscriberOverflow):
            await asyncio.wait_for(everything_until_closed(slow), WAIT)
        await memory_bus.publish([later := event(FIXTURE_A, 11)])
        assert await take(fast, 1) == [later]
        await fast.aclose()


async def test_close_ends_every_subscription(memory_bus: MemoryBus) -> None:
    async with Running(memory_bus) as broker:
        subscribers = [broker.subscribe(all_events) for _ in range(3)]
        readers = [asyncio.create_task(everything_until_closed(s)) for s in subscribers]
        first = event(FIXTURE_A, 1)
        await memory_bus.publish([first])
        await asyncio.sleep(0.05)
        assert not any(r.done() for r in readers)

        broker.close()

        done = await asyncio.wait_for(asyncio.gather(*readers), WAIT)
        assert done == [[first]] * 3
        assert broker.subscriber_count == 0


async def test_stopping_the_broker_ends_every_subscription(memory_bus: MemoryBus) -> None:
    running = Running(memory_bus)
    broker = await running.__aenter__()
    reader = asyncio.create_task(everything_until_closed(broker.subscribe(all_events)))
    await asyncio.sleep(0.01)
    await running.__aexit__(None, None, None)  # cancels run()
    assert await asyncio.wait_for(reader, WAIT) == []


async def test_listeners_run_before_subscribers_get_the_event(bus: EventBus) -> None:
    seen_by_listener: list[uuid.UUID] = []
    listener_done_first: list[bool] = []

    async def slow_listener(envelope: Envelope) -> None:
        await asyncio.sleep(0.05)  # e.g. a cache delete over the network
        seen_by_listener.append(envelope.id)

    async def failing_listener(envelope: Envelope) -> None:
        raise RuntimeError("a listener failing does not stop delivery")

    sent = [event(FIXTURE_A, 1), event(FIXTURE_A, 2)]
    async with Running(bus) as broker:
        broker.add_listener(failing_listener)
        broker.add_listener(slow_listener)
        subscriber = broker.subscribe(all_events)

        async def read() -> list[Envelope]:
            got = []
            async for envelope in subscriber:
                listener_done_first.append(envelope.id in seen_by_listener)
                got.append(envelope)
                if len(got) == len(sent):
                    return got
            return got

        reader = asyncio.create_task(read())
        await bus.publish(sent)
        assert await asyncio.wait_for(reader, WAIT) == sent
        assert listener_done_first == [True, True]
        assert seen_by_listener == [e.id for e in sent]
