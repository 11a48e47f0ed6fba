"""The notifications projector on real databases and buses: committed domain events
become referees' notifications once each, are announced through the outbox, and a
consumer group keeps going past poison events and crashed consumers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.fixture import RefereeRole
from app.events.bus import EventBus
from app.events.consumer import consume
from app.events.envelope import Envelope
from app.events.memory_bus import MemoryBus
from app.events.notifier import CONSUMER, NotificationsProjector
from app.events.relay import OutboxRelay
from app.repos.tables import inbox, notifications, outbox
from app.services import fixtures
from app.services.assignments import commit_staged_assignments
from tests.conftest import Clock
from tests.integration.bus_fixtures import dead_letters
from tests.integration.conftest import World
from tests.integration.event_helpers import CALENDAR, bus, drain, eventually, on_bus, stop  # noqa: F401 - fixture

T0 = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)
IDLE_MS = 150  # min_idle_ms of the consumer groups under test
# The consumer-group tests are slow (a blocked read lasts up to 1 s): each backend and
# each bus once, not every pair.
BACKEND_AND_BUS = pytest.mark.parametrize(
    ("database_url", "bus"),
    [("sqlite", "memory"), pytest.param("postgres", "redis", marks=pytest.mark.postgres)],
    indirect=True,
)


@pytest.fixture
async def memory_bus() -> AsyncIterator[MemoryBus]:
    memory = MemoryBus()
    try:
        yield memory
    finally:
        await memory.close()


@pytest.fixture
def projector(engine: AsyncEngine, clock: Clock) -> NotificationsProjector:
    return NotificationsProjector(engine, CALENDAR, clock=clock)


async def publish_all(engine: AsyncEngine, bus: EventBus) -> list[Envelope]:
    """Relay everything committed so far to `bus`; every envelope the bus holds."""
    await drain(OutboxRelay(engine, bus))
    return await on_bus(bus)


def of_type(events: list[Envelope], type: str) -> list[Envelope]:
    return [e for e in events if e.type == type]


async def notified(world: World) -> Counter[tuple[UUID, str]]:
    """How many notifications each (referee, kind) has."""
    return Counter((r["referee_id"], r["kind"]) for r in await world.rows(notifications))


# -- what the projector writes --


async def test_assignments_committed_notifies_assigned_and_replaced_referees(
    world: World, engine: AsyncEngine, memory_bus: MemoryBus, projector: NotificationsProjector, clock: Clock
) -> None:
    fixture = await world.fixture(T0)
    first, second, successor = await world.referee(), await world.referee(), await world.referee()
    await world.staged(fixture.id, first.id, RefereeRole.FIRST)
    await world.staged(fixture.id, second.id, RefereeRole.SECOND)
    await commit_staged_assignments(world.deps)
    await world.committed(fixture.id, successor.id, RefereeRole.FIRST)  # replaces `first`

    events = await publish_all(engine, memory_bus)
    assert len(of_type(events, "AssignmentsCommitted")) == 2
    for event in events:  # every event; those that concern nobody write nothing
        await projector.handle(event)

    assert await notified(world) == {
        (first.id, "ASSIGNED"): 1,
        (second.id, "ASSIGNED"): 1,
        (successor.id, "ASSIGNED"): 1,
        (first.id, "UNASSIGNED"): 1,
    }
    rows = {(r["referee_id"], r["kind"]): r for r in await world.rows(notifications)}
    unassigned = rows[(first.id, "UNASSIGNED")]
    assert unassigned["message"].startswith("You are no longer the first referee of Team ")
    assert "2026-03-01 18:00" in unassigned["message"]
    assert rows[(second.id, "ASSIGNED")]["message"].startswith("You are the second referee of ")
    assert all(r["fixture_id"] == fixture.id and not r["read"] and r["created_at"] == clock.now for r in rows.values())


async def test_date_venue_and_cancellation_notify_committed_and_declared_referees_once_each(
    world: World, engine: AsyncEngine, memory_bus: MemoryBus, projector: NotificationsProjector
) -> None:
    fixture = await world.fixture(T0)
    elsewhere = await world.fixture(T0 + timedelta(days=7))
    committed, declared, bystander = await world.referee(), await world.referee(), await world.referee()
    await world.committed(fixture.id, committed.id, RefereeRole.FIRST)  # declared AND committed
    await world.declared(fixture.id, declared.id)
    await world.declared(elsewhere.id, bystander.id)
    await fixtures.change_fixture_date(world.deps, fixture.id, T0 + timedelta(days=1))
    await fixtures.change_fixture_venue(world.deps, fixture.id, (await world.venue("Neue Halle")).id)
    await fixtures.cancel_fixture(world.deps, fixture.id)

    for event in await publish_all(engine, memory_bus):
        await projector.handle(event)

    counts = await notified(world)
    for referee in (committed, declared):
        for kind in ("FIXTURE_DATE_CHANGED", "FIXTURE_VENUE_CHANGED", "FIXTURE_CANCELLED"):
            assert counts[(referee.id, kind)] == 1, (referee.name, kind)
    assert not any(referee_id == bystander.id for referee_id, _ in counts)
    assert sum(counts.values()) == 7  # the six above and the committed referee's ASSIGNED
    messages = {r["kind"]: r["message"] for r in await world.rows(notifications, notifications.c.referee_id == declared.id)}
    assert messages["FIXTURE_DATE_CHANGED"].startswith("New date: ")
    assert "Neue Halle" in messages["FIXTURE_CANCELLED"]  # describes the fixture as it is now


async def test_the_same_event_handled_twice_notifies_once(
    world: World, engine: AsyncEngine, memory_bus: MemoryBus, projector: NotificationsProjector
) -> None:
    fixture = await world.fixture(T0)
    one, two = await world.referee(), await world.referee()
    await world.declared(fixture.id, one.id, two.id)
    await fixtures.cancel_fixture(world.deps, fixture.id)
    [cancelled] = of_type(await publish_all(engine, memory_bus), "FixtureCancelled")

    await projector.handle(cancelled)
    await projector.handle(cancelled)  # a redelivery
    await asyncio.gather(projector.handle(cancelled), projector.handle(cancelled))  # two instances at once

    assert await notified(world) == {(one.id, "FIXTURE_CANCELLED"): 1, (two.id, "FIXTURE_CANCELLED"): 1}
    assert [r["event_id"] for r in await world.rows(inbox, inbox.c.consumer == CONSUMER)] == [cancelled.id]
    assert len(await world.rows(outbox, outbox.c.type == "NotificationCreated")) == 2


async def test_each_notification_is_announced_by_a_notification_created_outbox_row(
    world: World, engine: AsyncEngine, memory_bus: MemoryBus, projector: NotificationsProjector
) -> None:
    fixture = await world.fixture(T0)
    first, second = await world.referee(), await world.referee()
    await world.staged(fixture.id, first.id, RefereeRole.FIRST)
    await world.staged(fixture.id, second.id, RefereeRole.SECOND)
    await commit_staged_assignments(world.deps)
    [committed] = of_type(await publish_all(engine, memory_bus), "AssignmentsCommitted")
    last_seq = await world.last_seq()

    await projector.handle(committed)

    created = await world.outbox(after_seq=last_seq)
    assert [r["type"] for r in created] == ["NotificationCreated", "NotificationCreated"]
    assert all(r["published_at"] is None and r["aggregate_type"] == "Notification" for r in created)
    assert {tuple(sorted(r["payload"].items())) for r in created} == {
        tuple(sorted({"notification_id": str(n["id"]), "referee_id": str(n["referee_id"]),
                      "fixture_id": str(n["fixture_id"]), "kind": n["kind"]}.items()))
        for n in await world.rows(notifications)
    }
    announced = of_type(await publish_all(engine, memory_bus), "NotificationCreated")  # the relay takes them on
    assert {e.payload["referee_id"] for e in announced} == {str(first.id), str(second.id)}


# -- running as a consumer group --


@BACKEND_AND_BUS
async def test_a_poison_event_is_retried_then_dead_lettered_without_blocking_the_others(
    world: World, engine: AsyncEngine, bus: EventBus, projector: NotificationsProjector
) -> None:
    fixture = await world.fixture(T0)
    referee, later = await world.referee(), await world.referee()
    await world.declared(fixture.id, referee.id)
    await fixtures.cancel_fixture(world.deps, fixture.id)
    [poison] = of_type(await publish_all(engine, bus), "FixtureCancelled")

    attempts: Counter[UUID] = Counter()

    async def handle(event: Envelope) -> None:
        attempts[event.id] += 1
        if event.id == poison.id:
            raise RuntimeError("poison: cannot be applied")
        await projector.handle(event)

    group = bus.group(CONSUMER, "instance-a", min_idle_ms=IDLE_MS)
    consumer = asyncio.create_task(consume(group, handle, name=CONSUMER, max_deliveries=3))
    try:
        await eventually(lambda: _true(attempts[poison.id] >= 1))
        other = await world.fixture(T0 + timedelta(days=3))  # published after the poison
        await world.committed(other.id, later.id, RefereeRole.FIRST)
        await publish_all(engine, bus)

        async def later_notified() -> bool:
            return (await notified(world))[(later.id, "ASSIGNED")] == 1

        await eventually(later_notified, timeout=1.0)  # flows while the poison is still retried
        assert await dead_letters(bus) == []

        async def dead_lettered() -> bool:
            return len(await dead_letters(bus)) == 1

        await eventually(dead_lettered)
        [letter] = await dead_letters(bus)
        assert letter.envelope == poison
        assert (letter.group, letter.delivery_count) == (CONSUMER, 3)
        assert "poison" in letter.error
        assert attempts[poison.id] == 3
        await asyncio.sleep(2 * IDLE_MS / 1000)
        assert attempts[poison.id] == 3  # set aside for good
        assert all(n == 1 for event_id, n in attempts.items() if event_id != poison.id)  # acked once applied
        assert (referee.id, "FIXTURE_CANCELLED") not in await notified(world)
    finally:
        await stop(consumer)


@BACKEND_AND_BUS
async def test_a_crashed_consumer_s_pending_event_is_reclaimed_and_applied_by_another(
    world: World, engine: AsyncEngine, bus: EventBus, projector: NotificationsProjector
) -> None:
    fixture = await world.fixture(T0)
    referee = await world.referee()
    await world.committed(fixture.id, referee.id, RefereeRole.FIRST)
    events = await publish_all(engine, bus)

    entered = asyncio.Event()

    async def hang(event: Envelope) -> None:
        entered.set()
        await asyncio.Event().wait()  # never returns: the instance dies in here

    crashed = asyncio.create_task(
        consume(bus.group(CONSUMER, "instance-a", min_idle_ms=IDLE_MS), hang, name=CONSUMER)
    )
    await asyncio.wait_for(entered.wait(), 5)
    await stop(crashed)  # read, never acked
    assert await notified(world) == {}
    await asyncio.sleep(2 * IDLE_MS / 1000)  # its entries are idle long enough to be reclaimed

    applied: list[UUID] = []

    async def apply(event: Envelope) -> None:
        await projector.handle(event)
        applied.append(event.id)

    survivor = asyncio.create_task(
        consume(bus.group(CONSUMER, "instance-b", min_idle_ms=IDLE_MS), apply, name=CONSUMER)
    )
    try:
        async def resumed() -> bool:
            return len(applied) == len(events)

        await eventually(resumed)
        assert await notified(world) == {(referee.id, "ASSIGNED"): 1}
        assert sorted(applied) == sorted(e.id for e in events)  # every one reclaimed, once
    finally:
        await stop(survivor)
    check = bus.group(CONSUMER, "instance-c", min_idle_ms=0)
    assert await check.read(block_ms=0) == []  # all acked: nothing left pending or new


async def _true(value: bool) -> bool:
    return value
