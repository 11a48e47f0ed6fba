"""Resuming subscriptions end to end, with REAL processes (two `whistle serve` sharing
PostgreSQL and a redis-server of this module's own; the embedded default alone): every
event carries `eventId`; a client that reconnects, to the same or another instance, with
`after` gets what it missed in order, then the live events, none twice; the outbox is the
record, so even a Redis restart that lost the stream loses nothing; a cursor the server
cannot serve is refused with a reason, never ignored."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.helpers import GraphQL, League
from tests.e2e.processes import LEGACY_WS, TRANSPORT_WS, ServerProcess, WsClient, whistle_env
from tests.e2e.test_live_events import (  # noqa: F401 - the cluster fixtures
    CHANGE_DATE,
    SETTLE,
    Cluster,
    Sides,
    cluster,
    new_match,
    refused,
    result,
    sides,
)
from tests.integration.bus_fixtures import free_port

pytestmark = pytest.mark.e2e

CHANGES = (
    "subscription($f: ID, $after: String) { fixtureChanged(fixtureId: $f, after: $after) {"
    " eventId kind fixture { id date } } }"
)
COMMITS = "subscription($after: String) { assignmentsCommitted(after: $after) { eventId id assignments { role } } }"
NOTES = "subscription($r: ID!, $after: String) { notifications(refereeId: $r, after: $after) { eventId id kind } }"


def date(hour: int) -> str:
    return f"2037-08-01T{hour:02d}:00:00+00:00"


async def changes(ws: WsClient, op: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    return [(await result(ws, op, timeout))["fixtureChanged"] for _ in range(count)]


async def date_change(ws: WsClient, op: str) -> dict[str, Any]:
    """The next DATE_CHANGED (a CREATED committed just before subscribing may come first)."""
    while (change := (await changes(ws, op, 1))[0])["kind"] != "DATE_CHANGED":
        pass
    return change


def ids_increase(events: list[dict[str, Any]], after: str | None = None) -> None:
    ids = ([int(after)] if after else []) + [int(e["eventId"]) for e in events]
    assert ids == sorted(set(ids)), ids


@pytest.mark.postgres
async def test_a_client_resumes_on_another_instance_across_a_redis_restart(cluster: Cluster, sides: Sides) -> None:
    match = await new_match(sides.league, date(10))
    async with WsClient.open(cluster.b.ws_url) as ws:
        op = await ws.subscribe(CHANGES, {"f": match.id})
        await asyncio.sleep(SETTLE)
        await sides.a.data(CHANGE_DATE, {"f": match.id, "d": date(11)})
        seen = await date_change(ws, op)
        assert seen["fixture"]["date"] == date(11) and seen["eventId"].isdigit()

    # Disconnected: three changes, and Redis comes back empty (the stream is gone).
    for hour in (12, 13):
        await sides.a.data(CHANGE_DATE, {"f": match.id, "d": date(hour)})
    cluster.redis.stop()
    cluster.redis.start()
    await sides.a.data(CHANGE_DATE, {"f": match.id, "d": date(14)})

    # On A this time, then on B with the old protocol (which also missed A's live change).
    for missed_count, (url, protocol) in enumerate(((cluster.a.ws_url, TRANSPORT_WS), (cluster.b.ws_url, LEGACY_WS)), 3):
        async with WsClient.open(url, protocol) as ws:
            op = await ws.subscribe(CHANGES, {"f": match.id, "after": seen["eventId"]})
            missed = await changes(ws, op, missed_count)
            assert [c["kind"] for c in missed] == ["DATE_CHANGED"] * missed_count
            ids_increase(missed, seen["eventId"])
            await sides.a.data(CHANGE_DATE, {"f": match.id, "d": date(12 + missed_count)})
            (live,) = await changes(ws, op, 1)
            ids_increase([*missed, live], seen["eventId"])
            await asyncio.sleep(1.0)
            assert ws.pending(op) == [], "an event came twice"


@pytest.mark.postgres
async def test_commits_and_notifications_resume_after_the_last_event_id(cluster: Cluster, sides: Sides) -> None:
    league = sides.league
    referee = await league.referee("Ida Resume")
    matches = [await new_match(league, f"2037-08-{day:02d}T18:00:00+02:00") for day in (8, 15, 22)]
    for match in matches:
        await league.declare(match.id, referee)
    async with WsClient.open(cluster.a.ws_url) as ws:
        commits, notes = await ws.subscribe(COMMITS), await ws.subscribe(NOTES, {"r": referee})
        await asyncio.sleep(SETTLE)
        await league.stage(matches[0].id, referee, "FIRST")
        await sides.a.data("mutation { commitAssignments { id } }")
        first_commit = (await result(ws, commits, 10.0))["assignmentsCommitted"]
        first_note = (await result(ws, notes, 10.0))["notifications"]

    committed = []
    for match in matches[1:]:
        await league.stage(match.id, referee, "FIRST")
        committed.append((await sides.a.data("mutation { commitAssignments { id } }"))["commitAssignments"]["id"])

    async with WsClient.open(cluster.b.ws_url) as ws:
        commits = await ws.subscribe(COMMITS, {"after": first_commit["eventId"]})
        notes = await ws.subscribe(NOTES, {"r": referee, "after": first_note["eventId"]})
        resumed = [(await result(ws, commits, 10.0))["assignmentsCommitted"] for _ in committed]
        assert [c["id"] for c in resumed] == committed
        ids_increase(resumed, first_commit["eventId"])
        resumed_notes = [(await result(ws, notes, 10.0))["notifications"] for _ in committed]
        assert [n["kind"] for n in resumed_notes] == ["ASSIGNED", "ASSIGNED"]
        ids_increase(resumed_notes, first_note["eventId"])
        await asyncio.sleep(1.0)
        assert ws.pending(commits) == [] and ws.pending(notes) == []


@pytest.mark.postgres
async def test_a_cursor_that_cannot_be_served_is_refused_with_its_reason(cluster: Cluster, sides: Sides) -> None:
    match = await new_match(sides.league, date(10))
    async with WsClient.open(cluster.a.ws_url) as ws:
        for bad in ("abc", "-1", "1.5", "", " 7", "99999999999999999999"):
            await refused(ws, CHANGES, {"after": bad}, "BAD_USER_INPUT", "INVALID_CURSOR")
        await refused(ws, COMMITS, {"after": "999999999"}, "BAD_USER_INPUT", "INVALID_CURSOR")  # not issued yet

        op = await ws.subscribe(CHANGES, {"f": match.id})
        await asyncio.sleep(SETTLE)
        await sides.a.data(CHANGE_DATE, {"f": match.id, "d": date(9)})
        change = await date_change(ws, op)
        # What the retention prune does to old events: their positions go, oldest first.
        conn = await asyncpg.connect(cluster.database_url.replace("+asyncpg", ""))
        try:
            await conn.execute("DELETE FROM outbox WHERE position <= $1", int(change["eventId"]))
        finally:
            await conn.close()
        await refused(ws, CHANGES, {"after": str(int(change["eventId"]) - 1)}, "BAD_USER_INPUT", "CURSOR_EXPIRED")
        again = await ws.subscribe(CHANGES, {"f": match.id, "after": change["eventId"]})  # the newest kept: fine
        await asyncio.sleep(SETTLE)
        await sides.a.data(CHANGE_DATE, {"f": match.id, "d": date(8)})
        (latest,) = await changes(ws, again, 1)
        assert latest["fixture"]["date"] == date(8)


async def test_embedded_default_resumes_and_refuses_a_bad_cursor(tmp_path: Path) -> None:
    env = whistle_env(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo=0, instance_name="solo")
    server = ServerProcess("embedded", free_port(), env, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=10) as http:
            gql = GraphQL(http)
            match = await new_match(League(gql), date(10))
            async with WsClient.open(server.ws_url) as ws:
                op = await ws.subscribe(CHANGES, {"f": match.id})
                await asyncio.sleep(SETTLE)
                await gql.data(CHANGE_DATE, {"f": match.id, "d": date(11)})
                seen = await date_change(ws, op)
            for hour in (12, 13):
                await gql.data(CHANGE_DATE, {"f": match.id, "d": date(hour)})
            async with WsClient.open(server.ws_url) as ws:
                await refused(ws, CHANGES, {"after": "x1"}, "BAD_USER_INPUT", "INVALID_CURSOR")
                op = await ws.subscribe(CHANGES, {"f": match.id, "after": seen["eventId"]})
                missed = await changes(ws, op, 2)
                assert [c["fixture"]["date"] for c in missed] == [date(13), date(13)]  # the current state
                ids_increase(missed, seen["eventId"])
                await gql.data(CHANGE_DATE, {"f": match.id, "d": date(14)})
                ids_increase([*missed, *await changes(ws, op, 1)], seen["eventId"])
                await asyncio.sleep(0.5)
                assert ws.pending(op) == []
        server.stop()
    finally:
        server.kill()
