"""The outbox relay against real databases (embedded SQLite, PostgreSQL) and real buses
(in-process, Redis Streams): what is committed goes out, once per relay pass, in commit
order per aggregate, and nothing is lost when the bus or the relay fails half-way."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.errors import Conflict
from app.domain.events import RefereeClubChanged
from app.domain.fixture import RefereeRole
from app.events.bus import BusUnavailable, EventBus
from app.events.envelope import Envelope
from app.events.memory_bus import MemoryBus
from app.events.redis_bus import RedisStreamBus
from app.events.relay import OutboxRelay
from app.repos import outbox
from app.repos.engine import create_engine
from app.repos.tables import outbox as outbox_table
from app.services import directory, fixtures
from app.services.deps import ServiceDeps
from tests.conftest import Clock
from tests.integration.bus_fixtures import (
    RedisServer,
    delete_streams,
    free_port,
    require_redis,
    services_missing,
    unique_stream_name,
)
from tests.integration.conftest import World
from tests.integration.event_helpers import CALENDAR, bus, drain, on_bus, stop, take, unpublished  # noqa: F401 - fixture

T0 = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)
POSTGRES_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def outbox_rows(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(outbox_table).order_by(outbox_table.c.seq))
        return [dict(row._mapping) for row in result]


def club_changes(aggregates: int, per_aggregate: int, now: datetime) -> list[dict[str, object]]:
    """Outbox rows of `aggregates` referees changing club `per_aggregate` times each,
    interleaved (aggregate 0 v1, aggregate 1 v1, ..., aggregate 0 v2, ...)."""
    ids = [uuid.uuid4() for _ in range(aggregates)]
    return [
        outbox.outbox_row(RefereeClubChanged(referee_id=ids[i], club=f"Club {version}"), version, now)
        for version in range(1, per_aggregate + 1)
        for i in range(aggregates)
    ]


async def insert_outbox(engine: AsyncEngine, rows: Sequence[dict[str, object]]) -> None:
    async with engine.begin() as conn:
        await outbox.append(conn, rows)


class CrashAfterPublish:
    """A bus whose publish reaches the real bus, then fails as a relay dying right after would."""

    def __init__(self, inner: EventBus) -> None:
        self.inner = inner

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        await self.inner.publish(envelopes)
        raise RuntimeError("relay crashed between publish and mark")


# -- publishing what was committed --


async def test_committed_outbox_rows_are_published_and_marked_published(
    world: World, engine: AsyncEngine, bus: EventBus, clock: Clock
) -> None:
    referee = await world.referee(club="VC Nord")
    await directory.change_referee_club(world.deps, referee.id, "VC Süd")
    team = await world.team()
    relay = OutboxRelay(engine, bus, clock=clock)
    clock.advance(timedelta(seconds=5))

    # Only the oldest unpublished event of each aggregate is claimable in one pass.
    assert await relay.publish_pending() == 2
    assert await relay.publish_pending() == 1
    assert await relay.publish_pending() == 0

    rows = await outbox_rows(engine)
    published = await on_bus(bus)
    assert [(e.type, e.aggregate_id) for e in published] == [
        ("RefereeCreated", referee.id),
        ("TeamCreated", team.id),
        ("RefereeClubChanged", referee.id),
    ]
    by_id = {r["id"]: r for r in rows}
    assert sorted(by_id) == sorted(e.id for e in published)
    assert all(e.seq == by_id[e.id]["seq"] and e.type == by_id[e.id]["type"] for e in published)
    assert published[2].payload == {"referee_id": str(referee.id), "club": "VC Süd"}
    assert published[2].version == 2
    assert all(r["published_at"] == clock.now for r in rows)
    assert await unpublished(engine) == 0
    assert relay.published == 3


async def test_a_refused_service_call_publishes_nothing(world: World, engine: AsyncEngine) -> None:
    fixture = await world.fixture(T0)
    await fixtures.cancel_fixture(world.deps, fixture.id)
    bus = MemoryBus()
    try:
        relay = OutboxRelay(engine, bus)
        await drain(relay)
        before = len(await on_bus(bus))

        with pytest.raises(Conflict) as refused:
            await fixtures.cancel_fixture(world.deps, fixture.id)
        assert refused.value.reason == "ALREADY_CANCELLED"
        with pytest.raises(Conflict):
            await fixtures.change_fixture_date(world.deps, fixture.id, T0 + timedelta(days=1))

        assert await unpublished(engine) == 0
        assert await relay.publish_pending() == 0
        assert len(await on_bus(bus)) == before
    finally:
        await bus.close()


async def test_a_unit_of_work_left_without_commit_publishes_nothing(world: World, engine: AsyncEngine) -> None:
    referee = await world.referee(club="VC Nord")
    bus = MemoryBus()
    try:
        relay = OutboxRelay(engine, bus)
        await drain(relay)
        before = await on_bus(bus)

        async with world.deps.uow() as uow:  # changed and saved, but never committed
            loaded = await uow.referees.get(referee.id)
            assert loaded is not None
            loaded.change_club("VC Süd")
            await uow.referees.save(loaded)
        with pytest.raises(ZeroDivisionError):
            async with world.deps.uow() as uow:  # saved, then an exception before commit
                loaded = await uow.referees.get(referee.id)
                assert loaded is not None
                loaded.change_club("VC West")
                await uow.referees.save(loaded)
                1 / 0  # noqa: B018

        assert await relay.publish_pending() == 0
        assert await on_bus(bus) == before
        assert [r["type"] for r in await outbox_rows(engine)] == ["RefereeCreated"]
    finally:
        await bus.close()


async def test_events_of_one_fixture_are_published_in_commit_order(
    world: World, engine: AsyncEngine, bus: EventBus
) -> None:
    fixture = await world.fixture(T0)
    other = await world.fixture(T0 + timedelta(days=7))
    first, second = await world.referee(), await world.referee()
    await world.declared(fixture.id, first.id, second.id)
    await world.declared(other.id, first.id)
    await world.staged(fixture.id, first.id, RefereeRole.FIRST, declare=False)
    await world.staged(fixture.id, second.id, RefereeRole.SECOND, declare=False)
    await world.committed(other.id, second.id, RefereeRole.FIRST)  # commits the fixture's two as well
    await fixtures.change_fixture_date(world.deps, fixture.id, T0 + timedelta(days=1))
    await fixtures.change_fixture_venue(world.deps, fixture.id, (await world.venue()).id)
    await fixtures.cancel_fixture(world.deps, fixture.id)

    relay = OutboxRelay(engine, bus, batch_size=3)  # many small batches
    assert await drain(relay) == len(await outbox_rows(engine))

    published = await on_bus(bus)
    for aggregate_id in (fixture.id, other.id):
        sent = [e for e in published if e.aggregate_id == aggregate_id]
        in_outbox = [r for r in await outbox_rows(engine) if r["aggregate_id"] == aggregate_id]
        assert [e.seq for e in sent] == [r["seq"] for r in in_outbox]  # outbox (= commit) order
        assert [e.id for e in sent] == [r["id"] for r in in_outbox]  # each exactly once
        versions = [e.version for e in sent]
        assert versions == sorted(versions) and versions[-1] > versions[0]
    assert [e.type for e in published if e.aggregate_id == fixture.id] == [
        "FixtureCreated",
        "AvailabilityDeclared",
        "AvailabilityDeclared",
        "AssignmentStaged",
        "AssignmentStaged",
        "RefereesChanged",
        "FixtureDateChanged",
        "FixtureVenueChanged",
        "FixtureCancelled",
    ]
    assert len({e.id for e in published}) == len(published)


# -- several relays at once --


@POSTGRES_ONLY
@pytest.mark.parametrize("bus_kind", ["memory", "redis"])
async def test_three_relays_publish_a_thousand_events_exactly_once_in_order_per_aggregate(
    database_url: str, engine: AsyncEngine, bus_kind: str
) -> None:
    rows = club_changes(aggregates=50, per_aggregate=20, now=T0)
    await insert_outbox(engine, rows)
    assert await unpublished(engine) == 1000

    engines = [create_engine(database_url, pool_size=2) for _ in range(3)]
    if bus_kind == "memory":
        shared = MemoryBus()
        buses: list[EventBus] = [shared, shared, shared]
    else:
        url = await require_redis()
        stream = unique_stream_name()
        buses = [RedisStreamBus(url, stream=stream) for _ in range(3)]
    relays = [OutboxRelay(e, b, batch_size=10) for e, b in zip(engines, buses, strict=True)]

    async def run_until_empty(relay: OutboxRelay, engine: AsyncEngine) -> None:
        while True:
            if await relay.publish_pending() == 0:
                if await unpublished(engine) == 0:
                    return
                await asyncio.sleep(0.002)  # the rest is claimed by the others or not claimable yet

    try:
        await asyncio.wait_for(
            asyncio.gather(*(run_until_empty(r, e) for r, e in zip(relays, engines, strict=True))), 30
        )
        published = await on_bus(buses[0])
    finally:
        for b in set(buses):
            await b.close()
        for e in engines:
            await e.dispose()
        if bus_kind == "redis":
            await delete_streams(url, stream)

    counts = Counter(e.id for e in published)
    assert set(counts) == {r["id"] for r in rows}  # none lost
    assert max(counts.values()) == 1  # none twice
    assert sum(r.published for r in relays) == 1000
    assert sum(1 for r in relays if r.published) >= 2  # they did share the work
    assert await unpublished(engine) == 0
    versions: dict[uuid.UUID, list[int]] = defaultdict(list)
    for envelope in published:
        versions[envelope.aggregate_id].append(envelope.version)
    assert len(versions) == 50
    assert all(v == list(range(1, 21)) for v in versions.values())  # commit order per aggregate


# -- failures --


async def test_with_the_bus_down_rows_stay_unpublished_and_go_out_once_it_is_back(
    world: World, engine: AsyncEngine
) -> None:
    if not RedisServer.available():
        services_missing("redis-server", "the binary is not on PATH", "Install Redis")
    server = RedisServer(free_port())
    server.start()
    bus = RedisStreamBus(server.url, stream="whistle:relay", socket_timeout=1.0, connect_timeout=0.5)
    relay = OutboxRelay(engine, bus, poll_interval=0.1, max_backoff=0.2)
    runner: asyncio.Task[None] | None = None
    try:
        await world.referee()
        assert await relay.publish_pending() == 1  # the connection works
        server.stop()
        await world.referee()
        await world.team()

        with pytest.raises(BusUnavailable):
            await relay.publish_pending()
        assert await unpublished(engine) == 2

        runner = asyncio.create_task(relay.run())  # keeps retrying while the bus is away
        await asyncio.sleep(0.5)
        assert await unpublished(engine) == 2
        assert not runner.done()

        server.start()  # no persistence: the stream starts empty
        for _ in range(250):
            if await unpublished(engine) == 0:
                break
            await asyncio.sleep(0.02)
        assert await unpublished(engine) == 0
        rows = await outbox_rows(engine)
        assert [e.id for e in await on_bus(bus)] == [r["id"] for r in rows[1:]]
    finally:
        if runner is not None:
            await stop(runner)
        await bus.close()
        server.stop()


async def test_a_crash_between_publish_and_mark_gives_a_duplicate_never_a_loss(
    world: World, engine: AsyncEngine
) -> None:
    referee = await world.referee()
    team = await world.team()
    bus = MemoryBus()
    try:
        with pytest.raises(RuntimeError, match="between publish and mark"):
            await OutboxRelay(engine, CrashAfterPublish(bus)).publish_pending()  # type: ignore[arg-type]
        assert [e.aggregate_id for e in await on_bus(bus)] == [referee.id, team.id]  # it did go out
        assert await unpublished(engine) == 2  # but the mark was rolled back

        assert await drain(OutboxRelay(engine, bus)) == 2  # the next pass publishes them again
        assert await unpublished(engine) == 0
        counts = Counter(e.id for e in await on_bus(bus))
        assert counts == {r["id"]: 2 for r in await outbox_rows(engine)}
    finally:
        await bus.close()


async def test_prune_deletes_only_published_rows_older_than_the_retention(
    engine: AsyncEngine, clock: Clock
) -> None:
    now = clock.now
    old_published, recent_published, old_unpublished = club_changes(3, 1, now - timedelta(days=30))
    await insert_outbox(engine, [old_published, recent_published, old_unpublished])
    seqs = {r["id"]: r["seq"] for r in await outbox_rows(engine)}
    async with engine.begin() as conn:
        await outbox.mark_published(conn, [seqs[old_published["id"]]], now - timedelta(days=8))
        await outbox.mark_published(conn, [seqs[recent_published["id"]]], now - timedelta(days=6))

    relay = OutboxRelay(engine, MemoryBus(), retention=timedelta(days=7), clock=clock)
    assert await relay.prune() == 1
    assert {r["id"] for r in await outbox_rows(engine)} == {recent_published["id"], old_unpublished["id"]}
    assert await relay.prune() == 0
    assert await unpublished(engine) == 1


# -- waking up --


async def test_run_publishes_on_wake_well_before_the_poll_interval(world: World, engine: AsyncEngine) -> None:
    bus = MemoryBus()
    relay = OutboxRelay(engine, bus, poll_interval=5.0)
    deps = dataclasses.replace(world.deps, after_commit=relay.wake)
    tail = bus.tail()
    runner = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.3)  # the first pass found nothing: it now sleeps up to 5 s
        loop = asyncio.get_running_loop()
        started = loop.time()
        referee = await directory.create_referee(deps, "Anna Arbiter", "VC Nord")  # after_commit wakes it
        [envelope] = await take(tail, 1, timeout=1.0)
        assert (envelope.type, envelope.aggregate_id) == ("RefereeCreated", referee.id)
        assert loop.time() - started < 1.0
    finally:
        await stop(runner)
        await tail.aclose()
        await bus.close()


async def test_run_publishes_every_event_of_one_aggregate_after_one_wake(
    world: World, engine: AsyncEngine
) -> None:
    """Only the oldest unpublished event of an aggregate is claimable per pass, so the
    run loop must keep going until nothing is left, not stop at a short batch."""
    referee = await world.referee(club="Club 0")
    for n in range(1, 5):
        await directory.change_referee_club(world.deps, referee.id, f"Club {n}")  # nobody is woken
    bus = MemoryBus()
    relay = OutboxRelay(engine, bus, poll_interval=5.0)
    tail = bus.tail()
    runner = asyncio.create_task(relay.run())  # its first pass starts right away
    try:
        received = await take(tail, 5, timeout=1.0)
        assert [e.version for e in received] == [1, 2, 3, 4, 5]
        assert [e.payload["club"] for e in received] == [f"Club {n}" for n in range(5)]
    finally:
        await stop(runner)
        await tail.aclose()
        await bus.close()


@POSTGRES_ONLY
async def test_run_on_postgresql_wakes_on_notify_from_another_engine(database_url: str, engine: AsyncEngine) -> None:
    bus = MemoryBus()
    relay = OutboxRelay(engine, bus, poll_interval=5.0)
    tail = bus.tail()
    runner = asyncio.create_task(relay.run())
    writer = create_engine(database_url, pool_size=1)  # another process, as far as the relay knows
    try:
        async def listening() -> bool:
            async with writer.connect() as conn:
                query = text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'"
                )
                return bool((await conn.execute(query)).scalar_one())

        for _ in range(250):
            if await listening():
                break
            await asyncio.sleep(0.02)
        assert await listening()
        await asyncio.sleep(0.2)  # the first pass is over: it sleeps up to 5 s

        loop = asyncio.get_running_loop()
        started = loop.time()
        deps = ServiceDeps(writer, CALENDAR, after_commit=None)  # no wake() call
        referee = await directory.create_referee(deps, "Nora Notify", "VC Nord")
        [envelope] = await take(tail, 1, timeout=1.0)
        assert envelope.aggregate_id == referee.id
        assert loop.time() - started < 1.0
    finally:
        await stop(runner)
        await tail.aclose()
        await bus.close()
        await writer.dispose()

