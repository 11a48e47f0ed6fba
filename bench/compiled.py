"""In-process micro-benchmark of compiled execution (app.execution): Q1 (a page of 100
fixtures with venue, both teams and both committed referees) and Q2 (one fixture with the
same fields) run N times through the schema with the compiler on and off, on the demo
league; prints the median and p90 time per operation and, with --profile, the top of a
Python profile of compiled Q1's `execute` alone (what the server runs once the document
cache has the query). No HTTP: that is the harness's part (bench/README.md).

    .venv/bin/python bench/compiled.py [--n 300] [--database-url URL] [--profile] [--cold-cache]

The directory cache is warm by default (one MemoryCache shared by all runs), so Q1 costs
one SQL statement (the page) plus what is not cached; --cold-cache gives each run its own.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import graphql
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.api import build_schema  # noqa: E402
from app.cache.memory_cache import MemoryCache  # noqa: E402
from app.loaders import Loaders  # noqa: E402
from app.repos.engine import create_engine, read_only  # noqa: E402
from app.repos.migrate import upgrade  # noqa: E402
from app.schema.context import Context  # noqa: E402
from app.schema.cursors import CursorCodec  # noqa: E402
from app.security.identity import DEV_ADMIN  # noqa: E402
from app.services.demo import seed_demo  # noqa: E402
from app.services.deps import ServiceDeps  # noqa: E402
from tests.dates import demo_season_start  # noqa: E402
from tests.execution.harness import CALENDAR  # noqa: E402
from tests.execution.test_differential import Q1, Q2  # noqa: E402

# A year from five weeks before the demo season (seeded today: it moves with the seed day).
Q1_VARIABLES = {
    "from": f"{demo_season_start() - timedelta(weeks=5)}T00:00:00Z",
    "to": f"{demo_season_start() + timedelta(weeks=47)}T00:00:00Z",
    "first": 100,
}


async def _prepare(url: str) -> str:
    """A fixture id for Q2 (seeding the demo league first when the database is empty)."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        await seed_demo(ServiceDeps(engine, CALENDAR))
        async with engine.connect() as conn:
            from sqlalchemy import text

            found = (await conn.execute(text("SELECT id FROM fixtures ORDER BY date, id LIMIT 1"))).scalar_one()
            return str(UUID(str(found)))  # SQLite keeps UUIDs as 32 hex digits
    finally:
        await engine.dispose()


async def _measure(url: str, n: int, profile: bool, cold_cache: bool, fixture_id: str) -> None:
    engine = create_engine(url)
    reads = read_only(engine)
    shared_cache = MemoryCache()
    schemas = {"graphql-core": build_schema(compiled=False), "compiled": build_schema(compiled=True)}
    operations = {"Q1": (Q1, Q1_VARIABLES), "Q2": (Q2, {"id": fixture_id})}

    def context() -> Context:
        loaders = Loaders(reads, MemoryCache() if cold_cache else shared_cache)
        return Context(
            deps=ServiceDeps(engine, CALENDAR),
            loaders=loaders,
            cursors=CursorCodec(b"bench"),
            new_loaders=lambda: loaders,
            identity=DEV_ADMIN,
        )

    documents = {query: graphql.parse(query) for query, _variables in operations.values()}

    async def once(schema: Any, query: str, variables: dict[str, Any], whole: bool = True) -> tuple[float, float]:
        """One operation: through `schema.execute` (parsing, validation, extensions), or
        (`whole` false) only graphql-core's `execute` of the parsed document with the
        schema's executor class: the part compiled execution replaces."""
        ctx = context()
        start, cpu = time.perf_counter(), time.process_time()
        if whole:
            result = await schema.execute(query, variable_values=variables, context_value=ctx)
        else:
            result = await graphql.execute(
                schema._schema,
                documents[query],
                context_value=ctx,
                variable_values=variables,
                executor_class=schema.execution_context_class,
            )
        await ctx.loaders.settle()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert not result.errors, result.errors
        return elapsed, cpu

    try:
        print(f"{'operation':<10}{'execution':<28}{'median ms':>10}{'p90 ms':>9}{'CPU ms':>8}{'ops/s':>9}")
        modes = {
            f"{name}{suffix}": (schema, whole)
            for whole, suffix in ((True, ""), (False, ", execute only"))
            for name, schema in schemas.items()
        }
        for op_name, (query, variables) in operations.items():
            for schema, whole in modes.values():
                for _ in range(20):  # warm-up: plans, caches, connection pool
                    await once(schema, query, variables, whole)
            gc.collect()
            # The modes alternate run by run, so that load from elsewhere on the machine
            # falls on all alike.
            runs: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
            for _ in range(n):
                for mode, (schema, whole) in modes.items():
                    runs[mode].append(await once(schema, query, variables, whole))
            for mode, measured in runs.items():
                times = sorted(wall for wall, _cpu in measured)
                median = statistics.median(times) * 1000
                p90 = times[int(len(times) * 0.9)] * 1000
                cpu = statistics.median(c for _wall, c in measured) * 1000
                print(f"{op_name:<10}{mode:<28}{median:>10.2f}{p90:>9.2f}{cpu:>8.2f}{1000 / median:>9.0f}")
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(n):
                await once(schemas["compiled"], Q1, Q1_VARIABLES, whole=False)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            print(out.getvalue())
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="runs per operation and mode")
    parser.add_argument("--database-url", help="a database with (or for) the demo league; default: a temporary SQLite file")
    parser.add_argument("--profile", action="store_true", help="profile compiled Q1 (execute alone)")
    parser.add_argument("--cold-cache", action="store_true", help="a new directory cache per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        fixture_id = asyncio.run(_prepare(url))
        asyncio.run(_measure(url, args.n, args.profile, args.cold_cache, fixture_id))


if __name__ == "__main__":
    main()
