"""Cached directory reads against both cache adapters and both databases: a committed
change reaches the next fresh read once its event went through the broker (the
invalidator listener drops the entry), and a dead Redis only costs cache hits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cache.memory_cache import MemoryCache
from app.cache.port import Cache
from app.cache.redis_cache import RedisCache
from app.events.broker import Broker
from app.events.memory_bus import MemoryBus
from app.events.relay import OutboxRelay
from app.loaders import Loaders
from app.loaders.cached import cache_key, invalidator
from app.repos.engine import read_only
from app.schema.types import Referee
from app.services import directory
from tests.integration.bus_fixtures import RedisServer, free_port, require_redis, services_missing
from tests.integration.conftest import World
from tests.integration.event_helpers import WAIT, drain, stop, take


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    if request.param == "memory":
        memory = MemoryCache()
        yield memory
        await memory.close()
        return
    url = await require_redis()
    prefix = f"whistle:test:{uuid.uuid4().hex}:"
    redis_cache = RedisCache(url, prefix=prefix)
    try:
        yield redis_cache
    finally:
        await redis_cache.close()
        client = Redis.from_url(url)
        try:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()


def fresh_loaders(engine: AsyncEngine, cache: Cache) -> Loaders:
    """The loaders of a new request: nothing memoized, only the shared cache."""
    return Loaders(read_only(engine), cache, cache_ttl=300)


async def test_a_club_change_reaches_the_next_fresh_read_once_its_event_is_dispatched(
    world: World, engine: AsyncEngine, cache: Cache
) -> None:
    referee = await world.referee(club="VC Nord")
    first = await fresh_loaders(engine, cache).referee.load(referee.id)
    assert first is not None and first.club == "VC Nord"
    key = cache_key("referee", referee.id)
    assert (await cache.get_many([key]))[key]["club"] == "VC Nord"  # read through into the cache

    await directory.change_referee_club(world.deps, referee.id, "VC Süd")
    stale = await fresh_loaders(engine, cache).referee.load(referee.id)
    assert stale is not None and stale.club == "VC Nord"  # the cache answers until invalidated

    bus = MemoryBus()
    broker = Broker(bus)
    broker.add_listener(invalidator(cache))
    runner = asyncio.create_task(broker.run())
    try:
        await asyncio.wait_for(broker.started.wait(), WAIT)
        changes = aiter(broker.subscribe(lambda e: e.type == "RefereeClubChanged"))
        await drain(OutboxRelay(engine, bus))
        [changed] = await take(changes, 1)  # listeners ran before subscribers got it
        assert changed.aggregate_id == referee.id
        await changes.aclose()
    finally:
        await stop(runner)
        await bus.close()

    assert key not in await cache.get_many([key])
    fresh = await fresh_loaders(engine, cache).referee.load(referee.id)
    assert fresh is not None and (fresh.club, fresh.version) == ("VC Süd", 2)
    assert (await cache.get_many([key]))[key]["club"] == "VC Süd"  # cached again, now current


async def test_events_about_other_entries_leave_a_cached_referee_alone(
    world: World, engine: AsyncEngine, cache: Cache
) -> None:
    referee, other = await world.referee(club="VC Nord"), await world.referee(club="VC Ost")
    bus = MemoryBus()
    broker = Broker(bus)
    broker.add_listener(invalidator(cache))
    group = bus.group("dispatcher", "me")

    async def relay_and_dispatch() -> list[str]:
        await drain(OutboxRelay(engine, bus))
        deliveries = await group.read(block_ms=0)
        for delivery in deliveries:
            await broker.dispatch(delivery.envelope)
        return [d.envelope.type for d in deliveries]

    try:
        await relay_and_dispatch()
        await fresh_loaders(engine, cache).referee.load_many([referee.id, other.id])
        keys = [cache_key("referee", referee.id), cache_key("referee", other.id)]
        assert set(await cache.get_many(keys)) == set(keys)

        await directory.change_referee_club(world.deps, other.id, "VC West")
        await world.team()
        await world.venue()
        assert sorted(await relay_and_dispatch()) == ["RefereeClubChanged", "TeamCreated", "VenueCreated"]

        assert set(await cache.get_many(keys)) == {keys[0]}  # only the changed referee was dropped
    finally:
        await bus.close()


async def test_with_redis_dead_reads_fall_back_to_the_database_without_error(
    world: World, engine: AsyncEngine
) -> None:
    if not RedisServer.available():
        services_missing("redis-server", "the binary is not on PATH", "Install Redis")
    server = RedisServer(free_port())
    server.start()
    cache = RedisCache(server.url)
    bus = MemoryBus()
    try:
        referee = await world.referee(club="VC Nord")
        cached = await fresh_loaders(engine, cache).referee.load(referee.id)
        assert cached is not None and cached.club == "VC Nord"
        key = cache_key("referee", referee.id)
        assert key in await cache.get_many([key])  # it did use Redis while it was there

        server.stop()
        await directory.change_referee_club(world.deps, referee.id, "VC Süd")
        loop = asyncio.get_running_loop()
        started = loop.time()
        loaders = fresh_loaders(engine, cache)
        read, missing = await asyncio.gather(loaders.referee.load(referee.id), loaders.referee.load(uuid.uuid4()))
        assert read is not None and read.club == "VC Süd"  # from the database
        assert missing is None
        assert loop.time() - started < 2.0

        broker = Broker(bus)  # the invalidator cannot reach Redis either: no error, delivery goes on
        broker.add_listener(invalidator(cache))
        subscriber = aiter(broker.subscribe(lambda e: True))
        await drain(OutboxRelay(engine, bus))
        group = bus.group("inspect", "me")
        deliveries = await group.read(block_ms=0)
        for delivery in deliveries:
            await broker.dispatch(delivery.envelope)
        assert [e.type for e in await take(subscriber, len(deliveries))] == ["RefereeCreated", "RefereeClubChanged"]
        await subscriber.aclose()
        assert await cache.get_many([key]) == {}
    finally:
        await bus.close()
        await cache.close()
        server.stop()


async def test_a_page_finds_cached_referees_at_hand_as_fresh_as_the_cache(
    world: World, engine: AsyncEngine, cache: Cache
) -> None:
    """`peek` (what a compiled page's relations try first): the GraphQL objects of cached
    entries, made once and shared while the entry lives; gone with the entry."""
    referee = await world.referee(club="VC Nord")
    missing = uuid.uuid4()
    assert fresh_loaders(engine, cache).referee.peek([referee.id], Referee.from_domain) is None  # not cached yet
    await fresh_loaders(engine, cache).referee.load(referee.id)  # read through into the cache

    first = fresh_loaders(engine, cache).referee.peek([referee.id, None, referee.id], Referee.from_domain)
    if isinstance(cache, RedisCache):
        assert first is None  # Redis answers only by waiting: the loader reads as usual
        return
    assert first is not None and first[referee.id].club == "VC Nord"
    again = fresh_loaders(engine, cache).referee.peek([referee.id], Referee.from_domain)
    assert again is not None and again[referee.id] is first[referee.id]
    assert fresh_loaders(engine, cache).referee.peek([referee.id, missing], Referee.from_domain) is None

    primed = fresh_loaders(engine, cache)
    primed.prime_referees([await primed.referee.load(referee.id)])  # type: ignore[list-item]
    assert primed.referee.peek([referee.id], Referee.from_domain) is None  # this request's own value wins

    await directory.change_referee_club(world.deps, referee.id, "VC Süd")
    await cache.delete([cache_key("referee", referee.id)])  # what the invalidator does on the event
    assert fresh_loaders(engine, cache).referee.peek([referee.id], Referee.from_domain) is None
    await fresh_loaders(engine, cache).referee.load(referee.id)
    current = fresh_loaders(engine, cache).referee.peek([referee.id], Referee.from_domain)
    assert current is not None and current[referee.id].club == "VC Süd"
