"""Domain-event benchmark: commit-to-subscriber latency through a real `whistle serve`,
and the outbox relay's throughput in process.

    .venv/bin/python bench/events.py [--backend embedded|postgres|both] [--commits 200] [--subscribers 50]

1. Latency. A `whistle serve` subprocess on (a) the embedded default (a fresh SQLite file,
   in-process bus and cache) and/or (b) PostgreSQL (a fresh database, migrated with
   `whistle migrate`) + Redis (a redis-server of our own on a free port). Data is created
   over HTTP GraphQL; N WebSocket clients (graphql-transport-ws) subscribe to
   `assignmentsCommitted`; then, sequentially, each round stages one assignment on the
   next fixture and commits it, and waits until every subscriber has the commit (or 5 s).
   Latencies: receipt time at each subscriber minus the commit's `committedAt` (same
   machine clock), and minus the time the commit's HTTP response arrived.
2. Relay throughput. In process: outbox rows appended with `app.repos.outbox.append`,
   then `OutboxRelay.publish_pending()` called until it returns 0 (SQLite + MemoryBus,
   PostgreSQL + RedisStreamBus). Many aggregates (full batches), and one aggregate (the
   worst case of per-aggregate ordering: one event per claim).

Prints a Markdown table and writes it into BENCHMARKS.md, section "## Domain events".
Everything it starts (servers, redis-server, databases, temp dirs) is cleaned up, also
on failure. This is a benchmark, not a test: it asserts nothing, it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import delete  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SUBSCRIPTION = "subscription { assignmentsCommitted { id committedAt assignments { role referee { name } } } }"
N_TEAMS = 8
N_REFEREES = 20
SETUP_CONCURRENCY = 4  # concurrent set-up requests (fixtures, availabilities)
WARMUPS = 5  # spare fixtures for warm-up commits (not measured)
ROUND_TIMEOUT = 5.0  # seconds a round waits for every subscriber
RELAY_EVENTS, RELAY_AGGREGATES = 5000, 500
WORST_EVENTS = 500
RELAY_RUNS = 3  # the relay figures are the median of this many runs


# --- small helpers ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def pg_admin(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(pg_dsn(admin_url), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await pg_admin(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)


async def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    try:
        await pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as error:  # noqa: BLE001 - cleanup reports, never masks the real failure
        log(f"could not drop database {name}: {error}")


def whistle_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"WHISTLE_{k.upper()}": v for k, v in settings.items()})
    return env


def stop_process(process: subprocess.Popen[bytes], name: str, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop in {timeout} s: killing pid {process.pid}")
        process.kill()
        process.wait(5)


class RedisServer:
    """A redis-server of our own: free port, no persistence, data dir in a temp dir."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self._dir), "--loglevel", "warning", "--daemonize", "no"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING in 10 s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, "redis-server")


class Server:
    """A `whistle serve --port P` subprocess, output to a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/graphql"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        self._env, self._log_path = env, log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    async def start(self, timeout: float = 60) -> Server:
        self._log = open(self._log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            cwd=ROOT, env=self._env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1, trust_env=False) as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"whistle serve exited on start:\n{self.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200:
                        return self
                if time.monotonic() > deadline:
                    raise RuntimeError(f"whistle serve not ready in {timeout} s:\n{self.output()}")
                await asyncio.sleep(0.1)

    def output(self, last: int = 4000) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-last:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, "whistle serve")
        if self._log is not None:
            self._log.close()


# --- GraphQL over HTTP -------------------------------------------------------------------------


class GraphQLError(Exception):
    pass


class Client:
    def __init__(self, url: str) -> None:
        self._url = url
        self._http = httpx.AsyncClient(timeout=30, trust_env=False)

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self._http.post(self._url, json={"query": query, "variables": variables})
        body = response.json()
        if body.get("errors"):
            raise GraphQLError(json.dumps(body["errors"])[:2000])
        return body["data"]

    async def retrying(self, query: str, **variables: Any) -> dict[str, Any]:
        """For the concurrent set-up: CONCURRENT_UPDATE means "retry"."""
        for attempt in range(10):
            try:
                return await self(query, **variables)
            except GraphQLError as error:
                if "CONCURRENT_UPDATE" not in str(error) or attempt == 9:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._http.aclose()


@dataclass
class League:
    fixtures: list[str]
    referees: list[str]  # the referee declared available on fixtures[i] is referees[i % len]


async def create_league(gql: Client, fixtures: int) -> League:
    venue = (await gql(
        "mutation($i: CreateVenueInput!) { createVenue(input: $i) { id } }",
        i={"name": "Bench Hall", "street": "1 Net Street", "zip": "1000", "city": "Bench"},
    ))["createVenue"]["id"]
    teams = [(await gql(
        "mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }", i={"name": f"Team {n:02}", "club": f"Club {n:02}"}
    ))["createTeam"]["id"] for n in range(N_TEAMS)]
    referees = [(await gql(
        "mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id } }",
        i={"name": f"Referee {n:02}", "club": f"Club {n % N_TEAMS:02}"},
    ))["createReferee"]["id"] for n in range(N_REFEREES)]
    start = datetime(2031, 1, 6, 18, 0, tzinfo=timezone.utc)
    ids: list[str] = [""] * fixtures
    limit = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def fixture(n: int) -> None:  # one a day: no venue, team, or referee rule can trip
        async with limit:
            ids[n] = (await gql.retrying(
                "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }",
                i={"date": (start + timedelta(days=n)).isoformat(), "venueId": venue,
                   "teamHomeId": teams[n % N_TEAMS], "teamAwayId": teams[(n + 1) % N_TEAMS]},
            ))["createFixture"]["id"]
            await gql.retrying(
                "mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }",
                f=ids[n], r=referees[n % N_REFEREES],
            )

    await asyncio.gather(*(fixture(n) for n in range(fixtures)))
    return League(ids, referees)


# --- subscribers ----------------------------------------------------------------------------------


@dataclass
class Receipts:
    """Who received which commit, when (time.time() when the frame was handed to us)."""

    expected: int
    times: dict[str, dict[int, list[float]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    done: dict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))
    problems: list[str] = field(default_factory=list)

    def add(self, subscriber: int, commit_id: str, at: float) -> None:
        per_subscriber = self.times[commit_id]
        per_subscriber[subscriber].append(at)
        if len(per_subscriber) == self.expected:
            self.done[commit_id].set()


async def subscribe(url: str, index: int, receipts: Receipts) -> tuple[ClientConnection, asyncio.Task[None]]:
    ws = await connect(url, subprotocols=["graphql-transport-ws"], max_size=2**22, open_timeout=30)
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"subscriber {index}: expected connection_ack, got {ack}")
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))

    async def read() -> None:
        with contextlib.suppress(Exception):
            async for frame in ws:
                at = time.time()
                message = json.loads(frame)
                kind = message.get("type")
                if kind == "next":
                    payload = message["payload"]
                    if payload.get("errors"):
                        receipts.problems.append(f"subscriber {index}: {payload['errors']}")
                    else:
                        receipts.add(index, payload["data"]["assignmentsCommitted"]["id"], at)
                elif kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind in ("error", "complete"):
                    receipts.problems.append(f"subscriber {index}: {kind} {message.get('payload')}")

    return ws, asyncio.create_task(read(), name=f"subscriber-{index}")


# --- 1. latency --------------------------------------------------------------------------------------

STAGE = """mutation($f: ID!, $r: ID!) {
  stageAssignment(input: {fixtureId: $f, refereeId: $r, role: FIRST}) { status } }"""
COMMIT = "mutation { commitAssignments { id committedAt } }"


@dataclass
class LatencyResult:
    backend: str
    commits: int
    subscribers: int
    from_commit: list[float]  # ms, receipt - committedAt
    from_response: list[float]  # ms, receipt - HTTP response arrival
    round_trip: list[float]  # ms, commitAssignments request sent -> response
    all_received: list[float]  # ms per commit: committedAt -> last subscriber's receipt
    missing: int
    duplicates: int
    timeouts: int
    problems: list[str]
    setup_s: float
    run_s: float
    raw: list[dict[str, Any]]  # per round, for --json


async def measure_latency(backend: str, server: Server, commits: int, subscribers: int) -> LatencyResult:
    gql = Client(server.url)
    sockets: list[tuple[ClientConnection, asyncio.Task[None]]] = []
    try:
        t0 = time.monotonic()
        league = await create_league(gql, commits + WARMUPS)
        # Steady state: the referees are in the directory cache. (Cold, each of the N
        # subscribers reads the same referee from the database on its first commit.)
        for referee in league.referees:
            await gql("query($r: ID!) { referee(id: $r) { name } }", r=referee)
        receipts = Receipts(subscribers)
        opened = await asyncio.gather(*(subscribe(server.ws_url, n, receipts) for n in range(subscribers)),
                                      return_exceptions=True)
        sockets.extend(s for s in opened if not isinstance(s, BaseException))
        for failure in opened:
            if isinstance(failure, BaseException):
                raise failure
        setup_s = time.monotonic() - t0
        log(f"{backend}: league and {subscribers} subscribers ready in {setup_s:.1f} s")

        next_fixture = 0

        async def commit_round() -> tuple[str, float, float, float, bool]:
            nonlocal next_fixture
            n = next_fixture
            next_fixture += 1
            await gql(STAGE, f=league.fixtures[n], r=league.referees[n % len(league.referees)])
            sent = time.time()
            commit = (await gql(COMMIT))["commitAssignments"]
            answered = time.time()
            committed_at = datetime.fromisoformat(commit["committedAt"]).timestamp()
            try:
                await asyncio.wait_for(receipts.done[commit["id"]].wait(), ROUND_TIMEOUT)
                complete = True
            except TimeoutError:
                complete = False
            return commit["id"], committed_at, sent, answered, complete

        # Warm-up: until one commit reaches every subscriber (the subscriptions are live).
        for _ in range(WARMUPS):
            if (await commit_round())[4]:
                break
        else:
            raise RuntimeError(f"no warm-up commit reached all {subscribers} subscribers:\n{receipts.problems[:5]}")

        t1 = time.monotonic()
        rounds = []
        for n in range(commits):
            rounds.append(await commit_round())
            if (n + 1) % 50 == 0:
                log(f"{backend}: {n + 1}/{commits} commits")
        run_s = time.monotonic() - t1
        await asyncio.sleep(1.0)  # late duplicates would show up here

        from_commit, from_response, round_trip, all_received = [], [], [], []
        missing = duplicates = timeouts = 0
        for commit_id, committed_at, sent, answered, complete in rounds:
            timeouts += not complete
            round_trip.append((answered - sent) * 1000)
            per_subscriber = receipts.times.get(commit_id, {})
            missing += subscribers - len(per_subscriber)
            last = None
            for times in per_subscriber.values():
                duplicates += len(times) - 1
                from_commit.append((times[0] - committed_at) * 1000)
                from_response.append((times[0] - answered) * 1000)
                last = times[0] if last is None else max(last, times[0])
            if last is not None and len(per_subscriber) == subscribers:
                all_received.append((last - committed_at) * 1000)
        raw = [
            {"commit": commit_id, "committed_at": committed_at, "sent": sent, "answered": answered,
             "receipts": sorted(t for times in receipts.times.get(commit_id, {}).values() for t in times)}
            for commit_id, committed_at, sent, answered, _ in rounds
        ]
        return LatencyResult(backend, commits, subscribers, from_commit, from_response, round_trip, all_received,
                             missing, duplicates, timeouts, receipts.problems, setup_s, run_s, raw)
    finally:
        for ws, _ in sockets:
            with contextlib.suppress(Exception):
                await ws.send(json.dumps({"id": "1", "type": "complete"}))
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        for _, task in sockets:
            task.cancel()
        await asyncio.gather(*(task for _, task in sockets), return_exceptions=True)
        await gql.aclose()


async def latency_embedded(args: argparse.Namespace, tmp: Path) -> LatencyResult:
    env = whistle_env(database_url=f"sqlite+aiosqlite:///{tmp / 'whistle.db'}", seed_demo="0", log_level="WARNING")
    server = Server(env, tmp / "whistle-embedded.log")
    try:
        await server.start()
        log(f"embedded: whistle serve on port {server.port}")
        return await measure_latency("embedded", server, args.commits, args.subscribers)
    except BaseException:
        log(f"embedded server log (tail):\n{server.output()}")
        raise
    finally:
        server.stop()


async def latency_postgres(args: argparse.Namespace, tmp: Path, redis: RedisServer) -> LatencyResult:
    url = await create_database(args.postgres_url, "whistle_bench")
    server: Server | None = None
    try:
        env = whistle_env(database_url=url, redis_url=redis.url, seed_demo="0", log_level="WARNING")
        migrated = subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=120)
        if migrated.returncode != 0:
            raise RuntimeError(f"whistle migrate failed:\n{migrated.stdout}\n{migrated.stderr}")
        server = Server(env, tmp / "whistle-postgres.log")
        try:
            await server.start()
            log(f"postgres: whistle serve on port {server.port} (redis on {redis.port})")
            return await measure_latency("postgres+redis", server, args.commits, args.subscribers)
        except BaseException:
            log(f"postgres server log (tail):\n{server.output()}")
            raise
    finally:
        if server is not None:
            server.stop()
        await drop_database(args.postgres_url, url)


# --- 2. relay throughput -------------------------------------------------------------------------------


@dataclass
class RelayResult:
    backend: str
    case: str
    events: int
    rates: list[float]  # events/s per run
    batches: int


async def relay_runs(backend: str, engine: Any, bus: Any) -> list[RelayResult]:
    from app.domain.events import AvailabilityDeclared
    from app.events.relay import OutboxRelay
    from app.repos import outbox
    from app.repos.tables import outbox as outbox_table
    from app.repos.uow import utcnow

    relay = OutboxRelay(engine, bus)
    referee = uuid.uuid4()
    results = []
    for case, events, aggregates in (
        (f"{RELAY_EVENTS} events, {RELAY_AGGREGATES} aggregates", RELAY_EVENTS, RELAY_AGGREGATES),
        (f"{WORST_EVENTS} events, 1 aggregate", WORST_EVENTS, 1),
    ):
        rates, batches = [], 0
        for _ in range(RELAY_RUNS):
            async with engine.begin() as conn:
                await conn.execute(delete(outbox_table))
            fixtures = [uuid.uuid4() for _ in range(aggregates)]
            now = utcnow()
            rows = [
                outbox.outbox_row(AvailabilityDeclared(fixture_id=fixtures[n % aggregates], referee_id=referee),
                                  n // aggregates + 1, now)
                for n in range(events)
            ]
            async with engine.begin() as conn:
                await outbox.append(conn, rows)
            published, batches = 0, 0
            start = time.perf_counter()
            while n := await relay.publish_pending():
                published += n
                batches += 1
            elapsed = time.perf_counter() - start
            if published != events:
                raise RuntimeError(f"{backend}: relay published {published} of {events} events")
            rates.append(events / elapsed)
        results.append(RelayResult(backend, case, events, rates, batches))
        log(f"relay {backend}, {case}: {statistics.median(rates):,.0f} events/s (runs: "
            + ", ".join(f"{r:,.0f}" for r in rates) + ")")
    return results


async def relay_sqlite(tmp: Path) -> list[RelayResult]:
    from app.events.memory_bus import MemoryBus
    from app.repos import migrate
    from app.repos.engine import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{tmp / 'relay.db'}")
    bus = MemoryBus()
    try:
        await migrate.upgrade(engine)
        return await relay_runs("SQLite + MemoryBus", engine, bus)
    finally:
        await bus.close()
        await engine.dispose()


async def relay_postgres(args: argparse.Namespace, redis: RedisServer) -> list[RelayResult]:
    from app.events.redis_bus import RedisStreamBus
    from app.repos import migrate
    from app.repos.engine import create_engine

    url = await create_database(args.postgres_url, "whistle_bench_relay")
    try:
        engine = create_engine(url)
        bus = RedisStreamBus(redis.url, stream="whistle:bench-relay")
        try:
            await migrate.upgrade(engine)
            return await relay_runs("PostgreSQL + RedisStreamBus", engine, bus)
        finally:
            await bus.close()
            await engine.dispose()
    finally:
        await drop_database(args.postgres_url, url)


# --- report ----------------------------------------------------------------------------------------------


def latency_table(results: list[LatencyResult]) -> str:
    lines = [
        "| Backend | Latency | p50 ms | p99 ms | max ms | receipts | missing | duplicates |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rows = [
            ("committedAt → subscriber", r.from_commit, f"{len(r.from_commit):,}", str(r.missing), str(r.duplicates)),
            ("HTTP response → subscriber", r.from_response, "", "", ""),
            ("committedAt → last of all subscribers", r.all_received, f"{len(r.all_received)} commits", "", ""),
            ("commitAssignments HTTP round trip", r.round_trip, f"{len(r.round_trip)} commits", "", ""),
        ]
        for label, values, count, missing, dups in rows:
            if not values:
                lines.append(f"| {r.backend} | {label} | – | – | – | 0 | {missing} | {dups} |")
                continue
            lines.append(
                f"| {r.backend} | {label} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} | "
                f"{max(values):.1f} | {count} | {missing} | {dups} |"
            )
    return "\n".join(lines)


def relay_table(results: list[RelayResult]) -> str:
    lines = [
        f"| Backend | Outbox | events/s (median of {RELAY_RUNS}) | min – max | batches per run |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(f"| {r.backend} | {r.case} | {statistics.median(r.rates):,.0f} | "
                     f"{min(r.rates):,.0f} – {max(r.rates):,.0f} | {r.batches} |")
    return "\n".join(lines)


def machine() -> tuple[str, str]:
    date = subprocess.run(["date", "-u"], capture_output=True, text=True).stdout.strip()
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or str(os.cpu_count())
    return date, f"{nproc} cores, {model}"


def command_line() -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(ROOT)
    script = Path(sys.argv[0]).resolve()
    with contextlib.suppress(ValueError):
        script = script.relative_to(ROOT)
    return shlex.join([str(python), str(script), *sys.argv[1:]])


def section(args: argparse.Namespace, latency: list[LatencyResult], relay: list[RelayResult]) -> str:
    date, cpu = machine()
    parts = [
        "## Domain events",
        "",
        f"- Date: {date}",
        f"- Machine: {cpu}",
        f"- Command: `{command_line()}`",
        "",
        f"Commit-to-subscriber latency: a real `whistle serve` process; {args.subscribers} WebSocket subscribers "
        f"(graphql-transport-ws, one client process) to `assignmentsCommitted`; {args.commits} sequential rounds of "
        "`stageAssignment` + `commitAssignments`, each waiting until every subscriber has the commit. "
        "The referees are in the directory cache beforehand (steady state). `committedAt` is taken inside the "
        "commit after the write began (SQLite: after the write lock was taken), before the transaction commits; "
        "\"HTTP response → subscriber\" is negative when the event arrives before the response. "
        "Receipt times are taken in the client process, which shares the 2 cores with the server.",
        "",
        latency_table(latency) if latency else "(not run)",
        "",
        f"Outbox relay throughput, in process: `OutboxRelay.publish_pending()` (batch 200) until it returns 0, "
        "after appending the rows in one transaction. Only the oldest unpublished event of each aggregate is "
        "claimable, so one aggregate means one event per claim.",
        "",
        relay_table(relay) if relay else "(not run)",
        "",
    ]
    return "\n".join(parts)


def write_benchmarks(text: str) -> Path:
    path = ROOT / "BENCHMARKS.md"
    header = ("# Benchmarks\n\nFigures are from a shared 2-core machine: medians unless stated otherwise, and noisy; "
              "compare them with figures from the same machine only.\n")
    current = path.read_text() if path.exists() else header
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "## Domain events"), None)
    if start is None:
        updated = current.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = "".join(lines[end:])
        updated = "".join(lines[:start]) + text + ("\n" + rest if rest else "")
    path.write_text(updated)
    return path


# --- main ---------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> tuple[list[LatencyResult], list[RelayResult]]:
    embedded = args.backend in ("embedded", "both")
    postgres = args.backend in ("postgres", "both")
    latency: list[LatencyResult] = []
    relay: list[RelayResult] = []
    with tempfile.TemporaryDirectory(prefix="whistle-bench-") as tmp_name:
        tmp = Path(tmp_name)
        redis: RedisServer | None = None
        try:
            if postgres:
                redis = RedisServer(tmp).start()
                log(f"redis-server on port {redis.port}")
            if embedded:
                (tmp / "embedded").mkdir()
                latency.append(await latency_embedded(args, tmp / "embedded"))
            if postgres:
                assert redis is not None
                latency.append(await latency_postgres(args, tmp, redis))
            if embedded:
                relay += await relay_sqlite(tmp)
            if postgres:
                assert redis is not None
                relay += await relay_postgres(args, redis)
        finally:
            if redis is not None:
                redis.stop()
    return latency, relay


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("embedded", "postgres", "both"), default="both")
    parser.add_argument("--commits", type=int, default=200, help="measured commits (default 200)")
    parser.add_argument("--subscribers", type=int, default=50, help="WebSocket subscribers (default 50)")
    parser.add_argument("--postgres-url", default=os.environ.get("WHISTLE_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
                        help=f"an existing database to create and drop the bench databases from (default {DEFAULT_POSTGRES})")
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    parser.add_argument("--json", type=Path, help="also dump the raw per-round timings (epoch seconds) to this file")
    args = parser.parse_args()

    # SIGTERM unwinds like Ctrl+C, so every finally block cleans up.
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    latency, relay = asyncio.run(run(args))
    for r in latency:
        for problem in r.problems[:10]:
            log(f"{r.backend}: {problem}")
        if r.timeouts:
            log(f"{r.backend}: {r.timeouts} rounds did not reach every subscriber within {ROUND_TIMEOUT} s")
        log(f"{r.backend}: setup {r.setup_s:.1f} s, {r.commits} rounds in {r.run_s:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "latency": {r.backend: r.raw for r in latency},
            "relay": {f"{r.backend}: {r.case}": r.rates for r in relay},
        }, indent=1))
    text = section(args, latency, relay)
    print(text)
    if not args.no_write:
        log(f"wrote {write_benchmarks(text)}")
    log(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
