"""The clients: admins staging, validating and committing; referees declaring and
withdrawing availability; subscribers that reconnect and resume with `after`. Each keeps
its own log (every call with its outcome, every event id received) for the checks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

# Refusals the API answers on purpose: the mutation was judged and NOT applied.
REFUSALS = {"CONFLICT", "BAD_USER_INPUT", "NOT_FOUND"}

DECLARE = "mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }"
WITHDRAW = "mutation($f: ID!, $r: ID!) { withdrawAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }"
STAGE = (
    "mutation($f: ID!, $r: ID!, $role: RefereeRole!) {"
    " stageAssignment(input: {fixtureId: $f, refereeId: $r, role: $role}) { role status } }"
)
UNSTAGE = "mutation($f: ID!, $r: ID!) { removeStagedAssignment(fixtureId: $f, refereeId: $r) }"
VALIDATE = "query { validateAssignments { valid problems { code fixture { id } referee { id } } } }"
COMMIT = "mutation { commitAssignments { id assignments { role fixture { id } referee { id } } } }"
FIXTURES = "query($f: ID!) { fixture(id: $f) { id date firstReferee { name } secondReferee { name } } }"

SUBSCRIPTIONS = {
    "fixtureChanged": "subscription($after: String) { fixtureChanged(after: $after) { eventId kind } }",
    "assignmentsCommitted": "subscription($after: String) { assignmentsCommitted(after: $after) { eventId id } }",
    "notifications": (
        "subscription($r: ID!, $after: String) { notifications(refereeId: $r, after: $after) { eventId kind } }"
    ),
}


@dataclass
class Call:
    """One request and what its client saw."""

    op: str  # e.g. "declare", "commit", "validate"
    mutation: bool
    start: float
    end: float
    status: int | None  # None: no HTTP answer (connection lost, timeout)
    backend: str  # the instance HAProxy says served it ("<NOSRV>", "?" when unknown)
    outcome: str  # "ok" | "refused" (judged, not applied) | "unknown" (may or may not have been applied)
    key: tuple[str, ...] = ()
    reason: str | None = None
    data: dict[str, Any] | None = None


class Api:
    """GraphQL over HTTP through the load balancer; every call is logged."""

    def __init__(self, http: httpx.AsyncClient, calls: list[Call]) -> None:
        self.http, self.calls = http, calls

    async def call(self, op: str, query: str, variables: dict[str, Any] | None = None, *, key: tuple[str, ...] = ()) -> Call:
        mutation = query.lstrip().startswith("mutation")
        start = time.monotonic()
        status, backend, body = None, "?", None
        try:
            if mutation:  # never over GET: a POST is not retried by the load balancer once sent
                response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
            else:  # queries over GET: idempotent, retried on another instance when one fails
                params = {"query": query, "variables": json.dumps(variables or {})}
                response = await self.http.get("/graphql", params=params)
            status, backend = response.status_code, response.headers.get("x-served-by", "?")
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
        except (httpx.HTTPError, ValueError):
            pass
        outcome, reason, data = _judge(status, body)
        call = Call(op, mutation, start, time.monotonic(), status, backend, outcome, key, reason, data)
        self.calls.append(call)
        return call


def _judge(status: int | None, body: Any) -> tuple[str, str | None, dict[str, Any] | None]:
    if status != 200 or not isinstance(body, dict):
        return "unknown", f"HTTP {status}", None
    errors = body.get("errors") or []
    if not errors:
        return "ok", None, body.get("data")
    codes = {e.get("extensions", {}).get("code") for e in errors}
    reason = next((e.get("extensions", {}).get("reason") for e in errors), None)
    if codes <= REFUSALS:
        return "refused", reason, body.get("data")
    return "unknown", ",".join(sorted(str(c) for c in codes)), None


@dataclass
class League:
    admin_fixtures: list[list[str]]  # per admin, the fixtures it assigns
    admin_referees: list[str]  # the referees admins stage
    referee_fixtures: list[str]  # the fixtures referees declare on
    referees: list[str]  # one per referee client


async def admin(api: Api, league: League, index: int, rng: random.Random, stop: asyncio.Event) -> None:
    """Stage one referee in a role on one of its fixtures, validate, commit; a refused commit's
    problems are removed from the staging so the next one can go through."""
    fixtures = league.admin_fixtures[index]
    while not stop.is_set():
        fixture, referee = rng.choice(fixtures), rng.choice(league.admin_referees)
        role = rng.choice(["FIRST", "SECOND"])
        await api.call("declare", DECLARE, {"f": fixture, "r": referee}, key=("availability", fixture, referee))
        await api.call("stage", STAGE, {"f": fixture, "r": referee, "role": role}, key=("stage", fixture, referee, role))
        await api.call("validate", VALIDATE)
        commit = await api.call("commit", COMMIT)
        if commit.reason == "VALIDATION_FAILED":
            validation = await api.call("validate", VALIDATE)
            problems = (validation.data or {}).get("validateAssignments", {}).get("problems", [])
            for problem in problems:
                pair = {"f": problem["fixture"]["id"], "r": problem["referee"]["id"]}
                await api.call("unstage", UNSTAGE, pair, key=("unstage", pair["f"], pair["r"]))
        await api.call("read", FIXTURES, {"f": fixture})
        await _pause(rng, stop, 0.2, 0.6)


async def referee(api: Api, league: League, index: int, rng: random.Random, stop: asyncio.Event) -> None:
    """Declare or withdraw availability on a fixture, by what it believes holds now."""
    me = league.referees[index]
    declared: dict[str, bool | None] = {}
    while not stop.is_set():
        fixture = rng.choice(league.referee_fixtures)
        belief = declared.get(fixture)
        withdraw = rng.random() < 0.5 if belief is None else belief
        op, query = ("withdraw", WITHDRAW) if withdraw else ("declare", DECLARE)
        call = await api.call(op, query, {"f": fixture, "r": me}, key=("availability", fixture, me))
        if call.outcome == "ok":
            declared[fixture] = not withdraw
        elif call.reason in ("ALREADY_DECLARED", "NOT_DECLARED"):
            declared[fixture] = call.reason == "ALREADY_DECLARED"
        elif call.outcome == "unknown":
            declared[fixture] = None
        await _pause(rng, stop, 0.1, 0.4)


async def _pause(rng: random.Random, stop: asyncio.Event, low: float, high: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), rng.uniform(low, high))


@dataclass
class Subscriber:
    """One graphql-transport-ws client with one subscription; it reconnects with backoff
    and resumes after the last event id it received."""

    name: str
    field: str  # "fixtureChanged" | "assignmentsCommitted" | "notifications"
    variables: dict[str, Any]
    after: int  # the position it started after
    received: list[int] = field(default_factory=list)
    connects: int = 0
    errors: list[str] = field(default_factory=list)
    closes: dict[str, int] = field(default_factory=dict)

    @property
    def last(self) -> int:
        return self.received[-1] if self.received else self.after

    async def run(self, ws_url: str, rng: random.Random, done: asyncio.Event) -> None:
        failures = 0
        while not done.is_set():
            try:
                await self._session(ws_url)
                failures = 0
            except websockets.exceptions.ConnectionClosed as closed:
                code = str(closed.rcvd.code) if closed.rcvd else "no close frame"
                self.closes[code] = self.closes.get(code, 0) + 1
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as error:
                self.closes[type(error).__name__] = self.closes.get(type(error).__name__, 0) + 1
            failures += 1
            delay = min(2.0, 0.1 * 2 ** min(failures, 5))
            await asyncio.sleep(delay / 2 + rng.random() * delay / 2)

    async def _session(self, ws_url: str) -> None:
        async with websockets.connect(
            ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10, close_timeout=2, proxy=None  # type: ignore[list-item]
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            async with asyncio.timeout(10):
                while json.loads(await ws.recv())["type"] != "connection_ack":
                    pass
            self.connects += 1
            variables = {**self.variables, "after": str(self.last)}
            payload = {"query": SUBSCRIPTIONS[self.field], "variables": variables}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    result = message["payload"]
                    if result.get("errors"):
                        self.errors.append(json.dumps(result["errors"])[:300])
                        continue
                    self.received.append(int(result["data"][self.field]["eventId"]))
                elif kind == "error":
                    self.errors.append(json.dumps(message.get("payload"))[:300])
                    return  # resubscribe on a new socket
                elif kind == "complete":
                    return
