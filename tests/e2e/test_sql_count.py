"""The number of SQL statements of a request does not grow with the data it returns.

Statements are counted with a class-level `before_cursor_execute` listener on
`sqlalchemy.engine.Engine` (so every engine of the app is seen), restricted by a
context variable to the statements the counted request itself causes: the app's
background tasks (outbox relay, notifications projector) started before it and do
not carry the variable.

Measured (both backends): a fixtures page with every nested field costs 10 statements
whether it holds 10 or 200 fixtures, and `_entities` costs 5 statements for 5 or 100 mixed
representations (see the assertion messages, `pytest -rA` or `-s` prints them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.availability_lock import AvailabilityLock
from app.domain.calendar import LeagueCalendar
from app.domain.directory import Referee, Team, Venue
from app.domain.fixture import Fixture, RefereeRole
from app.repos.uow import UnitOfWork
from tests.e2e.helpers import UNKNOWN_ID, GraphQL

_counted: ContextVar[list[str] | None] = ContextVar("counted_statements", default=None)


def _on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    statements = _counted.get()
    if statements is not None:
        statements.append(statement)


@pytest.fixture
def sql_listener() -> Iterator[None]:
    event.listen(Engine, "before_cursor_execute", _on_execute)
    yield
    event.remove(Engine, "before_cursor_execute", _on_execute)


async def counted(gql: GraphQL, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The data of one request and the SQL statements it sent."""
    await gql.data(query, variables)  # warm up: pool connections exist, nothing is first-time
    statements: list[str] = []
    token = _counted.set(statements)
    try:
        data = await gql.data(query, variables)
    finally:
        _counted.reset(token)
    return data, statements


class Seeded:
    def __init__(self) -> None:
        self.referees: list[Referee] = []
        self.teams: list[Team] = []
        self.venues: list[Venue] = []
        self.fixtures: list[Fixture] = []


async def seed(engine: AsyncEngine, fixtures: int) -> Seeded:
    """A league in one transaction through the repositories (no events, no outbox rows):
    each fixture has three declared referees, a committed FIRST and SECOND referee (of
    the first 20 referees) and one more SECOND staged (of the other 20)."""
    seeded = Seeded()
    seeded.referees = [Referee.register(uuid.uuid4(), f"Referee {i:03}", f"Club {i % 7}") for i in range(40)]
    seeded.teams = [Team.register(uuid.uuid4(), f"Team {i:02}", f"Club {i % 7}") for i in range(20)]
    seeded.venues = [
        Venue.register(uuid.uuid4(), f"Hall {i}", "Hauptstrasse 1", "8000", "Zürich", None, None) for i in range(10)
    ]
    start = datetime(2026, 9, 5, 18, 0, tzinfo=timezone.utc)
    open_lock = AvailabilityLock()
    calendar = LeagueCalendar(timezone.utc, timedelta(minutes=150))
    refs = seeded.referees
    for n in range(fixtures):
        home, away = seeded.teams[n % 20], seeded.teams[(n + 1) % 20]
        fixture = Fixture.schedule(
            uuid.uuid4(), start + timedelta(days=n), seeded.venues[n % 10].id, home.id, away.id, [], calendar
        )
        # The spare referee is never anyone's first or second: its load is never cached.
        first, second, spare = refs[n % 20], refs[(n + 1) % 20], refs[20 + n % 20]
        for referee in (first, second, spare):
            fixture.declare_availability(referee.id, open_lock)
        fixture.stage(first.id, RefereeRole.FIRST)
        fixture.stage(second.id, RefereeRole.SECOND)
        fixture.commit_staged()
        fixture.stage(spare.id, RefereeRole.SECOND)
        seeded.fixtures.append(fixture)
    async with UnitOfWork(engine) as uow:
        for aggregate in [*seeded.referees, *seeded.teams, *seeded.venues, *seeded.fixtures]:
            aggregate.events.clear()
        for referee in seeded.referees:
            await uow.referees.add(referee)
        for team in seeded.teams:
            await uow.teams.add(team)
        for venue in seeded.venues:
            await uow.venues.add(venue)
        for fixture in seeded.fixtures:
            await uow.fixtures.add(fixture)
            fixture.events.clear()
        await uow.commit()
    return seeded


FIXTURES_PAGE = """query($first: Int) {
  fixtures(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id date status
      venue { id name street zip city telephone email }
      teamHome { id name club }
      teamAway { id name club }
      firstReferee { id name club }
      secondReferee { id name club }
      availableReferees { id name }
      assignments { role status referee { id name } fixture { id date } }
    } }
  }
}"""

ENTITIES = """query($r: [_Any!]!) {
  _entities(representations: $r) {
    __typename
    ... on Referee { id name }
    ... on Fixture { id venue { name } }
    ... on Team { id }
    ... on Venue { id }
  }
}"""


async def test_a_fixtures_page_with_every_nested_field_costs_the_same_statements_for_10_and_200(
    gql: GraphQL, engine: AsyncEngine, sql_listener: None
) -> None:
    await seed(engine, 210)
    small, small_sql = await counted(gql, FIXTURES_PAGE, {"first": 10})
    large, large_sql = await counted(gql, FIXTURES_PAGE, {"first": 200})

    for data, size in [(small, 10), (large, 200)]:
        connection = data["fixtures"]
        assert connection["totalCount"] == 210
        assert connection["pageInfo"]["hasNextPage"] is True
        assert len(connection["edges"]) == size
        for edge in connection["edges"]:  # everything was really loaded
            node = edge["node"]
            assert node["venue"]["name"] and node["teamHome"]["name"] and node["teamAway"]["name"]
            assert node["firstReferee"]["name"] and node["secondReferee"]["name"]
            assert len(node["availableReferees"]) == 3
            assert [(a["role"], a["status"]) for a in node["assignments"]][0] == ("FIRST", "COMMITTED")
            assert len(node["assignments"]) == 3
            assert all(a["fixture"]["id"] == node["id"] and a["referee"]["name"] for a in node["assignments"])
    assert small_sql, "the listener saw no statement: the count would prove nothing"
    listing = "\n".join(s.split("\n")[0] for s in large_sql)
    assert len(small_sql) == len(large_sql), (
        f"page of 10: {len(small_sql)} statements, page of 200: {len(large_sql)}:\n{listing}"
    )
    assert len(large_sql) <= 12, f"{len(large_sql)} statements:\n{listing}"
    print(f"\nfixtures page with every nested field: {len(small_sql)} statements for 10 and for 200 fixtures")


def _representations(seeded: Seeded, count: int, *, upper: bool = False) -> list[dict[str, str]]:
    # Fixtures of even number play in the even venues; only odd venues are asked for
    # directly, so `Fixture.venue` never finds its venue already loaded (the worst case).
    kinds = [
        ("Referee", seeded.referees),
        ("Fixture", seeded.fixtures[::2]),
        ("Team", seeded.teams),
        ("Venue", seeded.venues[1::2]),
    ]
    result = []
    for i in range(count):
        typename, objects = kinds[i % 4]
        id = str(objects[(i // 4) % len(objects)].id)
        result.append({"__typename": typename, "id": id.upper() if upper and i % 3 == 0 else id})
    return result


async def test_entities_cost_the_same_statements_for_5_and_100_mixed_representations(
    gql: GraphQL, engine: AsyncEngine, sql_listener: None
) -> None:
    seeded = await seed(engine, 40)
    few, few_sql = await counted(gql, ENTITIES, {"r": _representations(seeded, 5)})
    many, many_sql = await counted(gql, ENTITIES, {"r": _representations(seeded, 100, upper=True)})

    assert len(few["_entities"]) == 5 and len(many["_entities"]) == 100
    assert all(e is not None for e in few["_entities"] + many["_entities"])
    assert few_sql, "the listener saw no statement: the count would prove nothing"
    listing = "\n".join(s.split("\n")[0] for s in many_sql)
    assert len(few_sql) == len(many_sql), (
        f"_entities of 5: {len(few_sql)} statements, of 100: {len(many_sql)}:\n{listing}"
    )
    assert len(many_sql) <= 6, f"{len(many_sql)} statements:\n{listing}"
    print(f"\n_entities: {len(few_sql)} statements for 5 and for 100 representations")


async def test_entities_come_back_in_the_order_asked_with_null_for_unknown_and_malformed_ids(
    gql: GraphQL, engine: AsyncEngine
) -> None:
    seeded = await seed(engine, 3)
    referee, team, venue, fixture = seeded.referees[0], seeded.teams[0], seeded.venues[0], seeded.fixtures[0]
    representations = [
        {"__typename": "Fixture", "id": str(fixture.id)},
        {"__typename": "Referee", "id": UNKNOWN_ID},
        {"__typename": "Venue", "id": str(venue.id).upper()},
        {"__typename": "Team", "id": "not-a-uuid"},
        {"__typename": "Referee", "id": str(referee.id)},
        {"__typename": "Fixture", "id": str(uuid.uuid4())},
        {"__typename": "Team", "id": str(team.id)},
        {"__typename": "Venue", "id": ""},
        {"__typename": "Referee", "id": str(team.id)},  # a team's id is no referee
        {"__typename": "Team", "id": str(team.id)},  # the same entity twice
    ]
    data = await gql.data(ENTITIES, {"r": representations})
    assert data["_entities"] == [
        {"__typename": "Fixture", "id": str(fixture.id), "venue": {"name": "Hall 0"}},
        None,
        {"__typename": "Venue", "id": str(venue.id)},
        None,
        {"__typename": "Referee", "id": str(referee.id), "name": referee.name},
        None,
        {"__typename": "Team", "id": str(team.id)},
        None,
        None,
        {"__typename": "Team", "id": str(team.id)},
    ]
