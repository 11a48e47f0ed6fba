"""Live events end to end, with REAL processes: `whistle serve` subprocesses sharing one
PostgreSQL database and a redis-server of this module's own, and real WebSocket clients.

Two instances A and B: what is changed through A reaches subscribers on B once, in
commit order, after the commit; notifications are derived exactly once; B's cache is
invalidated by A's changes; a Redis outage loses nothing and doubles nothing; SIGTERM
closes open subscriptions and exits cleanly. Plus the embedded default (SQLite and the
in-process bus) in a single process.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.e2e.helpers import UNKNOWN_ID, GraphQL, League
from tests.e2e.processes import (
    LEGACY_WS,
    TRANSPORT_WS,
    ServerProcess,
    WsClient,
    create_postgres_database,
    drop_postgres_database,
    run_cli,
    whistle_env,
)
from tests.integration.bus_fixtures import RedisServer, free_port

pytestmark = pytest.mark.e2e

COMMITTED = """subscription { assignmentsCommitted {
  id committedAt
  assignments { role status
    fixture { id venue { name } teamHome { name } teamAway { name } }
    referee { id name } }
  replaced { role referee { id } }
} }"""
NOTIFICATIONS = "subscription($r: ID!) { notifications(refereeId: $r) { id kind message fixture { id } read } }"
FIXTURE_CHANGED = (
    "subscription($f: ID) { fixtureChanged(fixtureId: $f) {"
    " kind at fixture { id date status venue { name } } } }"
)
REFEREE_NOTIFICATIONS = "query($r: ID!) { referee(id: $r) { notifications(first: 200) { id kind fixture { id } message } } }"
CHANGE_DATE = "mutation($f: ID!, $d: DateTime!) { changeFixtureDate(fixtureId: $f, date: $d) { id date } }"
CHANGE_VENUE = "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }"
CANCEL = "mutation($f: ID!) { cancelFixture(fixtureId: $f) { id status } }"

# How long a subscription may take to be registered on the server after `subscribe` was
# sent (the protocols do not acknowledge a subscription).
SETTLE = 0.4

_serial = itertools.count(1)


def latency(what: str, started: float) -> float:
    took = time.monotonic() - started
    print(f"\nLATENCY {what}: {took * 1000:.0f} ms")
    return took


# --- the cluster: one database, one Redis, two instances ----------------------------------


@dataclass
class Cluster:
    database_url: str
    redis: RedisServer
    a: ServerProcess
    b: ServerProcess
    log_dir: Path

    def env(self, name: str) -> dict[str, str]:
        return server_env(self.database_url, self.redis.url, name)


def server_env(database_url: str, redis_url: str | None, name: str) -> dict[str, str]:
    return whistle_env(
        database_url=database_url,
        redis_url=redis_url,
        seed_demo=0,
        consumer_retry_ms=1000,
        instance_name=name,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not RedisServer.available():
        pytest.skip("redis-server is not on PATH")
    log_dir = tmp_path_factory.mktemp("live-events")
    database_url = create_postgres_database()
    redis = RedisServer(free_port())
    servers: list[ServerProcess] = []
    try:
        redis.start()
        run_cli("migrate", env=server_env(database_url, redis.url, "migrate"))
        servers = [ServerProcess(n, free_port(), server_env(database_url, redis.url, n), log_dir) for n in "ab"]
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        yield Cluster(database_url, redis, servers[0], servers[1], log_dir)
        for server in servers:
            server.stop()  # asserts a clean exit
    finally:
        for server in servers:
            server.kill()
        redis.stop()
        drop_postgres_database(database_url)


@dataclass
class Sides:
    a: GraphQL
    b: GraphQL
    league: League  # builds through A


@pytest.fixture
async def sides(cluster: Cluster) -> AsyncIterator[Sides]:
    async with (
        httpx.AsyncClient(base_url=cluster.a.url, trust_env=False, timeout=10) as a,
        httpx.AsyncClient(base_url=cluster.b.url, trust_env=False, timeout=10) as b,
    ):
        gql_a = GraphQL(a)
        yield Sides(gql_a, GraphQL(b), League(gql_a))


@dataclass
class Match:
    id: str
    home: str
    away: str
    venue: str


async def new_match(league: League, date: str) -> Match:
    n = next(_serial)
    home, away, venue = f"Live Home {n}", f"Live Away {n}", f"Live Hall {n}"
    fixture = await league.fixture(
        date, await league.venue(venue), await league.team(home), await league.team(away)
    )
    return Match(fixture, home, away, venue)


async def referee_notifications(gql: GraphQL, referee: str) -> list[dict[str, Any]]:
    data = await gql.data(REFEREE_NOTIFICATIONS, {"r": referee})
    return data["referee"]["notifications"]


async def wait_for_notifications(
    gql: GraphQL, expected: dict[str, dict[str, int]], timeout: float
) -> dict[str, list[dict[str, Any]]]:
    """Poll until every referee has (at least) the expected count per kind; the lists."""
    deadline = time.monotonic() + timeout
    while True:
        found = {r: await referee_notifications(gql, r) for r in expected}
        counts = {r: _count_kinds(found[r]) for r in expected}
        if all(counts[r].get(k, 0) >= n for r, kinds in expected.items() for k, n in kinds.items()):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"notifications within {timeout} s: expected {expected}, found {counts}")
        await asyncio.sleep(0.05)


def _count_kinds(notifications: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for n in notifications:
        counts[n["kind"]] = counts.get(n["kind"], 0) + 1
    return counts


async def result(ws: WsClient, op: str, timeout: float) -> dict[str, Any]:
    """The next result of `op`, which must carry data and no errors."""
    payload = await ws.next(op, timeout)
    assert payload is not None, f"operation {op} completed instead of sending a result"
    assert not payload.get("errors"), payload
    return payload["data"]


async def refused(ws: WsClient, query: str, variables: dict[str, Any], code: str, reason: str) -> None:
    """Subscribing is refused with an error message (not a dropped socket)."""
    op = await ws.subscribe(query, variables)
    payload = await ws.next(op, 5.0)
    assert payload is not None and payload.get("errors"), payload
    (error,) = payload["errors"]
    assert error["extensions"]["code"] == code, error
    assert error["extensions"]["reason"] == reason, error
    assert error["message"], error
    assert "Traceback" not in str(error)
    if not payload.get("error_message"):  # a result with errors is followed by `complete`
        assert await ws.next(op, 5.0) is None
    assert not ws.closed.is_set(), "the server dropped the socket"


# --- 1. a commit through A reaches B, once; notifications exactly once ---------------------


@pytest.mark.postgres
async def test_commit_through_a_reaches_subscribers_on_b_once(cluster: Cluster, sides: Sides) -> None:
    league = sides.league
    first, second = await league.referee("Anna Live"), await league.referee("Ben Live")
    match = await new_match(league, "2037-05-02T18:00:00+02:00")
    for referee in (first, second):
        await league.declare(match.id, referee)
    await league.stage(match.id, first, "FIRST")
    await league.stage(match.id, second, "SECOND")

    async with WsClient.open(cluster.b.ws_url) as ws:
        commits = await ws.subscribe(COMMITTED)
        notes = await ws.subscribe(NOTIFICATIONS, {"r": first})
        await asyncio.sleep(SETTLE)

        started = time.monotonic()
        commit = (await sides.a.data("mutation { commitAssignments { id } }"))["commitAssignments"]
        received = (await result(ws, commits, 2.0))["assignmentsCommitted"]
        assert latency("assignmentsCommitted A->B", started) < 2.0
        assert received["id"] == commit["id"]
        assert received["replaced"] == []
        by_role = {a["role"]: a for a in received["assignments"]}
        assert set(by_role) == {"FIRST", "SECOND"}
        for role, referee, name in (("FIRST", first, "Anna Live"), ("SECOND", second, "Ben Live")):
            assignment = by_role[role]
            assert assignment["status"] == "COMMITTED"
            assert assignment["referee"] == {"id": referee, "name": name}
            assert assignment["fixture"] == {
                "id": match.id,
                "venue": {"name": match.venue},
                "teamHome": {"name": match.home},
                "teamAway": {"name": match.away},
            }

        note = (await result(ws, notes, 2.0))["notifications"]
        latency("notifications(ASSIGNED) A->B", started)
        assert note["kind"] == "ASSIGNED"
        assert note["fixture"] == {"id": match.id}
        assert match.home in note["message"] and match.away in note["message"], note["message"]
        assert note["read"] is False

        await asyncio.sleep(1.5)  # a duplicate would have arrived by now
        assert ws.pending(commits) == [], "the commit was delivered more than once"
        assert ws.pending(notes) == [], "the notification was delivered more than once"

    expected = {first: {"ASSIGNED": 1}, second: {"ASSIGNED": 1}}
    found = await wait_for_notifications(sides.a, expected, 2.0)
    for referee in (first, second):
        assert _count_kinds(found[referee]) == {"ASSIGNED": 1}, found[referee]
        assert found[referee][0]["fixture"] == {"id": match.id}
    assert found[first][0]["id"] == note["id"]


# --- 2. both protocols; refused subscriptions keep the socket --------------------------------


@pytest.mark.postgres
async def test_both_protocols_and_refused_subscriptions(cluster: Cluster, sides: Sides) -> None:
    match = await new_match(sides.league, "2037-05-09T18:00:00+02:00")
    async with WsClient.open(cluster.b.ws_url, TRANSPORT_WS) as modern, WsClient.open(cluster.b.ws_url, LEGACY_WS) as legacy:
        clients = (modern, legacy)
        ops = [await ws.subscribe(FIXTURE_CHANGED, {"f": match.id}) for ws in clients]
        await asyncio.sleep(SETTLE)
        await sides.a.data(CHANGE_DATE, {"f": match.id, "d": "2037-05-09T19:00:00+02:00"})
        for ws, op in zip(clients, ops, strict=True):
            change = (await result(ws, op, 2.0))["fixtureChanged"]
            assert change["kind"] == "DATE_CHANGED", (ws.protocol, change)
            assert change["fixture"]["date"] == "2037-05-09T17:00:00+00:00"

        for ws in clients:
            await refused(ws, FIXTURE_CHANGED, {"f": "not-a-uuid"}, "BAD_USER_INPUT", "INVALID_ID")
            await refused(ws, FIXTURE_CHANGED, {"f": UNKNOWN_ID}, "NOT_FOUND", "FIXTURE_NOT_FOUND")
            await refused(ws, NOTIFICATIONS, {"r": UNKNOWN_ID}, "NOT_FOUND", "REFEREE_NOT_FOUND")
            await refused(ws, NOTIFICATIONS, {"r": "nope"}, "BAD_USER_INPUT", "INVALID_ID")

        # The sockets still serve the subscription they had, and new ones.
        again = [await ws.subscribe(FIXTURE_CHANGED, {"f": match.id.upper()}) for ws in clients]
        await asyncio.sleep(SETTLE)
        await sides.a.data(CHANGE_DATE, {"f": match.id, "d": "2037-05-09T20:00:00+02:00"})
        for ws, op in zip(clients * 2, ops + again, strict=True):
            change = (await result(ws, op, 2.0))["fixtureChanged"]
            assert change["kind"] == "DATE_CHANGED", (ws.protocol, change)
            assert change["fixture"] == {
                "id": match.id,
                "date": "2037-05-09T18:00:00+00:00",
                "status": "SCHEDULED",
                "venue": {"name": match.venue},
            }


# --- 3. fixtureChanged in commit order --------------------------------------------------------


@pytest.mark.postgres
async def test_fixture_changes_arrive_on_b_in_commit_order(cluster: Cluster, sides: Sides) -> None:
    league = sides.league
    match = await new_match(league, "2037-05-16T18:00:00+02:00")
    other_venue = await league.venue("Live Hall Elsewhere")
    await asyncio.sleep(SETTLE)  # CREATED passed on before subscribing, not after
    async with WsClient.open(cluster.b.ws_url) as ws:
        mine = await ws.subscribe(FIXTURE_CHANGED, {"f": match.id})
        every = await ws.subscribe(FIXTURE_CHANGED)
        await asyncio.sleep(SETTLE)

        started = time.monotonic()
        await sides.a.data(CHANGE_DATE, {"f": match.id, "d": "2037-05-16T16:30:00+02:00"})
        change = (await result(ws, mine, 2.0))["fixtureChanged"]
        latency("fixtureChanged(DATE_CHANGED) A->B", started)
        assert change["kind"] == "DATE_CHANGED"
        assert change["fixture"]["id"] == match.id
        assert change["fixture"]["date"] == "2037-05-16T14:30:00+00:00"

        # Three changes back to back: they arrive in the order they were committed.
        await sides.a.data(CHANGE_DATE, {"f": match.id, "d": "2037-05-16T17:00:00+02:00"})
        await sides.a.data(CHANGE_VENUE, {"f": match.id, "v": other_venue})
        await sides.a.data(CANCEL, {"f": match.id})
        kinds = [(await result(ws, mine, 2.0))["fixtureChanged"]["kind"] for _ in range(3)]
        assert kinds == ["DATE_CHANGED", "VENUE_CHANGED", "CANCELLED"]

        seen = []
        while len(seen) < 4:
            change = (await result(ws, every, 2.0))["fixtureChanged"]
            if change["fixture"]["id"] == match.id:
                seen.append(change["kind"])
        assert seen == ["DATE_CHANGED", "DATE_CHANGED", "VENUE_CHANGED", "CANCELLED"]
        await asyncio.sleep(0.5)
        assert ws.pending(mine) == []


# --- 4. B's cache is invalidated by a change through A ------------------------------------------


@pytest.mark.postgres
async def test_change_through_a_invalidates_the_cache_of_b(cluster: Cluster, sides: Sides) -> None:
    referee = await sides.league.referee("Dora Live", club="VC Old")
    await asyncio.sleep(SETTLE)  # its creation's invalidation is through before B caches it
    query = "query($r: ID!) { referee(id: $r) { id name club } }"
    assert (await sides.b.data(query, {"r": referee}))["referee"]["club"] == "VC Old"
    redis = Redis.from_url(cluster.redis.url)
    try:
        key = f"whistle:cache:referee:{referee}"
        assert await redis.exists(key), "B did not cache the referee"
        assert await redis.pttl(key) > 250_000  # the default TTL (300 s): expiry cannot explain a change

        started = time.monotonic()
        changed = await sides.a.data(
            "mutation($r: ID!) { changeRefereeClub(refereeId: $r, club: \"VC New\") { club } }", {"r": referee}
        )
        assert changed["changeRefereeClub"]["club"] == "VC New"
        while (club := (await sides.b.data(query, {"r": referee}))["referee"]["club"]) != "VC New":
            assert club == "VC Old"
            assert time.monotonic() - started < 2.0, "B still serves the old club after 2 s"
            await asyncio.sleep(0.02)
        latency("cache invalidation A->B", started)
    finally:
        await redis.aclose()


# --- 5. a Redis outage loses nothing and doubles nothing ---------------------------------------


@pytest.mark.postgres
async def test_redis_outage_loses_and_doubles_nothing(cluster: Cluster, sides: Sides) -> None:
    league = sides.league
    first, second = await league.referee("Emil Live"), await league.referee("Fay Live")
    matches = [await new_match(league, f"2037-06-{day:02d}T18:00:00+02:00") for day in (6, 13, 20)]
    for match in matches:
        for referee in (first, second):
            await league.declare(match.id, referee)

    async with WsClient.open(cluster.b.ws_url) as ws:
        commits = await ws.subscribe(COMMITTED)
        notes = await ws.subscribe(NOTIFICATIONS, {"r": first})
        await asyncio.sleep(SETTLE + 0.3)  # let the set-up events drain before Redis goes

        cluster.redis.stop()  # SIGKILL, no persistence: Redis comes back empty
        outage = time.monotonic()
        commit_ids = []
        for match in matches:  # the mutations succeed: the outbox keeps their events
            await league.stage(match.id, first, "FIRST")
            await league.stage(match.id, second, "SECOND")
            data = await sides.a.data("mutation { commitAssignments { id } }")
            commit_ids.append(data["commitAssignments"]["id"])
        await sides.a.data(CHANGE_DATE, {"f": matches[0].id, "d": "2037-06-06T19:00:00+02:00"})
        latency("10 mutations through A while Redis is down", outage)

        # The broker reads what the bus cannot bring from the outbox: the events arrive anyway.
        deadline = outage + 15.0

        def remaining() -> float:
            return max(0.1, deadline - time.monotonic())

        received = [(await result(ws, commits, remaining()))["assignmentsCommitted"] for _ in commit_ids]
        latency("all commits while Redis is down", outage)
        assert [c["id"] for c in received] == commit_ids  # commit order
        for commit, match in zip(received, matches, strict=True):
            assert {a["fixture"]["id"] for a in commit["assignments"]} == {match.id}

        cluster.redis.start()  # on the same port; the notifications need it (the projector's group)
        restarted = time.monotonic()
        deadline = restarted + 10.0

        kinds = [(await result(ws, notes, remaining()))["notifications"]["kind"] for _ in range(4)]
        latency("all notifications of the first referee after the Redis restart", restarted)
        assert ws.pending(commits) == [], "a commit was delivered twice"
        assert sorted(kinds) == ["ASSIGNED", "ASSIGNED", "ASSIGNED", "FIXTURE_DATE_CHANGED"]

        expected = {r: {"ASSIGNED": 3, "FIXTURE_DATE_CHANGED": 1} for r in (first, second)}
        await wait_for_notifications(sides.a, expected, remaining())
        await asyncio.sleep(1.5)  # past the consumer retry time (1 s): a redelivery would show now
        for op in (commits, notes):
            assert ws.pending(op) == [], "an event was delivered twice"

    for referee in (first, second):
        notifications = await referee_notifications(sides.a, referee)
        assert _count_kinds(notifications) == {"ASSIGNED": 3, "FIXTURE_DATE_CHANGED": 1}, notifications
        assigned = sorted(n["fixture"]["id"] for n in notifications if n["kind"] == "ASSIGNED")
        assert assigned == sorted(m.id for m in matches)
        assert (await referee_notifications(sides.b, referee)) == notifications


@pytest.mark.postgres
async def test_backlog_of_one_fixture_drains_at_once_after_an_outage(cluster: Cluster, sides: Sides) -> None:
    """Only the oldest unpublished event of an aggregate can be claimed at a time: a backlog
    of one fixture's changes must still go out in one go, not one per relay poll."""
    match = await new_match(sides.league, "2037-06-27T18:00:00+02:00")  # nobody to notify: no other traffic
    await asyncio.sleep(SETTLE)  # CREATED passed on before subscribing, not after
    dates = [f"2037-06-27T{hour:02d}:00:00+00:00" for hour in range(4, 16)]
    async with WsClient.open(cluster.b.ws_url) as ws:
        changes_op = await ws.subscribe(FIXTURE_CHANGED, {"f": match.id})
        await asyncio.sleep(SETTLE)
        cluster.redis.stop()
        for date in dates:
            await sides.a.data(CHANGE_DATE, {"f": match.id, "d": date})
        await asyncio.sleep(0.5)
        cluster.redis.start()
        restarted = time.monotonic()
        changes = [(await result(ws, changes_op, 10.0))["fixtureChanged"]]
        first = time.monotonic()
        changes += [(await result(ws, changes_op, 10.0))["fixtureChanged"] for _ in dates[1:]]
        latency("a 12-event backlog of one fixture after the Redis restart", restarted)
        assert latency("the 12-event backlog of one fixture, first to last", first) < 2.0
        assert {c["kind"] for c in changes} == {"DATE_CHANGED"}
        stamps = [c["at"] for c in changes]
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), stamps  # commit order
        assert changes[-1]["fixture"]["date"] == dates[-1]
        await asyncio.sleep(0.5)
        assert ws.pending(changes_op) == []


# --- 6. SIGTERM with open subscriptions -----------------------------------------------------


@pytest.mark.postgres
async def test_sigterm_closes_open_subscriptions_and_exits_cleanly(cluster: Cluster) -> None:
    server = ServerProcess("c", free_port(), cluster.env("c"), cluster.log_dir).start()
    try:
        async with WsClient.open(server.ws_url, TRANSPORT_WS) as modern, WsClient.open(server.ws_url, LEGACY_WS) as legacy:
            for ws in (modern, legacy):
                await ws.subscribe(COMMITTED)
            await asyncio.sleep(SETTLE)
            started = time.monotonic()
            server.terminate()
            for ws in (modern, legacy):
                await asyncio.wait_for(ws.closed.wait(), 10.0)
                assert ws.close_code is not None, f"{ws.protocol}: the socket ended without a close frame"
                print(f"\n{ws.protocol}: closed with {ws.close_code} {ws.close_reason!r}")
            latency("socket closed after SIGTERM", started)
        output = server.stop()
        assert "Traceback" not in output
    finally:
        server.kill()


# --- the embedded default: SQLite and the in-process bus, one process ------------------------


async def test_embedded_default_single_process(tmp_path: Path) -> None:
    env = whistle_env(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo=0, instance_name="solo")
    server = ServerProcess("embedded", free_port(), env, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=10) as http:
            gql = GraphQL(http)
            league = League(gql)
            first, second = await league.referee("Gina Solo"), await league.referee("Hugo Solo")
            match = await new_match(league, "2037-07-04T18:00:00+02:00")
            for referee in (first, second):
                await league.declare(match.id, referee)
            await league.stage(match.id, first, "FIRST")
            await league.stage(match.id, second, "SECOND")

            async with WsClient.open(server.ws_url) as ws:
                commits = await ws.subscribe(COMMITTED)
                await asyncio.sleep(SETTLE)
                started = time.monotonic()
                commit = (await gql.data("mutation { commitAssignments { id } }"))["commitAssignments"]
                received = (await result(ws, commits, 1.0))["assignmentsCommitted"]
                assert latency("embedded assignmentsCommitted", started) < 1.0
                assert received["id"] == commit["id"]
                assert {a["fixture"]["teamHome"]["name"] for a in received["assignments"]} == {match.home}

            expected = {first: {"ASSIGNED": 1}, second: {"ASSIGNED": 1}}
            found = await wait_for_notifications(gql, expected, 1.0 - (time.monotonic() - started))
            latency("embedded ASSIGNED notification readable", started)
            for referee in (first, second):
                assert _count_kinds(found[referee]) == {"ASSIGNED": 1}
        server.stop()
    finally:
        server.kill()

