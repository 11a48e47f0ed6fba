"""The per-request loaders, on both databases: built on first use, they still batch (one
statement per tick whatever the number of keys) and are kept for the request; the read
queries behind them, built once as statements with parameters, answer as before for
any number of keys and every fixture filter."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cache.memory_cache import MemoryCache
from app.domain.fixture import FixtureStatus, RefereeRole
from app.loaders import Loaders
from app.repos import reads
from app.repos.engine import read_only
from app.repos.reads import FixtureFilter
from tests.integration.conftest import World

KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


class Statements:
    def __init__(self, engine: AsyncEngine) -> None:
        self.seen: list[str] = []
        self._engine = engine

    def __enter__(self) -> list[str]:
        event.listen(self._engine.sync_engine, "before_cursor_execute", self._on)
        return self.seen

    def __exit__(self, *_: Any) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._on)

    def _on(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement)


async def test_a_loader_is_built_on_first_use_kept_and_still_batches(world: World, engine: AsyncEngine) -> None:
    fixtures = [await world.fixture(KICK_OFF + timedelta(days=d)) for d in range(3)]
    loaders = Loaders(read_only(engine), MemoryCache())
    assert "fixture" not in vars(loaders)  # nothing built up front
    with Statements(engine) as seen:
        records = await asyncio.gather(*(loaders.fixture.load(f.id) for f in fixtures), loaders.fixture.load(fixtures[0].id))
    assert [r.id for r in records] == [f.id for f in fixtures] + [fixtures[0].id]
    assert len(seen) == 1  # one statement for the batch
    assert loaders.fixture is loaders.fixture and "fixture" in vars(loaders)
    with Statements(engine) as seen:
        assert (await loaders.fixture.load(fixtures[1].id)).id == fixtures[1].id
    assert seen == []  # the kept loader's cache answers
    assert Loaders(read_only(engine), MemoryCache()).fixture is not loaders.fixture  # never shared between requests


async def test_reads_by_ids_answer_for_none_one_and_many_keys(world: World, engine: AsyncEngine) -> None:
    fixture = await world.fixture(KICK_OFF)
    other = await world.fixture(KICK_OFF + timedelta(days=1))
    referee = await world.referee()
    await world.committed(fixture.id, referee.id, RefereeRole.FIRST)
    async with read_only(engine).connect() as conn:
        assert await reads.fixtures_by_ids(conn, []) == {}
        assert set(await reads.fixtures_by_ids(conn, (fixture.id,))) == {fixture.id}
        assert set(await reads.fixtures_by_ids(conn, [fixture.id, other.id])) == {fixture.id, other.id}
        assert set(await reads.teams_by_ids(conn, [fixture.team_home_id, fixture.team_away_id])) == {
            fixture.team_home_id,
            fixture.team_away_id,
        }
        assert set(await reads.venues_by_ids(conn, [fixture.venue_id])) == {fixture.venue_id}
        assert set(await reads.referees_by_ids(conn, [referee.id])) == {referee.id}
        assert [a.referee_id for a in (await reads.assignments_by_fixture(conn, [fixture.id]))[fixture.id]] == [referee.id]
        assert [a.fixture_id for a in (await reads.assignments_by_referee(conn, [referee.id]))[referee.id]] == [fixture.id]
        assert (await reads.available_referee_ids_by_fixture(conn, [fixture.id]))[fixture.id] == [referee.id]
        assert [f.id for f in (await reads.available_fixtures_by_referee(conn, [referee.id]))[referee.id]] == [fixture.id]


async def test_the_fixtures_page_and_count_for_every_filter(world: World, engine: AsyncEngine) -> None:
    first = await world.fixture(KICK_OFF)
    second = await world.fixture(KICK_OFF + timedelta(days=1), venue=first.venue_id, home=first.team_home_id)
    referee = await world.referee()
    await world.committed(second.id, referee.id, RefereeRole.FIRST)
    both = [first.id, second.id]
    cases = [
        (FixtureFilter(), both),
        (FixtureFilter(start=first.date), both),
        (FixtureFilter(start=second.date), [second.id]),
        (FixtureFilter(end=second.date), [first.id]),
        (FixtureFilter(start=first.date, end=second.date + timedelta(seconds=1)), both),
        (FixtureFilter(status=FixtureStatus.SCHEDULED, venue_id=first.venue_id), both),
        (FixtureFilter(status=FixtureStatus.CANCELLED), []),
        (FixtureFilter(team_id=first.team_away_id), [first.id]),
        (FixtureFilter(team_id=first.team_home_id, venue_id=first.venue_id), both),
        (FixtureFilter(referee_id=referee.id), [second.id]),
    ]
    async with read_only(engine).connect() as conn:
        for where, expected in cases:
            ids = [f.id for f in await reads.fixtures_page(conn, where, 10, None) if f.id in both]
            assert ids == expected, where
            assert await reads.count_fixtures(conn, where) >= len(expected)
        page = await reads.fixtures_page(conn, FixtureFilter(venue_id=first.venue_id), 1, None)
        assert [f.id for f in page] == [first.id]
        after = await reads.fixtures_page(conn, FixtureFilter(venue_id=first.venue_id), 1, (page[0].date, page[0].id))
        assert [f.id for f in after] == [second.id]
        assert await reads.count_fixtures(conn, FixtureFilter(venue_id=first.venue_id)) == 2


async def test_no_read_is_cancelled_or_outlives_settle_whichever_way_it_runs(engine: AsyncEngine) -> None:
    """A loader's read runs in the loader's batch task (no task of its own), a read from a
    resolver in a shielded task; cancelling the callers cancels neither, and settle()
    returns only once both have finished."""
    from aiodataloader import dispatch_queue_batch

    from app.loaders.batch import BatchLoader
    from app.loaders.request_reads import RequestReads

    requests = RequestReads(read_only(engine))
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []
    in_batch_task: list[bool] = []

    async def slow_fetch(conn: Any, keys: Any) -> dict[Any, Any]:
        in_batch_task.append(asyncio.current_task().get_coro().cr_code is dispatch_queue_batch.__code__)  # type: ignore[union-attr]
        started.set()
        await release.wait()
        finished.append("loader")
        return {k: k for k in keys}

    async def slow_read(conn: Any, name: str) -> str:
        await release.wait()
        finished.append(name)
        return name

    loader = BatchLoader(requests, slow_fetch)
    waiting = asyncio.ensure_future(loader.load(1))
    reading = asyncio.ensure_future(requests(slow_read, "resolver"))
    await started.wait()
    assert in_batch_task == [True]
    waiting.cancel()
    reading.cancel()
    settled = asyncio.ensure_future(requests.settle())
    await asyncio.sleep(0.05)
    assert not settled.done() and finished == []  # cancelled callers, reads still running
    release.set()
    await asyncio.wait_for(settled, 5)
    assert sorted(finished) == ["loader", "resolver"]  # both ran to their end
    assert waiting.cancelled() and reading.cancelled()
    assert not requests._running
