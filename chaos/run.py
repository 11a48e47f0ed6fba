"""`python -m chaos.run` (`make chaos`): three Whistle instances behind HAProxy, a workload
of admins, referees and resuming subscribers, seeded faults, then the invariants.

Exits non-zero when an invariant broke; writes the seed, the faults and the figures to
CHAOS.md (or `--out`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from chaos.checks import Event, Verdict, expected_events, judge
from chaos.cluster import HAProxy, Database, Instance, Redis, dsn, whistle_env
from chaos.faults import Fault, Happened, Injector, schedule
from chaos.report import write_report
from chaos.workload import Api, Call, League, Subscriber, admin, referee

ADMINS, REFEREES = 2, 4


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chaos.run", description=__doc__)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of workload (default 120)")
    parser.add_argument("--seed", type=int, default=None, help="the faults' seed (default: drawn, and printed)")
    parser.add_argument("--subscribers", type=int, default=50, help="subscription clients (default 50)")
    parser.add_argument("--out", type=Path, default=Path("CHAOS.md"), help="the report (default CHAOS.md)")
    parser.add_argument("--keep", action="store_true", help="keep the logs' folder")
    return parser.parse_args(argv)


async def create_league(api: Api) -> League:
    async def data(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        call = await api.call("setup", query, variables)
        if call.outcome != "ok" or call.data is None:
            raise RuntimeError(f"set-up failed: {call}")
        return call.data

    venue = (await data('mutation { createVenue(input: {name: "Chaos Hall", street: "1 Main St", zip: "1000", city: "Town"}) { id } }'))["createVenue"]["id"]
    teams = [(await data(f'mutation {{ createTeam(input: {{name: "Chaos {n}", club: "VC"}}) {{ id }} }}'))["createTeam"]["id"] for n in "AB"]

    async def referee_named(name: str) -> str:
        return (await data(f'mutation {{ createReferee(input: {{name: "{name}", club: "VC"}}) {{ id }} }}'))["createReferee"]["id"]

    start = datetime(2037, 1, 1, 18, 0, tzinfo=timezone.utc)  # far ahead: staging needs fixtures still to be played
    day = iter(range(1000))

    async def fixture() -> str:  # one per day: no venue or team is ever busy
        date = (start + timedelta(days=next(day))).isoformat()
        query = "mutation($d: DateTime!, $v: ID!, $h: ID!, $a: ID!) { createFixture(input: {date: $d, venueId: $v, teamHomeId: $h, teamAwayId: $a}) { id } }"
        return (await data(query, {"d": date, "v": venue, "h": teams[0], "a": teams[1]}))["createFixture"]["id"]

    return League(
        admin_fixtures=[[await fixture() for _ in range(4)] for _ in range(ADMINS)],
        admin_referees=[await referee_named(f"Chaos Assignee {n}") for n in range(6)],
        referee_fixtures=[await fixture() for _ in range(6)],
        referees=[await referee_named(f"Chaos Referee {n}") for n in range(REFEREES)],
    )


def subscriber(n: int, league: League, after: int) -> Subscriber:
    """A third each of fixtureChanged, assignmentsCommitted, notifications of an assigned referee."""
    field = ("fixtureChanged", "assignmentsCommitted", "notifications")[n % 3]
    variables = {"r": league.admin_referees[n % len(league.admin_referees)]} if field == "notifications" else {}
    return Subscriber(f"s{n}", field, variables, after)


async def read_events(database: Database, after: int) -> list[Event]:
    conn = await asyncpg.connect(dsn(database.url), timeout=10)
    try:
        rows = await conn.fetch("SELECT position, type, payload FROM outbox WHERE position > $1 ORDER BY position", after)
        return [Event(r["position"], r["type"], json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]) for r in rows]
    finally:
        await conn.close()


async def last_position(database: Database) -> int:
    conn = await asyncpg.connect(dsn(database.url), timeout=10)
    try:
        return int(await conn.fetchval("SELECT last FROM event_positions"))
    finally:
        await conn.close()


async def settle(database: Database, subscribers: list[Subscriber], timeout: float) -> None:
    """Wait until every subscriber has what it may see (or the time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = await asyncpg.connect(dsn(database.url), timeout=10)
        try:
            unsequenced = await conn.fetchval("SELECT count(*) FROM outbox WHERE position IS NULL")
        finally:
            await conn.close()
        events = await read_events(database, min(s.after for s in subscribers))
        if not unsequenced and all(set(expected_events(s, events)) <= set(s.received) for s in subscribers):
            return
        await asyncio.sleep(0.5)


def server_log_problems(instances: list[Instance]) -> list[str]:
    """ERROR lines and tracebacks in the instances' logs (the first line of each)."""
    found = []
    for instance in instances:
        for line in instance.log_path.read_text(errors="replace").splitlines():
            if " ERROR " in line or line.startswith("Traceback"):
                found.append(f"{instance.name}: {line[:200]}")
    return found


async def run(args: argparse.Namespace) -> Verdict:
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    faults = schedule(seed, args.duration)
    log_dir = Path(tempfile.mkdtemp(prefix="whistle-chaos-"))
    print(f"chaos: seed {seed}, {args.duration:.0f} s, {args.subscribers} subscribers, logs in {log_dir}", flush=True)
    database, redis = Database(), Redis(log_dir)
    instances: list[Instance] = []
    haproxy: HAProxy | None = None
    await database.create()
    try:
        await redis.start()
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "migrate", env=whistle_env(database.url, redis.url, "migrate"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        if await migrate.wait() != 0:
            raise RuntimeError("whistle migrate failed")
        instances = [Instance(n, whistle_env(database.url, redis.url, n), log_dir) for n in ("w1", "w2", "w3")]
        for instance in instances:
            instance.launch()
        async with httpx.AsyncClient(trust_env=False, timeout=5) as probe:
            for instance in instances:
                await instance.wait_ready(probe)
            haproxy = HAProxy(instances, log_dir)
            haproxy.launch()
            await haproxy.wait_ready(probe)
            return await _workload(args, seed, faults, database, redis, instances, haproxy, probe, log_dir)
    finally:
        for instance in instances:
            instance.kill()
        if haproxy is not None:
            haproxy.kill()
        redis.kill()
        await database.drop()


async def _workload(
    args: argparse.Namespace, seed: int, faults: list[Fault], database: Database, redis: Redis,
    instances: list[Instance], haproxy: HAProxy, probe: httpx.AsyncClient, log_dir: Path,
) -> Verdict:
    calls: list[Call] = []
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=0)  # a fresh connection per request: spread by HAProxy
    async with httpx.AsyncClient(base_url=haproxy.url, trust_env=False, timeout=30, limits=limits) as http:
        api = Api(http, calls)
        league = await create_league(api)
        await asyncio.sleep(1.0)
        start_after = await last_position(database)
        calls.clear()  # the set-up is not part of the figures
        rng = random.Random(seed)
        subscribers = [subscriber(n, league, start_after) for n in range(args.subscribers)]
        stop, no_more_faults, done = asyncio.Event(), asyncio.Event(), asyncio.Event()
        listening = [asyncio.create_task(s.run(haproxy.ws_url, random.Random(rng.random()), done)) for s in subscribers]
        started = time.monotonic()
        workers = [asyncio.create_task(admin(api, league, i, random.Random(rng.random()), stop)) for i in range(ADMINS)]
        workers += [asyncio.create_task(referee(api, league, i, random.Random(rng.random()), stop)) for i in range(REFEREES)]
        injector = Injector(instances, redis, database, probe)
        injecting = asyncio.create_task(injector.run(faults, started, no_more_faults, lambda line: print(line, flush=True)))
        await asyncio.sleep(args.duration)
        no_more_faults.set()
        happened: list[Happened] = await injecting  # the workload goes on until the last fault has recovered
        stop.set()
        await asyncio.gather(*workers)
        ended = time.monotonic()
        print(f"workload done after {ended - started:.0f} s; waiting for the subscribers to catch up", flush=True)
        await settle(database, subscribers, timeout=60)
        done.set()
        for task in listening:
            task.cancel()
        for task in listening:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    events = await read_events(database, start_after)
    verdict = judge(calls, events, subscribers, happened)
    verdict.figures["events in the outbox"] = len(events)
    verdict.figures["workload seconds"] = round(ended - started, 1)
    verdict.figures["failures"] = [(c.start - started, c.op, c.reason, c.backend) for c in calls if c.outcome == "unknown"]
    problems = server_log_problems(instances)
    verdict.figures["ERROR lines in server logs"] = len(problems)
    write_report(args.out, seed, args, happened, started, verdict, problems)
    if not args.keep:
        for path in log_dir.iterdir():
            path.unlink()
        log_dir.rmdir()
    return verdict


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    verdict = asyncio.run(run(args))
    print(args.out.read_text())
    if verdict.violations:
        print("INVARIANTS BROKEN:\n  " + "\n  ".join(verdict.violations), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
