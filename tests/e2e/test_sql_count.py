"""The number of SQL statements of a request does not grow with the data it returns.

Statements are counted with a class-level `before_cursor_execute` listener on
`sqlalchemy.engine.Engine` (so every engine of the app is seen), restricted by a
context variable to the statements the counted request itself causes: the app's
background tasks (outbox relay, notifications projector) started before it and do
not carry the variable.

Measured on both backends, on a fresh app instance (cold: empty directory cache)
and for the same request again (warm):
- a fixtures page with every nested field: 8 statements cold, 4 warm, for 10 fixtures
  and for 200 fixtures alike;
- `_entities` with mixed Referee/Team/Venue/Fixture representations: 5 statements
  cold, 1 warm, for 5 representations and for 300 alike.
(`pytest -s` prints the counts and the statements.)
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
from tests.e2e.conftest import OpenClient
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


async def _run_counted(gql: GraphQL, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    statements: list[str] = []
    token = _counted.set(statements)
    try:
        data = await gql.data(query, variables)
    finally:
        _counted.reset(token)
    return data, statements


class Measured:
    """One query on a fresh app instance: cold (its first request: the directory cache
    and the connection pool are empty) and warm (the same request again)."""

    def __init__(self, data: dict[str, Any], cold: list[str], warm: list[str]) -> None:
        self.data, self.cold, self.warm = data, cold, warm

    def listing(self) -> str:
        return "\n".join(s.split("\n")[0][:100] for s in self.cold)


async def measure(open_client: OpenClient, query: str, variables: dict[str, Any]) -> Measured:
    # An in-process cache, so that every measurement starts cold whatever the environment
    # says; a cost limit that admits a page of 200 fixtures with every nested field (the
    # default, 5,000, refuses it before execution: that limit is tested elsewhere).
    async with open_client(redis_url=None, max_cost=100_000) as http:
        gql = GraphQL(http)
        data, cold = await _run_counted(gql, query, variables)
        again, warm = await _run_counted(gql, query, variables)
    assert again == data
    assert cold and warm, "the listener saw no statement: the count would prove nothing"
    return Measured(data, cold, warm)


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
        fixture.stage(first.id, RefereeRole.FIRST, start - timedelta(days=1))
        fixture.stage(second.id, RefereeRole.SECOND, start - timedelta(days=1))
        fixture.commit_staged()
        fixture.stage(spare.id, RefereeRole.SECOND, start - timedelta(days=1))
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
    open_client: OpenClient, engine: AsyncEngine, sql_listener: None
) -> None:
    await seed(engine, 210)
    small = await measure(open_client, FIXTURES_PAGE, {"first": 10})
    large = await measure(open_client, FIXTURES_PAGE, {"first": 200})

    for data, size in [(small.data, 10), (large.data, 200)]:
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
    report = (
        f"fixtures page with every nested field: cold {len(small.cold)} statements for 10 fixtures and "
        f"{len(large.cold)} for 200; warm {len(small.warm)} and {len(large.warm)}.\n"
        f"cold, 200:\n{large.listing()}"
    )
    print("\n" + report)
    assert len(small.cold) == len(large.cold), report
    assert len(small.warm) == len(large.warm), report
    # Measured: cold 8 (fixtures, count, venues, teams, referees, availabilities,
    # assignments, then the referees only found through them), warm 4 (the directory
    # comes from the cache).
    assert len(large.cold) <= 8 and len(large.warm) <= len(large.cold), report


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


async def test_entities_cost_the_same_statements_for_5_and_300_mixed_representations(
    open_client: OpenClient, engine: AsyncEngine, sql_listener: None
) -> None:
    seeded = await seed(engine, 40)
    few = await measure(open_client, ENTITIES, {"r": _representations(seeded, 5)})
    many = await measure(open_client, ENTITIES, {"r": _representations(seeded, 300, upper=True)})

    assert len(few.data["_entities"]) == 5 and len(many.data["_entities"]) == 300
    assert all(e is not None for e in few.data["_entities"] + many.data["_entities"])
    assert {e["__typename"] for e in few.data["_entities"]} == {"Referee", "Team", "Venue", "Fixture"}
    report = (
        f"_entities: cold {len(few.cold)} statements for 5 representations and {len(many.cold)} for 300; "
        f"warm {len(few.warm)} and {len(many.warm)}.\ncold, 300:\n{many.listing()}"
    )
    print("\n" + report)
    assert len(few.cold) == len(many.cold), report
    assert len(few.warm) == len(many.warm), report
    # Measured: cold 5 (referees, teams, venues, fixtures, the fixtures' venues), warm 1 (fixtures).
    assert len(many.cold) <= 5 and len(many.warm) <= len(many.cold), report


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
