"""The gateway over the three subgraphs answers exactly as the monolith does, on the same
database: every query and mutation of API.md (tests/federation/corpus.py), errors included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.federation.corpus import Side, known_league, notifications_arrived, queries, run_scenario, scenario
from tests.federation.stack import Stack

pytestmark = pytest.mark.federation

# The gateway rewrites the operation it sends to a subgraph: a bad variable value is
# reported by the subgraph under the gateway's variable name, with the field's path.
# Such errors compare by code and reason only.
REWRITTEN_VARIABLES = {"fixtures bad datetime"}


@pytest.fixture
async def sides(stack: Stack) -> AsyncIterator[tuple[Side, Side]]:
    monolith, gateway = Side("monolith", stack.monolith.url), Side("gateway", stack.gateway.url)
    yield monolith, gateway
    await monolith.close()
    await gateway.close()


def _codes(result: dict) -> list[tuple[str | None, str | None]]:
    return [(e["extensions"].get("code"), e["extensions"].get("reason")) for e in result.get("errors", [])]


def test_the_corpus_covers_every_root_field_and_at_least_30_operations() -> None:
    from app.schema.subgraphs import ROOT_FIELDS

    text = " ".join(op.query for op in [*queries(), *scenario()])
    untouched = [f"{t}.{f}" for t, f in ROOT_FIELDS if t != "Subscription" and f"{f}(" not in text and f"{f} " not in text]
    assert not untouched, untouched
    assert len(queries()) + len(scenario()) >= 30


async def test_queries_give_the_same_json_through_the_gateway(sides: tuple[Side, Side]) -> None:
    monolith, gateway = sides
    league = await known_league(monolith)
    errors_seen = 0
    for op in queries():
        variables = op.variables(league)
        expected, actual = monolith.normalized(await monolith(op.query, variables)), gateway.normalized(await gateway(op.query, variables))
        if op.name in REWRITTEN_VARIABLES:
            assert _codes(actual) == _codes(expected) and actual["data"] == expected["data"], op.name
        else:
            assert actual == expected, f"{op.name}:\nmonolith {json.dumps(expected)[:2000]}\ngateway  {json.dumps(actual)[:2000]}"
        errors_seen += bool(expected.get("errors"))
        assert expected["data"] is not None or expected.get("errors"), op.name
    assert errors_seen == 4  # INVALID_ID, INVALID_PAGE_SIZE, INVALID_CURSOR, INVALID_DATETIME went through


async def test_mutations_give_the_same_json_through_the_gateway(sides: tuple[Side, Side]) -> None:
    """The scenario runs through the monolith, then through the gateway, each on its own new
    entities; the answers are equal once each side's ids are named."""
    monolith, gateway = sides
    # The demo league's staged assignments would be committed by the first run only.
    staged = (await monolith("{ assignments(status: STAGED) { fixture { id } referee { id } } }"))["data"]["assignments"]
    for a in staged:
        await monolith("mutation($f: ID!, $r: ID!) { removeStagedAssignment(fixtureId: $f, refereeId: $r) }",
                       {"f": a["fixture"]["id"], "r": a["referee"]["id"]})

    async def before(name: str, side: Side) -> None:
        if name == "referee A with notifications":
            await notifications_arrived(side, "A", 1)

    expected = await run_scenario(monolith, before)
    actual = await run_scenario(gateway, before)
    for op, want, got in zip(scenario(), expected, actual, strict=True):
        assert got == want, f"{op.name}:\nmonolith {json.dumps(want)[:2000]}\ngateway  {json.dumps(got)[:2000]}"
    by_name = {op.name: result for op, result in zip(scenario(), actual)}
    # The scenario did what it says (so the equality above compared meaningful answers).
    assert _codes(by_name["commit refused"]) == [("CONFLICT", "VALIDATION_FAILED")]
    assert by_name["commit refused"]["errors"][0]["extensions"]["problems"]
    assert _codes(by_name["createFixture team busy"]) == [("CONFLICT", "TEAM_BUSY")]
    assert _codes(by_name["declare while locked"]) == [("CONFLICT", "AVAILABILITIES_LOCKED")]
    assert _codes(by_name["createVenue bad email"]) == [("BAD_USER_INPUT", "INVALID_EMAIL")]
    assert _codes(by_name["stage on unknown fixture"]) == [("NOT_FOUND", "FIXTURE_NOT_FOUND")]
    commit = by_name["commitAssignments"]["data"]["commitAssignments"]["assignments"]
    assert [(a["role"], a["referee"]["name"]) for a in commit] == [("FIRST", "Anna Twin"), ("SECOND", "Beat Twin")]
    assert by_name["markNotificationsRead"]["data"] == {"markNotificationsRead": 1}


async def test_gateway_errors_of_its_own_keep_the_contract_codes(sides: tuple[Side, Side]) -> None:
    """Syntax and validation errors never reach a subgraph: the gateway answers them."""
    monolith, gateway = sides
    for query in ("{ referees { id ", "{ referees { nope } }"):
        want, got = await monolith(query), await gateway(query)
        assert [e["extensions"]["code"] for e in got["errors"]] == [e["extensions"]["code"] for e in want["errors"]], (want, got)
