"""The write path: declareAvailability and stageAssignment per second, and the duration of
one commitAssignments of 200 staged assignments, through a pinned single-worker
`whistle serve` on the peers' rows (PostgreSQL, or the embedded SQLite with --backend sqlite).

The peers' assignments and availabilities are removed first, so every write is valid:
referee i declares for fixtures f_i and g_i (two disjoint sets of 400 scheduled fixtures),
is staged FIRST on f_i (i < 200: the commit) and on g_i. Each mutation is one HTTP request
and one transaction (with its outbox event).

    .venv/bin/python -m bench.writes [--backend postgres|sqlite] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import datetime, timezone
from typing import Any

import httpx
from sqlalchemy import select, update

from app.repos import tables
from app.repos.engine import create_engine
from bench.markdown import replace_section, table
from bench.server import sqlite_url, REPO, bench_database, whistle_server

DECLARE = "mutation D($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }"
STAGE = "mutation S($f: ID!, $r: ID!) { stageAssignment(input: {fixtureId: $f, refereeId: $r, role: FIRST}) { status } }"
COMMIT = "mutation { commitAssignments { id assignments { status } } }"
PAIRS, COMMITTED = 400, 200


async def clean_slate(url: str) -> tuple[list[str], list[str], list[str]]:
    """No assignments or availabilities; (referee ids, fixtures f, fixtures g)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(tables.assignments.delete())
            await conn.execute(tables.availabilities.delete())
            await conn.execute(update(tables.fixtures).values(first_referee_id=None, second_referee_id=None))
            referees = [str(r) for r in (await conn.execute(select(tables.referees.c.id).order_by(tables.referees.c.id))).scalars()]
            scheduled = select(tables.fixtures.c.id).where(tables.fixtures.c.status == "SCHEDULED")
            fixtures = [str(f) for f in (await conn.execute(scheduled.order_by(tables.fixtures.c.date, tables.fixtures.c.id))).scalars()]
    finally:
        await engine.dispose()
    return referees[:PAIRS], fixtures[:PAIRS], fixtures[PAIRS : 2 * PAIRS]


async def run(http: httpx.AsyncClient, graphql: str, query: str, variables: list[dict[str, str]], in_flight: int) -> float:
    """Send every operation, `in_flight` at a time; operations per second."""
    pending = iter(variables)

    async def worker() -> None:
        for v in pending:
            result = (await http.post(graphql, json={"query": query, "variables": v})).json()
            assert "errors" not in result, result["errors"]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return len(variables) / (time.perf_counter() - started)


async def measure(graphql: str, url: str) -> list[list[Any]]:
    referees, f, g = await clean_slate(url)
    async with httpx.AsyncClient(timeout=60) as http:
        declare_1 = await run(http, graphql, DECLARE, [{"f": f[i], "r": referees[i]} for i in range(PAIRS)], 1)
        declare_16 = await run(http, graphql, DECLARE, [{"f": g[i], "r": referees[i]} for i in range(PAIRS)], 16)
        stage_1 = await run(http, graphql, STAGE, [{"f": f[i], "r": referees[i]} for i in range(COMMITTED)], 1)
        started = time.perf_counter()
        result = (await http.post(graphql, json={"query": COMMIT})).json()
        commit_ms = (time.perf_counter() - started) * 1000
        assert len(result["data"]["commitAssignments"]["assignments"]) == COMMITTED, result
        stage_16 = await run(http, graphql, STAGE, [{"f": g[i], "r": referees[i]} for i in range(COMMITTED)], 16)
    return [
        ["declareAvailability", f"{declare_1:.0f} / {declare_16:.0f}", f"{PAIRS} + {PAIRS}"],
        ["stageAssignment", f"{stage_1:.0f} / {stage_16:.0f}", f"{COMMITTED} + {COMMITTED}"],
        [f"commitAssignments of {COMMITTED} staged (one request)", f"{commit_ms:.0f} ms", "1"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})  # the client on CPU 1, the server on CPU 0
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_url(tmp) if args.backend == "sqlite" else None
        with bench_database(url) as url, whistle_server(url) as server:
            rows = asyncio.run(measure(server.url, url))
    text = "\n".join([
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; 2-core shared machine",
        f"- Command: `.venv/bin/python -m bench.writes --backend {args.backend}`",
        "- One single-worker server on CPU 0, the client on CPU 1; every mutation one HTTP request and one "
        "transaction with its outbox event; ops/s with 1 and with 16 requests in flight.",
        "",
        table(["operation", "ops/s at 1 / 16 in flight (or duration)", "operations"], rows),
    ])  # fmt: skip
    print(text)
    if not args.no_write:
        title = "Write path (PostgreSQL)" if args.backend == "postgres" else "Write path (embedded SQLite)"
        replace_section(REPO / "BENCHMARKS.md", title, text)


if __name__ == "__main__":
    main()
