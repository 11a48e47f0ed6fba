"""What runs compiled, what falls back, how plans are cached, and the switch."""

from __future__ import annotations

import gc
import json
from typing import Any

import graphql

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api import build_schema
from app.config import Settings
from app.execution import CompiledExecutor
from app.execution.executor import compiled_plans, is_compiled
from tests.execution.harness import ADMIN, new_context, referee_identity, run
from tests.execution.test_differential import Q1, Q1_VARIABLES, assert_same
from tests.federation.corpus import League


async def test_unsupported_operations_fall_back_and_answer_right(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League
) -> None:
    introspection = "{ __schema { queryType { name } } referees { name } }"
    answer = json.loads(await assert_same(compiled_schema, interpreted_schema, league_engine, introspection, None, ADMIN))
    assert "errors" not in answer and answer["data"]["__schema"]["queryType"]["name"] == "Query"
    assert not is_compiled(compiled_schema, introspection), "introspection is graphql-core's"
    mutation = "mutation { lockAvailabilities { locked } }"
    assert json.loads(await run(compiled_schema, league_engine, mutation, identity=referee_identity(league.busy_referee)))[
        "errors"
    ][0]["extensions"]["code"] == "FORBIDDEN"
    assert not is_compiled(compiled_schema, mutation)


async def test_entities_of_each_type_in_one_list(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League
) -> None:
    """`_entities` ([_Entity]!, a union): each representation completes as its runtime
    type; an unknown id is null, a malformed representation an error at its index."""
    text = """query($r: [_Any!]!) { _entities(representations: $r) { __typename
        ... on Referee { name } ... on Team { club } ... on Fixture { id venue { name } } ... on Venue { city } } }"""
    representations = [
        {"__typename": "Referee", "id": league.busy_referee},
        {"__typename": "Fixture", "id": league.fixture},
        {"__typename": "Team", "id": league.team},
        {"__typename": "Venue", "id": "00000000-0000-4000-8000-000000000000"},
        {"__typename": "Venue", "id": league.venue},
        {"__typename": "Nope", "id": league.venue},
    ]
    for identity in (ADMIN, referee_identity(league.busy_referee)):
        answer = json.loads(
            await assert_same(compiled_schema, interpreted_schema, league_engine, text, {"r": representations}, identity)
        )
        found = answer["data"]["_entities"]
        assert [e and e["__typename"] for e in found] == ["Referee", "Fixture", "Team", None, "Venue", None]
        assert found[1]["venue"]["name"] and [e["path"] for e in answer["errors"]] == [["_entities", 5]]
    assert is_compiled(compiled_schema, text)


async def test_null_propagation_and_error_path_of_a_refused_nested_field(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League
) -> None:
    """Referee.notifications ([Notification!]!) refused for another referee: the nearest
    nullable parent, `referee`, becomes null; the error keeps the field's path."""
    text = "query($id: ID!) { referee(id: $id) { name notifications { id } } teams { name } }"
    other = referee_identity(league.referee if league.referee != league.busy_referee else league.fixture)
    answer = json.loads(
        await assert_same(compiled_schema, interpreted_schema, league_engine, text, {"id": league.busy_referee}, other)
    )
    assert answer["data"]["referee"] is None and answer["data"]["teams"]
    [error] = answer["errors"]
    assert error["path"] == ["referee", "notifications"] and error["extensions"]["code"] == "FORBIDDEN"
    assert is_compiled(compiled_schema, text)


async def test_one_plan_per_operation_name(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine
) -> None:
    text = "query Teams { teams { name } } query Venues { venues { city } }"
    teams = await assert_same(compiled_schema, interpreted_schema, league_engine, text, None, ADMIN, "Teams")
    venues = await assert_same(compiled_schema, interpreted_schema, league_engine, text, None, ADMIN, "Venues")
    assert '"teams"' in teams and '"venues"' not in teams and '"venues"' in venues
    assert is_compiled(compiled_schema, text, "Teams") and is_compiled(compiled_schema, text, "Venues")


async def test_a_plan_serves_any_variable_values(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine
) -> None:
    text = "query($first: Int) { fixtures(first: $first) { edges { node { id } } } }"
    for first in (2, 3, 0):
        answer = json.loads(await assert_same(compiled_schema, interpreted_schema, league_engine, text, {"first": first}, ADMIN))
        if first:
            assert len(answer["data"]["fixtures"]["edges"]) == first
        else:
            assert answer["errors"][0]["extensions"]["reason"] == "INVALID_PAGE_SIZE"
    assert len(compiled_plans(compiled_schema, text)) == 1, "variables that no directive uses do not change the plan"


async def test_skip_and_include_variables_key_the_plan(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine
) -> None:
    text = """query($venue: Boolean!, $noTeams: Boolean!) { fixtures(first: 2) { edges { node {
        id venue @include(if: $venue) { name } ...Teams @skip(if: $noTeams) } } } }
        fragment Teams on Fixture { teamHome { name } }"""
    seen = {}
    for venue in (True, False):
        for no_teams in (True, False):
            variables = {"venue": venue, "noTeams": no_teams}
            answer = await assert_same(compiled_schema, interpreted_schema, league_engine, text, variables, ADMIN)
            node = json.loads(answer)["data"]["fixtures"]["edges"][0]["node"]
            assert ("venue" in node) is venue and ("teamHome" in node) is not no_teams
            seen[(venue, no_teams)] = answer
    assert len(set(seen.values())) == 4
    assert len(compiled_plans(compiled_schema, text)) == 4


def test_the_setting_switches_compiled_execution_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_schema().execution_context_class is CompiledExecutor, "on by default"
    monkeypatch.setenv("WHISTLE_COMPILED_EXECUTION", "false")
    settings = Settings()
    assert settings.compiled_execution is False
    assert not issubclass(build_schema(settings).execution_context_class, CompiledExecutor)


async def test_a_compiled_run_leaves_no_reference_cycles(compiled_schema: Any, league_engine: AsyncEngine) -> None:
    """Everything a compiled query held (executor, loaders, rows, objects, response) is freed
    by reference counting when it ends, not left to the garbage collector, whose walks over
    a request's objects were a tenth of a fixtures page's CPU."""
    query = Q1  # parsed and validated once, as the document cache does for the server
    document = graphql.parse(query)
    context = new_context(league_engine, ADMIN)
    result = await graphql.execute(
        compiled_schema._schema, document, context_value=context, variable_values=Q1_VARIABLES,
        executor_class=compiled_schema.execution_context_class,
    )  # fmt: skip
    assert not result.errors and result.data["fixtures"]["edges"], "a page was read"
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            context = new_context(league_engine, ADMIN)
            result = await graphql.execute(
                compiled_schema._schema, document, context_value=context, variable_values=Q1_VARIABLES,
                executor_class=compiled_schema.execution_context_class,
            )  # fmt: skip
            await context.loaders.settle()
            assert not result.errors
        del context, result
        gc.collect()
        left = {type(o).__name__ for o in gc.garbage} & {"CompiledExecutor", "Run", "Loaders", "Context", "FixtureRecord", "Fixture"}
        assert not left, f"held in reference cycles: {left}"
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
