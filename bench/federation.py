"""Federation benchmark: the fixtures page with every nested field through the Hive Gateway
over the three subgraphs vs the monolith, side by side in one run.

    .venv/bin/python bench/federation.py [--rounds 5] [--requests 100] [--concurrency 4] [--first 20]

Starts the stack of the federated tests (tests/federation/stack.py: the demo league in a
fresh PostgreSQL database, a Redis of its own, the monolith and three `whistle serve
--subgraph` processes, the gateway under Node), warms both sides up, then runs `--rounds`
rounds; each round sends `--requests` requests with `--concurrency` in flight to the
monolith, then the same to the gateway. Throughput is the median of the rounds; p50/p99
are over every request of a side. SQL statements per request come from each process's
access lines (`sql=N`), for one more request per side after the rounds (steady state:
directory cache warm). Prints a Markdown section and writes it into BENCHMARKS.md
("## Federation"; `--no-write`: print only). Asserts nothing: it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.federation.corpus import FIXTURES_PAGE  # noqa: E402
from tests.federation.stack import SUBGRAPHS, Stack, federated_stack  # noqa: E402

SECTION = "## Federation"


async def run_side(url: str, count: int, concurrency: int, variables: dict) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms) of `count` requests, `concurrency` at a time."""
    latencies: list[float] = []
    queue = iter(range(count))
    async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as http:

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await http.post("/graphql", json={"query": FIXTURES_PAGE, "variables": variables})
                latencies.append((time.perf_counter() - started) * 1000)
                body = response.json()
                if response.status_code != 200 or body.get("errors"):
                    raise RuntimeError(f"{url}: {response.status_code} {str(body)[:500]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started), latencies


def access_lines(path: Path, offset: int) -> list[dict]:
    lines = path.read_bytes()[offset:].decode(errors="replace").splitlines()
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    return [p for p in parsed if p.get("logger") == "whistle.access"]


async def sql_per_request(stack: Stack, variables: dict) -> dict[str, tuple[int, int]]:
    """{process: (operations it received, SQL statements)} for one request per side."""
    result: dict[str, tuple[int, int]] = {}
    for side, url, processes in (
        ("monolith", stack.monolith.url, {"monolith": stack.monolith}),
        ("gateway", stack.gateway.url, stack.subgraphs),
    ):
        offsets = {name: p.log_path.stat().st_size for name, p in processes.items()}
        await run_side(url, 1, 1, variables)
        await asyncio.sleep(0.5)  # the access lines are flushed
        for name, process in processes.items():
            lines = access_lines(process.log_path, offsets[name])
            result[name] = (len(lines), sum(line.get("sql_statements", 0) for line in lines))
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(stack: Stack, args: argparse.Namespace) -> str:
    variables = {"first": args.first}
    sides = {"monolith": stack.monolith.url, "gateway": stack.gateway.url}
    for url in sides.values():  # warm-up: connections, caches, the gateway's query plans
        await run_side(url, 20, args.concurrency, variables)
    throughput: dict[str, list[float]] = {s: [] for s in sides}
    latencies: dict[str, list[float]] = {s: [] for s in sides}
    for _ in range(args.rounds):
        for side, url in sides.items():
            rps, lat = await run_side(url, args.requests, args.concurrency, variables)
            throughput[side].append(rps)
            latencies[side].extend(lat)
    sql = await sql_per_request(stack, variables)

    rows = [
        f"| {side} | {statistics.median(throughput[side]):.1f} | {min(throughput[side]):.1f} – {max(throughput[side]):.1f} "
        f"| {percentile(latencies[side], 50):.1f} | {percentile(latencies[side], 99):.1f} | {len(latencies[side])} |"
        for side in sides
    ]
    sql_rows = [f"| {name} | {ops} | {statements} |" for name, (ops, statements) in sql.items()]
    total = sum(statements for name, (_, statements) in sql.items() if name in SUBGRAPHS)
    cpu = os.cpu_count()
    return "\n".join(
        [
            SECTION,
            "",
            f"- Date: {datetime.now(timezone.utc):%a %b %d %H:%M:%S UTC %Y}",
            f"- Machine: {cpu} cores, shared (another session ran tests at the same time)",
            f"- Command: `.venv/bin/python bench/federation.py --rounds {args.rounds} --requests {args.requests} "
            f"--concurrency {args.concurrency} --first {args.first}`",
            "",
            f"The fixtures page (`fixtures(first: {args.first})` with venue, teams, committed and available referees, "
            "assignments with their referee and fixture: tests/federation/corpus.py `FIXTURES_PAGE`) on the demo "
            "league in PostgreSQL + Redis, every process on this machine (client, gateway, subgraphs, database "
            f"share {cpu} cores). Monolith and gateway run alternately in the same rounds; throughput is the median "
            f"of {args.rounds} rounds of {args.requests} requests with {args.concurrency} in flight, p50/p99 over all "
            "requests of a side.",
            "",
            "| Path | requests/s (median) | min – max | p50 ms | p99 ms | requests |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "SQL statements for one such request (steady state: the directory cache is warm), from each process's "
            "access lines (`sql=N`); the gateway's fetches to a subgraph count as operations:",
            "",
            "| Process | GraphQL operations received | SQL statements |",
            "| --- | ---: | ---: |",
            *sql_rows,
            f"| all three subgraphs | {sum(ops for name, (ops, _) in sql.items() if name in SUBGRAPHS)} | {total} |",
            "",
        ]
    )


def write(section: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text()
    if SECTION in text:
        before, after = text.split(SECTION, 1)
        rest = after.split("\n## ", 1)
        text = before + section + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--first", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs, federated_stack(Path(logs), log_format="json") as stack:
        section = asyncio.run(measure(stack, args))
    print(section)
    if not args.no_write:
        write(section)


if __name__ == "__main__":
    main()
