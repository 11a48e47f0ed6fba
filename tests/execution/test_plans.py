"""What runs compiled, what falls back, how plans are cached, and the switch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api import build_schema
from app.config import Settings
from app.execution import CompiledExecutor
from app.execution.executor import compiled_plans, is_compiled
from tests.execution.harness import ADMIN, referee_identity, run
from tests.execution.test_differential import assert_same
from tests.federation.corpus import League


async def test_unsupported_operations_fall_back_and_answer_right(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League
) -> None:
    entities = f'{{ _entities(representations: [{{__typename: "Referee", id: "{league.busy_referee}"}}]) {{ ... on Referee {{ name }} }} }}'
    introspection = "{ __schema { queryType { name } } referees { name } }"
    for text in (entities, introspection):
        answer = json.loads(await assert_same(compiled_schema, interpreted_schema, league_engine, text, None, ADMIN))
        assert "errors" not in answer and answer["data"], answer
        assert not is_compiled(compiled_schema, text), "abstract types and introspection are graphql-core's"
    mutation = "mutation { lockAvailabilities { locked } }"
    assert json.loads(await run(compiled_schema, league_engine, mutation, identity=referee_identity(league.busy_referee)))[
        "errors"
    ][0]["extensions"]["code"] == "FORBIDDEN"
    assert not is_compiled(compiled_schema, mutation)


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
