"""Differential tests: every operation gives byte-identical JSON (data and errors, with
null propagation and error paths) through compiled execution and through graphql-core,
as ADMIN and as a REFEREE, on the seeded demo league."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.execution.executor import is_compiled
from app.security.identity import Identity
from tests.execution.harness import ADMIN, referee_identity, run
from tests.federation.corpus import League, queries

FIXTURE_SELECTION = """id date status venue { id name city } teamHome { id name club }
  teamAway { id name club } firstReferee { id name club } secondReferee { id name club }"""
# The benchmark's operations (../shared/peers/bodies): a 5-day window of fixtures, one fixture.
Q1 = f"query Q1($from: DateTime!, $to: DateTime!, $first: Int) {{ fixtures(from: $from, to: $to, first: $first) {{ edges {{ node {{ {FIXTURE_SELECTION} }} }} }} }}"
Q2 = f"query Q2($id: ID!) {{ fixture(id: $id) {{ {FIXTURE_SELECTION} }} }}"
Q1_VARIABLES = {"from": "2026-09-01T00:00:00Z", "to": "2026-10-15T00:00:00Z", "first": 100}


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
