"""The federated stack of the tests, as real processes: the three subgraphs (`whistle serve`
with WHISTLE_SUBGRAPH) and the monolith under uvicorn, the Hive Gateway under Node, one
PostgreSQL database and a Redis of their own.

Without Node / npm (or when `npm ci` fails) the tests skip loudly, or fail when
WHISTLE_REQUIRE_SERVICES=1."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import ROOT, ServerProcess, error_lines, create_postgres_database, drop_postgres_database, run_cli, whistle_env
from tests.integration.bus_fixtures import RedisServer, free_port
from tests.npm import npm_ci

GATEWAY_DIR = ROOT / "gateway"
SUBGRAPHS = ("directory", "fixtures", "assignments")


def missing(reason: str) -> None:
    """Skip loudly, or fail when services are required (CI)."""
    if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"the federated tests need {reason} (WHISTLE_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(f"FEDERATED TESTS SKIPPED: {reason}")


def node_modules() -> Path:
    """gateway/node_modules, installed with `npm ci` from the lock file when missing."""
    return npm_ci(GATEWAY_DIR, missing)


def node(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    node_modules()
    return subprocess.run(["node", *args], cwd=GATEWAY_DIR, capture_output=True, text=True, timeout=timeout)


class GatewayProcess:
    """`hive-gateway supergraph <file>` on a port of its own; subgraph URLs from the environment."""

    def __init__(self, port: int, subgraph_urls: Mapping[str, str], log_dir: Path, supergraph: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        self.log_path = log_dir / f"gateway-{port}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("WHISTLE_", "HIVE_", "APOLLO_"))}
        self.env.update({f"{name.upper()}_URL": url for name, url in subgraph_urls.items()})
        self.env.update({"NODE_ENV": "production", "GATEWAY_LOG_LEVEL": "warn", "GATEWAY_MASK_ERRORS": "0"})
        self.supergraph = supergraph
        self.process: subprocess.Popen[bytes] | None = None
        self._log = None

    def start(self, timeout: float = 60.0) -> GatewayProcess:
        binary = node_modules() / ".bin" / "hive-gateway"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(binary), "supergraph", str(self.supergraph), "--port", str(self.port), "--host", "127.0.0.1"],
            cwd=GATEWAY_DIR,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"the gateway exited on start:\n{self.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    response = http.post(f"{self.url}/graphql", json={"query": "{ __typename }"})
                    if response.status_code == 200:
                        return self
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"the gateway did not answer in {timeout} s:\n{self.output()}")
                time.sleep(0.1)

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Stack:
    database_url: str
    redis_url: str
    monolith: ServerProcess
    subgraphs: dict[str, ServerProcess]
    gateway: GatewayProcess
    log_dir: Path


def server_env(database_url: str, redis_url: str, name: str, **extra: str | int | None) -> dict[str, str]:
    return whistle_env(
        database_url=database_url,
        redis_url=redis_url,
        seed_demo=0,
        auth="dev",  # every request without a token is ADMIN (the gateway forwards tokens: see README)
        rate_limit_points=0,  # every request of the gateway comes from one address
        cursor_secret="federation-tests",  # one secret: cursors of one process are valid in the others
        consumer_retry_ms=1000,
        instance_name=name,
        **extra,
    )


@contextmanager
def federated_stack(log_dir: Path, supergraph: Path | None = None, **settings: str | int | None) -> Iterator[Stack]:
    """Monolith + three subgraphs + gateway on one fresh, migrated PostgreSQL database (with
    the demo league) and one throw-away Redis; everything is stopped and dropped afterwards."""
    node_modules()
    if not RedisServer.available():
        missing("redis-server on PATH")
    database_url = create_postgres_database()
    redis = RedisServer(free_port())
    servers: list[ServerProcess] = []
    gateway: GatewayProcess | None = None
    try:
        redis.start()
        run_cli("migrate", env=server_env(database_url, redis.url, "migrate"))
        run_cli("seed", env=server_env(database_url, redis.url, "seed"))
        monolith = ServerProcess("monolith", free_port(), server_env(database_url, redis.url, "monolith", **settings), log_dir)
        subgraphs = {
            name: ServerProcess(name, free_port(), server_env(database_url, redis.url, name, subgraph=name, **settings), log_dir)
            for name in SUBGRAPHS
        }
        servers = [monolith, *subgraphs.values()]
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready(60)
        urls = {name: f"{server.url}/graphql" for name, server in subgraphs.items()}
        gateway = GatewayProcess(free_port(), urls, log_dir, supergraph or GATEWAY_DIR / "supergraph.graphql").start()
        yield Stack(database_url, redis.url, monolith, subgraphs, gateway, log_dir)
    finally:
        if gateway is not None:
            gateway.stop()
        for server in servers:
            server.kill()
        redis.stop()
        drop_postgres_database(database_url)
    logged = [f"{server.name}: {line}" for server in servers for line in error_lines(server.output())]
    assert not logged, "the federated servers logged errors:\n" + "\n".join(logged)
