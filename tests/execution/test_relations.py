"""Relation fields (app.schema.relations): the batch form a compiled plan runs for a whole
level gives, object for object, what the field's resolver gives for that object alone,
on the league's rows and on the cases its data never has (a referenced row missing, no
id at all)."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy.ext.asyncio import AsyncEngine

from app.cache.memory_cache import MemoryCache
from app.execution.plan import BATCH
from app.loaders import Loaders
from app.loaders.batch import BatchLoader
from app.loaders.cached import cache_key
from app.repos import reads
from app.repos.engine import read_only
from app.repos.reads import FixtureFilter
from app.schema.relations import MISSING
from app.schema.types import Assignment, Fixture
from tests.execution.harness import ADMIN, new_context, run


def _relations(type_: type) -> dict[str, Any]:
    return {f.python_name: f for f in type_.__strawberry_definition__.fields if BATCH in f.metadata}  # type: ignore[attr-defined]


async def _outcome(resolve: Any, source: Any, info: Any) -> Any:
    try:
        return await resolve(source, info)
    except Exception as error:  # noqa: BLE001 - compared with the batch form's
        return error


def _same(batched: Any, alone: Any) -> bool:
    if isinstance(alone, Exception):
        return type(batched) is type(alone) and str(batched) == str(alone)
    return batched == alone


async def _assert_batch_forms_match(type_: type, sources: list[Any], engine: AsyncEngine) -> None:
    for name, field in _relations(type_).items():
        context = new_context(engine, ADMIN)
        batched = await field.metadata[BATCH](context, sources)
        info = SimpleNamespace(context=new_context(engine, ADMIN))  # the resolver reads only the context
        alone = [await _outcome(field.base_resolver.wrapped_func, source, info) for source in sources]
        assert len(batched) == len(sources)
        assert all(_same(b, a) for b, a in zip(batched, alone, strict=True)), (name, batched, alone)


async def test_fixture_relations_batched_as_resolved_one_by_one(league_engine: AsyncEngine) -> None:
    loaders = new_context(league_engine, ADMIN).loaders
    records = await loaders.read(reads.fixtures_page, FixtureFilter(), 30, None)
    assert len(records) == 30
    orphan = replace(records[0], id=uuid4(), venue_id=uuid4(), team_home_id=uuid4(), first_referee_id=uuid4())
    unassigned = replace(records[1], first_referee_id=None, second_referee_id=None)
    sources = [Fixture.from_record(r) for r in [*records, orphan, unassigned, records[0]]]
    assert set(_relations(Fixture)) == {"venue", "team_home", "team_away", "first_referee", "second_referee"}
    await _assert_batch_forms_match(Fixture, sources, league_engine)

    batched = await _relations(Fixture)["venue"].metadata[BATCH](new_context(league_engine, ADMIN), sources)
    assert isinstance(batched[30], LookupError) and str(batched[30]) == MISSING
    assert batched[0] is batched[32], "a referred object is made once per batch"
    referees = await _relations(Fixture)["first_referee"].metadata[BATCH](new_context(league_engine, ADMIN), sources)
    assert referees[30] is None and referees[31] is None, "optional: missing or no id is null, not an error"


async def test_assignment_relations_batched_as_resolved_one_by_one(league_engine: AsyncEngine) -> None:
    records = await new_context(league_engine, ADMIN).loaders.read(reads.all_assignments, None)
    assert records, "the league has assignments"
    sources = [Assignment.from_record(r) for r in records[:20]]
    sources.append(replace(sources[0], referee_id=uuid4()))
    await _assert_batch_forms_match(Assignment, sources, league_engine)


async def test_batch_forms_answer_the_same_from_a_warm_cache(league_engine: AsyncEngine) -> None:
    """The second page of a process finds its venues, teams and referees in the in-process
    cache (`peek`): the same answers as the first, which read them, and as the resolvers."""
    cache = MemoryCache()
    records = await new_context(league_engine, ADMIN).loaders.read(reads.fixtures_page, FixtureFilter(), 30, None)
    unassigned = replace(records[1], first_referee_id=None, second_referee_id=None)
    sources = [Fixture.from_record(r) for r in [*records, unassigned]]
    for name, field in _relations(Fixture).items():
        cold = await field.metadata[BATCH](SimpleNamespace(loaders=Loaders(read_only(league_engine), cache)), sources)
        warm_loaders = Loaders(read_only(league_engine), cache)
        warm = await field.metadata[BATCH](SimpleNamespace(loaders=warm_loaders), sources)
        used = [loader for loader in vars(warm_loaders).values() if isinstance(loader, BatchLoader)]
        assert used and not any(loader._cache for loader in used), name  # no DataLoader load: at hand
        assert all(_same(w, c) for w, c in zip(warm, cold, strict=True)), name
        info = SimpleNamespace(context=new_context(league_engine, ADMIN))
        alone = [await _outcome(field.base_resolver.wrapped_func, source, info) for source in sources]
        assert all(_same(w, a) for w, a in zip(warm, alone, strict=True)), name


_PAGE = "{ fixtures(first: 40) { edges { node { id venue { name city } teamHome { name } firstReferee { id name club } secondReferee { name club } } } } }"


async def test_pages_from_a_warm_cache_answer_as_graphql_core_and_follow_a_changed_entry(
    league_engine: AsyncEngine, compiled_schema: Any, interpreted_schema: Any
) -> None:
    """Cached venues, teams and referees are the same objects from one request to the
    next, and a compiled plan keeps their dicts: a page answers as graphql-core's
    execution does, first, warm and once an entry changed in the cache."""
    cache = MemoryCache()
    expected = await run(interpreted_schema, league_engine, _PAGE)
    for _ in range(3):  # cold, then warm: the same answer
        assert await run(compiled_schema, league_engine, _PAGE, cache=cache) == expected

    first = json.loads(expected)["data"]["fixtures"]["edges"][0]["node"]["firstReferee"]
    key = cache_key("referee", UUID(first["id"]))
    [entry] = (await cache.get_many([key])).values()
    await cache.set_many({key: {**entry, "club": "Changed in the cache"}}, 60)
    changed = await run(compiled_schema, league_engine, _PAGE, cache=cache)
    assert changed == await run(interpreted_schema, league_engine, _PAGE, cache=cache)
    node = json.loads(changed)["data"]["fixtures"]["edges"][0]["node"]
    assert node["firstReferee"]["club"] == "Changed in the cache"
