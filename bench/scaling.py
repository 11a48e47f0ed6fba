"""Q1 (fixtures with venue, both teams, both referees) at growing page sizes: latency and
SQL statements per request, with the referee/team/venue cache cold (first request of a
fresh server) and warm (every later one). The statements are the server's own count
(the access line's `sql=`), from a pinned single-worker `whistle serve` on the peers' rows.

    .venv/bin/python -m bench.scaling [--sizes 10,50,100,200,500] [--requests 50] [--no-write]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from datetime import datetime, timezone

import httpx

from bench.markdown import replace_section, table
from bench.server import BENCH_DIR, REPO, bench_database, whistle_server

# Every page of every size lies in the year of the peers' 4000 fixtures (20 a day).
WINDOW = {"from": "2025-01-01T00:00:00+00:00", "to": "2026-01-01T00:00:00+00:00"}
SETTINGS = {"WHISTLE_LOG_LEVEL": "INFO", "WHISTLE_LOG_FORMAT": "json", "WHISTLE_MAX_COST": "100000"}


def body(size: int) -> dict[str, object]:
    q1 = copy.deepcopy(json.loads((BENCH_DIR / "q1_connection.json").read_text()))
    q1["variables"] = {**WINDOW, "first": size}
    return q1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(url: str, size: int, requests: int) -> list[object]:
    with whistle_server(url, SETTINGS) as server, httpx.Client(timeout=30) as http:
        request = body(size)

        def post() -> float:
            started = time.perf_counter()
            result = http.post(server.url, json=request).json()
            elapsed = (time.perf_counter() - started) * 1000
            assert "errors" not in result and len(result["data"]["fixtures"]["edges"]) == size, result.get("errors")
            return elapsed

        post()  # cold: nothing cached yet
        for _ in range(5):
            post()
        timings = [post() for _ in range(requests)]
        time.sleep(0.3)  # the last access lines are written
        sql = [line["sql_statements"] for line in server.access_lines()]
    cold, warm = sql[0], sorted(set(sql[1:]))
    return [
        size, f"{statistics.median(timings):.1f}", f"{percentile(timings, 99):.1f}",
        cold, "/".join(map(str, warm)),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,50,100,200,500")
    parser.add_argument("--requests", type=int, default=50, help="timed sequential requests per size")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})  # the client on CPU 1, the server on CPU 0 (like the peers' wrk)
    with bench_database() as url:
        rows = [measure(url, int(size), args.requests) for size in args.sizes.split(",")]
    text = "\n".join([
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; 2-core shared machine",
        f"- Command: `.venv/bin/python -m bench.scaling --sizes {args.sizes} --requests {args.requests}`",
        f"- {args.requests} sequential requests per size after 6 untimed ones, one client on CPU 1, one "
        "fresh single-worker server per size on CPU 0 (PostgreSQL, the peers' rows, WHISTLE_MAX_COST raised "
        "so 500 fixtures pass the cost limit). SQL: the server's statement count per request (access line).",
        "",
        table(["fixtures per page", "p50 ms", "p99 ms", "SQL, cache cold (1st request)", "SQL, cache warm"], rows),
    ])  # fmt: skip
    print(text)
    if not args.no_write:
        replace_section(REPO / "BENCHMARKS.md", "Fixtures page: scaling with the page size", text)


if __name__ == "__main__":
    main()
