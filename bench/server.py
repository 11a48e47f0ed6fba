"""Whistle servers and databases for the bench scripts: created, started and always removed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.load_peers import load

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "bench"
PEERS = Path(os.environ.get("PEERS_DIR", REPO.parent / "shared" / "peers"))
POSTGRES = os.environ.get("WHISTLE_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SERVER_CPU = os.environ.get("SERVER_CPU", "0")
# The benchmark configuration: what a user has stays on. The JSON request log (one access
# line per operation, at INFO), request ids, operation limits (cost included), dev-mode
# authentication (the harness sends no token: every request is checked as the implicit
# ADMIN), APQ and the document cache are the defaults; rate limiting is on with a budget
# the load generator cannot spend in a minute (600 points would refuse wrk within a second).
BENCH_SETTINGS = {
    "WHISTLE_RATE_LIMIT_POINTS": "1000000000",
    "WHISTLE_LOG_LEVEL": "INFO",
    "WHISTLE_LOG_FORMAT": "json",
}


@dataclass(frozen=True)
class Variant:
    """A named set of WHISTLE_* settings for one server: `NAME` or `NAME:ENV=V,ENV=V`."""

    name: str
    env: Mapping[str, str] = field(default_factory=dict)
    spec: str = ""

    @classmethod
    def parse(cls, spec: str) -> Variant:
        name, _, settings = spec.partition(":")
        env = dict(item.split("=", 1) for item in settings.split(",") if item)
        return cls(name, env, spec)

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.env.items()) or "the defaults"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(make_url(POSTGRES).set(drivername="postgresql").render_as_string(False))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def fresh_database_url() -> str:
    return make_url(POSTGRES).set(database=f"whistle_bench_{uuid.uuid4().hex[:10]}").render_as_string(False)


def sqlite_url(directory: str) -> str:
    return f"sqlite+aiosqlite:///{directory}/whistle.db"


@contextmanager
def bench_database(url: str | None = None) -> Iterator[str]:
    """A new PostgreSQL (or SQLite) database with the peers' rows, dropped afterwards."""
    url = url or fresh_database_url()
    asyncio.run(load(url))
    try:
        yield url
    finally:
        target = make_url(url)
        if target.drivername.startswith("postgresql"):
            _admin(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass(frozen=True)
class Server:
    url: str  # the GraphQL endpoint
    process: subprocess.Popen[bytes]
    log: Path  # stdout and stderr

    def access_lines(self) -> list[dict[str, object]]:
        """The JSON access lines logged so far (servers started with WHISTLE_LOG_FORMAT=json, level INFO)."""
        lines = (json.loads(l) for l in self.log.read_text().splitlines() if l.startswith("{"))
        return [l for l in lines if l.get("logger") == "whistle.access"]


@contextmanager
def whistle_server(
    url: str, settings: Mapping[str, str] = {}, workers: int = 1, cpus: str | None = SERVER_CPU
) -> Iterator[Server]:
    """`whistle serve` on a free port (pinned to `cpus`), until the block ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env.update(BENCH_SETTINGS, WHISTLE_DATABASE_URL=url)
    env.update(settings)  # a variant may give the database URL itself
    command = [str(REPO / ".venv/bin/whistle"), "serve", "--port", str(port), "--workers", str(workers)]
    if cpus is not None:
        command = ["taskset", "-c", cpus, *command]
    log_path = Path(f"/tmp/whistle-bench-{port}.log")
    log = log_path.open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(f"http://127.0.0.1:{port}/healthz", process)
        yield Server(f"http://127.0.0.1:{port}/graphql", process, log_path)
    finally:
        stop(process)
        log.close()


def _wait_ready(health: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"whistle serve exited with {process.returncode} (log in /tmp/whistle-bench-*.log)")
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("whistle serve did not become ready")


@contextmanager
def whistle_servers(url: str, variants: list[Variant]) -> Iterator[dict[str, tuple[str, int]]]:
    """One pinned single-worker server per variant: {py-whistle-NAME: (GraphQL URL, pid)}.
    Only one runs under load at a time (run.sh measures extras one after another)."""
    with ExitStack() as stack:
        servers = {}
        for variant in variants:
            # `{url}` in a value is the database URL (e.g. to add driver options to it).
            settings = {key: value.replace("{url}", url) for key, value in variant.env.items()}
            server = stack.enter_context(whistle_server(url, settings))
            servers[f"py-whistle-{variant.name}"] = (server.url, server.process.pid)
        yield servers
