"""Differential tests: every operation gives byte-identical JSON (data and errors, with
null propagation and error paths) through compiled execution and through graphql-core,
as ADMIN and as a REFEREE, on the seeded demo league."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta
from typing import Any

import pytest
from graphql import parse
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import queries as generated_queries
from sqlalchemy.ext.asyncio import AsyncEngine

from app.execution.executor import is_compiled
from app.repos.engine import create_engine
from app.security.identity import Identity
from tests.dates import demo_season_start
from tests.e2e.test_fuzz import _string, any_values, datetime_values, id_values
from tests.execution.documents import e2e_query_documents, operation_names, variables_for
from tests.execution.harness import ADMIN, league_of, referee_identity, run
from tests.execution.web_app import web_app_queries
from tests.federation.corpus import League, queries

FIXTURE_SELECTION = """id date status venue { id name city } teamHome { id name club }
  teamAway { id name club } firstReferee { id name club } secondReferee { id name club }"""
# The benchmark's operations (../shared/peers/bodies): a 5-day window of fixtures, one fixture.
Q1 = f"query Q1($from: DateTime!, $to: DateTime!, $first: Int) {{ fixtures(from: $from, to: $to, first: $first) {{ edges {{ node {{ {FIXTURE_SELECTION} }} }} }} }}"
Q2 = f"query Q2($id: ID!) {{ fixture(id: $id) {{ {FIXTURE_SELECTION} }} }}"
# The demo season's first six weeks (it moves with the seed day, today).
Q1_VARIABLES = {
    "from": f"{demo_season_start() - timedelta(days=4)}T00:00:00Z",
    "to": f"{demo_season_start() + timedelta(weeks=6, days=-2)}T00:00:00Z",
    "first": 100,
}


def identities(league: League) -> list[Identity]:
    return [ADMIN, referee_identity(league.busy_referee)]


async def assert_same(
    compiled_schema: Any,
    interpreted_schema: Any,
    engine: AsyncEngine,
    query: str,
    variables: dict[str, Any] | None,
    identity: Identity,
    operation_name: str | None = None,
) -> str:
    interpreted = await run(interpreted_schema, engine, query, variables, identity, operation_name)
    compiled = await run(compiled_schema, engine, query, variables, identity, operation_name)
    assert compiled == interpreted, f"{query}\n{variables}\n{identity.role}"
    return compiled


async def test_q1_and_q2_compiled_and_identical(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League
) -> None:
    for identity in identities(league):
        page = await assert_same(compiled_schema, interpreted_schema, league_engine, Q1, Q1_VARIABLES, identity)
        assert page.count('"venue"') >= 20, "the window holds fixtures"
        one = await assert_same(
            compiled_schema, interpreted_schema, league_engine, Q2, {"id": league.fixture}, identity
        )
        assert '"firstReferee": {"id"' in one
    assert is_compiled(compiled_schema, Q1, "Q1") and is_compiled(compiled_schema, Q2, "Q2")


@pytest.mark.parametrize("operation", queries(), ids=lambda o: o.name)
async def test_federation_corpus(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League, operation: Any
) -> None:
    for identity in identities(league):
        await assert_same(
            compiled_schema, interpreted_schema, league_engine, operation.query, operation.variables(league), identity
        )


SHARED_KEY = """query($r: ID!) {
  a: referee(id: $r) { notifications { id } assignments { role fixture { venue { name } } } }
  b: referee(id: $r) { assignments { role fixture { venue { name } } } } }"""


async def test_a_refused_field_leaves_the_fields_waiting_for_the_same_key_alone(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League
) -> None:
    """graphql-core cancels the siblings of a failed non-null field (`a.notifications`, not
    this REFEREE's): `a.assignments`'s wait is cancelled, not the loader's future that
    `b.assignments` waits for too (app.loaders.batch), which used to fail the operation."""
    assert league.referee != league.busy_referee
    answer = await assert_same(
        compiled_schema, interpreted_schema, league_engine, SHARED_KEY, {"r": league.busy_referee},
        referee_identity(league.referee),
    )
    result = json.loads(answer)
    assert result["data"]["a"] is None and result["data"]["b"]["assignments"], result
    assert [(e["path"], e["extensions"]["code"]) for e in result["errors"]] == [(["a", "notifications"], "FORBIDDEN")]


E2E_DOCUMENTS = e2e_query_documents()


async def test_every_query_of_the_e2e_suite(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League
) -> None:
    assert len(E2E_DOCUMENTS) >= 50, "the e2e suite's documents were found"
    compiled = 0
    for text in E2E_DOCUMENTS:
        for name in operation_names(text):
            variables = variables_for(interpreted_schema._schema, text, name, league)
            for identity in identities(league):
                await assert_same(compiled_schema, interpreted_schema, league_engine, text, variables, identity, name)
            compiled += is_compiled(compiled_schema, text, name)
    assert compiled >= 40, f"only {compiled} of the e2e queries ran compiled"


WEB_APP_QUERIES = web_app_queries()


async def test_every_query_of_the_web_app_runs_compiled_and_identical(
    compiled_schema: Any, interpreted_schema: Any, league_engine: AsyncEngine, league: League
) -> None:
    """What the web app (app/ui/static/js) asks, as ADMIN and as a REFEREE: all of it compiled."""
    assert len(WEB_APP_QUERIES) >= 10, "the web app's queries were found"
    for text in WEB_APP_QUERIES:
        variables = variables_for(interpreted_schema._schema, text, None, league)
        for identity in identities(league):
            await assert_same(compiled_schema, interpreted_schema, league_engine, text, variables, identity)
        (name,) = {d.name.value if d.name else None for d in parse(text).definitions}
        assert is_compiled(compiled_schema, text, name), text


GENERATED_EXAMPLES = int(os.environ.get("WHISTLE_COMPILED_EXAMPLES", "150"))


def test_generated_queries(compiled_schema: Any, interpreted_schema: Any, league_url: str) -> None:
    """hypothesis-graphql's queries over every root field, with ids of the league (and
    malformed ones), odd date-times and `_entities` representations, each as ADMIN and as
    a REFEREE."""
    with asyncio.Runner() as runner:
        engine = create_engine(league_url)
        league = runner.run(league_of(interpreted_schema, engine))
        known = [league.referee, league.busy_referee, league.team, league.venue, league.fixture]
        scalars = {"ID": _string(id_values(known)), "DateTime": _string(datetime_values()), "_Any": any_values(known)}
        strategy = generated_queries(interpreted_schema._schema, custom_scalars=scalars)
        compiled = 0

        @settings(
            max_examples=GENERATED_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same queries every run
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(query=strategy)
        def compare(query: str) -> None:
            nonlocal compiled
            for identity in identities(league):
                runner.run(assert_same(compiled_schema, interpreted_schema, engine, query, None, identity))
            compiled += is_compiled(compiled_schema, query)

        try:
            compare()
        finally:
            runner.run(engine.dispose())
        assert compiled >= GENERATED_EXAMPLES // 3, f"only {compiled} generated queries ran compiled"
