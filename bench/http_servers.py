"""uvicorn (httptools, uvloop: `whistle serve`) against Granian (an ASGI server in Rust, PyPI
`granian`) on the same application, settings and database: the peers' Q1 and Q2 with wrk at
1 and 16 connections, each server pinned to CPU 0 (wrk on CPU 1), alternating round by
round; server CPU per request from /proc (all threads). Granian runs the same factory with
the same logging configuration (the JSON request log), so both write one access line per
operation.

    .venv/bin/python -m bench.http_servers [--rounds 2] [--duration 6] [--servers "uvicorn;granian"]

A server is `uvicorn` or `granian`, optionally named, from another checkout and with
settings: `--servers "lean=uvicorn;generic=uvicorn:WHISTLE_LEAN_LANE=0"` compares the two
lanes; `--servers "before=uvicorn@/tmp/old;after=uvicorn"` a checkout of older code (with
its own `.venv`, e.g. `git worktree add /tmp/old <commit> && make -C /tmp/old install`)
against this one.

Needs what `make bench` needs (PostgreSQL, the peers' `peers` database, wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.server import BENCH_DIR, BENCH_SETTINGS, PEERS, REPO, SERVER_CPU, _wait_ready, bench_database, free_port, stop


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads) and of its children."""
    pids = [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    ticks = 0
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(name: str, spec: str, url: str, log_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    from app.config import Settings
    from app.observability import logging_config

    kind, _, settings = spec.partition(":")
    kind, _, checkout = kind.partition("@")
    root = Path(checkout) if checkout else REPO
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env.update(BENCH_SETTINGS, WHISTLE_DATABASE_URL=url, WHISTLE_PORT=str(port))
    env.update(item.split("=", 1) for item in settings.split(",") if item)
    if kind == "uvicorn":
        command = [str(root / ".venv/bin/whistle"), "serve", "--port", str(port)]
    else:
        log_config = log_dir / "logging.json"
        log_config.write_text(json.dumps(logging_config(Settings(log_format="json"))))
        command = [
            str(root / ".venv/bin/granian"), "--interface", "asgi", "--factory", "app.server:app_from_environment",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--loop", "uvloop",
            "--no-access-log", "--log-config", str(log_config),
        ]  # fmt: skip
    with (log_dir / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(["taskset", "-c", SERVER_CPU, *command], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        try:
            _wait_ready(f"http://127.0.0.1:{port}/healthz", process)
            yield process, port
        finally:
            stop(process)


def wrk(port: int, body: Path, conns: int, seconds: int) -> dict[str, str]:
    env = {**os.environ, "BODY_FILE": str(body)}
    command = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "30s",
               "-s", str(PEERS / "wrk" / "bench.lua"), f"http://127.0.0.1:{port}/graphql"]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT"))
    return dict(item.split("=", 1) for item in line.split()[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=6, help="seconds of wrk per measurement (after 2 s of warm-up)")
    parser.add_argument("--servers", default="uvicorn;granian", help="[NAME=]KIND[:ENV=V,...], separated by ';'")
    args = parser.parse_args()
    specs = dict(_named(item) for item in args.servers.split(";"))
    bodies = {"Q1": BENCH_DIR / "q1_connection.json", "Q2": PEERS / "bodies" / "q2.json"}
    print("| query | conns | server | req/s (each round) | server CPU ms/request (each round) | non-2xx |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp, bench_database() as url, ExitStack() as stack:
        servers = {name: stack.enter_context(server(name, spec, url, Path(tmp))) for name, spec in specs.items()}
        for query, body in bodies.items():
            for conns in (1, 16):
                results: dict[str, list[tuple[float, float, int]]] = {kind: [] for kind in servers}
                for _ in range(args.rounds):
                    for kind, (process, port) in servers.items():
                        wrk(port, body, conns, 2)
                        before = process_cpu_seconds(process.pid)
                        result = wrk(port, body, conns, args.duration)
                        cpu = process_cpu_seconds(process.pid) - before
                        requests = int(result["requests"])
                        results[kind].append((float(result["rps"]), 1000 * cpu / max(requests, 1), int(result["non2xx"])))
                for kind, rows in results.items():
                    rps = " / ".join(f"{r:.0f}" for r, _, _ in rows)
                    cpu = " / ".join(f"{c:.2f}" for _, c, _ in rows)
                    print(f"| {query} | {conns} | {kind} | {rps} | {cpu} | {sum(n for _, _, n in rows)} |", flush=True)


def _named(item: str) -> tuple[str, str]:
    """`lean=uvicorn:X=1` -> ("lean", "uvicorn:X=1"); `granian` -> ("granian", "granian")."""
    name, equals, spec = item.partition("=")
    return (name, spec) if equals and ":" not in name else (item.split(":", 1)[0].split("@", 1)[0], item)


if __name__ == "__main__":
    main()
