"""A worker's memory under the Q1 load, over 10 consecutive runs, and two workers against one.

1. One worker pinned to CPU 0, wrk (the peers' script, Q1 body, 16 connections) on CPU 1,
   `--runs` consecutive runs: throughput, the worker's peak RSS during each run (sampled
   every 0.1 s) and its RSS after it. Growth from run to run would be a leak.
2. `whistle serve --workers 2` against `--workers 1` on Q1 (both with Redis, which more than
   one worker needs; servers on both cores, wrk on CPU 1, so wrk competes with them).

    .venv/bin/python -m bench.memory [--backend postgres|sqlite] [--runs 10] [--seconds 10] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import httpx

from bench.markdown import replace_section, table
from bench.server import sqlite_url, BENCH_DIR, PEERS, REPO, bench_database, whistle_server

REDIS_URL = os.environ.get("WHISTLE_BENCH_REDIS", "redis://127.0.0.1:6379/7")  # a db of its own
LOAD_CPU = os.environ.get("LOAD_CPU", "1")
Q1 = BENCH_DIR / "q1_connection.json"


def wrk(url: str, seconds: int, conns: int = 16) -> dict[str, float]:
    command = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s",
               "-s", str(PEERS / "wrk" / "bench.lua"), url]  # fmt: skip
    out = subprocess.run(command, env={**os.environ, "BODY_FILE": str(Q1)}, capture_output=True, text=True, check=True)
    line = next(l for l in out.stdout.splitlines() if l.startswith("RESULT"))
    result = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}
    assert result["non2xx"] == 0 and result["sockerr"] == 0, line
    return result


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise LookupError(pid)


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes (with --workers > 1), else the server process itself."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = [int(c) for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
    return workers or [pid]


class PeakRss:
    """The highest RSS of `pids` while the block runs."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak, self._stop = pids, 0.0, threading.Event()

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max([self.peak, *(rss_mb(p) for p in self.pids)])


def warm(url: str) -> None:
    body = Q1.read_text()
    with httpx.Client(timeout=30) as http:
        for _ in range(20):
            assert "errors" not in http.post(url, content=body, headers={"content-type": "application/json"}).json()


def consecutive_runs(url: str, runs: int, seconds: int) -> list[list[object]]:
    rows = []
    with whistle_server(url) as server:
        warm(server.url)
        pid = server.process.pid
        rows.append(["after start-up and 20 requests", "–", "–", f"{rss_mb(pid):.0f}"])
        for run in range(1, runs + 1):
            with PeakRss([pid]) as peak:
                result = wrk(server.url, seconds)
            rows.append([run, f"{result['rps']:.1f}", f"{peak.peak:.0f}", f"{rss_mb(pid):.0f}"])
    return rows


def worker_scaling(url: str, seconds: int, rounds: int) -> list[list[object]]:
    """1 and 2 workers alternately, `rounds` times each (the machine's load drifts): medians."""
    results: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    with ExitStack() as stack:
        servers = {}
        for workers in results:
            server = stack.enter_context(whistle_server(url, {"WHISTLE_REDIS_URL": REDIS_URL}, workers=workers, cpus="0,1"))
            warm(server.url)
            servers[workers] = server
        for _ in range(rounds):
            for workers, server in servers.items():
                with PeakRss(workers_of(server.process.pid)) as peak:
                    result = wrk(server.url, seconds)
                results[workers].append({**result, "peak": peak.peak})
    base = statistics.median(r["rps"] for r in results[1])
    rows = []
    for workers, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        rows.append([
            workers, f"{rps:.1f}", " / ".join(f"{r['rps']:.1f}" for r in runs),
            f"{statistics.median(r['p99_ms'] for r in runs):.0f}", f"{max(r['peak'] for r in runs):.0f}", f"{rps / base:.2f}×",
        ])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of 1 and 2 workers")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = sqlite_url(tmp) if args.backend == "sqlite" else None
        with bench_database(url) as url:
            runs = consecutive_runs(url, args.runs, args.seconds)
            scaling = worker_scaling(url, args.seconds, args.rounds)
    text = "\n".join([
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; 2-core shared machine",
        f"- Command: `.venv/bin/python -m bench.memory --backend {args.backend} --runs {args.runs} --seconds {args.seconds} --rounds {args.rounds}`",
        f"- {args.runs} consecutive wrk runs of {args.seconds} s (Q1, 16 connections, CPU {LOAD_CPU}) against one "
        "worker on CPU 0; RSS from /proc (peak sampled every 0.1 s).",
        "",
        table(["run", "Q1 req/s", "peak RSS MB during the run", "RSS MB after the run"], runs),
        "",
        f"Workers (both with Redis; servers may use both cores, wrk on CPU {LOAD_CPU} competes with them; "
        f"{args.rounds} alternating rounds of {args.seconds} s of Q1 at 16 connections each; medians):",
        "",
        table(["workers", "Q1 req/s (median)", "each round", "p99 ms", "peak RSS MB per worker", "vs 1 worker"], scaling),
    ])  # fmt: skip
    print(text)
    if not args.no_write:
        title = "Memory and workers (PostgreSQL)" if args.backend == "postgres" else "Memory and workers (embedded SQLite)"
        replace_section(REPO / "BENCHMARKS.md", title, text)


if __name__ == "__main__":
    main()
