"""A real `whistle` process: serve on a free port, answer, stop cleanly on SIGTERM.

Run on the embedded SQLite default with the demo data, and on PostgreSQL after
`whistle migrate` without demo data. Also `whistle schema`.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

WHISTLE = Path(sys.executable).with_name("whistle")
JOHN_DOE = "2ef28cf5-6471-4051-ae11-0f419aef3234"  # the first referee of the demo data
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def whistle_command(*args: str) -> list[str]:
    if WHISTLE.exists():
        return [str(WHISTLE), *args]
    return [sys.executable, "-m", "app.cli", *args]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**values: str) -> dict[str, str]:
    """This process's environment without any WHISTLE_* setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


class Server:
    """A `whistle serve` subprocess whose output goes to a file (no pipe to fill up)."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"whistle-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                whistle_command("serve", "--host", "127.0.0.1", "--port", str(self.port)),
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_healthy(self, http: httpx.AsyncClient) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"whistle serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                response = await http.get(f"{self.url}/healthz")
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        pytest.fail(f"whistle serve was not healthy within {START_TIMEOUT}s:\n{self.output()}")

    def terminate(self) -> int:
        """SIGTERM, then the exit code (killed after STOP_TIMEOUT, which fails the test)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"whistle serve did not stop within {STOP_TIMEOUT}s of SIGTERM:\n{self.output()}")

    def kill_if_running(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[Server] = []

    def start(**env: str) -> Server:
        server = Server(tmp_path, environment(**env))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill_if_running()


async def graphql(http: httpx.AsyncClient, server: Server, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = await http.post(f"{server.url}/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def check_common_endpoints(http: httpx.AsyncClient, server: Server) -> None:
    """/readyz is ready, GET /graphql from a browser is GraphiQL, a mutation is stored."""
    ready = await http.get(f"{server.url}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"

    page = await http.get(f"{server.url}/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "graphiql" in page.text.lower()

    created = await graphql(
        http,
        server,
        "mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id name club } }",
        {"i": {"name": "Process Test", "club": "VC Subprocess"}},
    )
    referee_id = created["createReferee"]["id"]
    found = await graphql(http, server, "query($id: ID!) { referee(id: $id) { name club } }", {"id": referee_id})
    assert found == {"referee": {"name": "Process Test", "club": "VC Subprocess"}}
    # The last act before SIGTERM is a commit, whose events keep the outbox relay busy.
    changed = await graphql(
        http,
        server,
        'mutation($id: ID!) { changeRefereeClub(refereeId: $id, club: "VC Signal") { club } }',
        {"id": referee_id},
    )
    assert changed == {"changeRefereeClub": {"club": "VC Signal"}}


def assert_clean_exit(server: Server) -> None:
    """A graceful shutdown. Uvicorn (>= 0.29) re-raises the SIGTERM it caught once the
    shutdown is complete, so the conventional exit is "killed by SIGTERM" (-15; 143 in a
    shell), which supervisors treat as a normal stop; 0 is accepted as well."""
    code = server.terminate()
    output = server.output()
    assert code in (0, -signal.SIGTERM), f"exit code {code}:\n{output}"
    assert "Application shutdown complete" in output, output
    assert "Finished server process" in output, output
    assert "Traceback" not in output, output
    assert "ERROR" not in output, output
    assert f"http://127.0.0.1:{server.port}/graphql" in output  # it said where GraphiQL is


async def test_whistle_serve_on_the_embedded_default_serves_the_demo_data_and_stops_cleanly(
    start_server: Any, tmp_path: Path
) -> None:
    server = start_server(
        WHISTLE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/whistle.db",
        WHISTLE_SEED_DEMO="1",
    )
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await server.wait_healthy(http))["status"] == "ok"
        data = await graphql(
            http,
            server,
            "query($id: ID!) { referee(id: $id) { name club } referees { id } teams { id } venues { id }"
            " fixtures(first: 3) { totalCount edges { node { date venue { name } } } } }",
            {"id": JOHN_DOE.upper()},
        )
        assert data["referee"] == {"name": "John Doe", "club": "Club A"}
        assert len(data["referees"]) == 43 and len(data["teams"]) == 16 and len(data["venues"]) == 11
        assert data["fixtures"]["totalCount"] > 200
        assert all(e["node"]["date"].endswith("+00:00") for e in data["fixtures"]["edges"])
        await check_common_endpoints(http, server)
    assert_clean_exit(server)
    assert (tmp_path / "whistle.db").exists()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_whistle_serve_on_postgresql_after_whistle_migrate_answers_and_stops_cleanly(
    start_server: Any, database_url: str, tmp_path: Path
) -> None:
    env = environment(WHISTLE_DATABASE_URL=database_url)
    migrated = subprocess.run(
        whistle_command("migrate"), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert "up to date" in migrated.stdout

    server = start_server(WHISTLE_DATABASE_URL=database_url, WHISTLE_SEED_DEMO="0")
    async with httpx.AsyncClient(timeout=10) as http:
        await server.wait_healthy(http)
        data = await graphql(http, server, "{ referees { id } fixtures { totalCount } availabilityLock { locked } }")
        assert data == {"referees": [], "fixtures": {"totalCount": 0}, "availabilityLock": {"locked": False}}
        await check_common_endpoints(http, server)
    assert_clean_exit(server)


def test_whistle_schema_prints_the_federated_sdl_with_keys_on_every_entity() -> None:
    result = subprocess.run(
        whistle_command("schema"), env=environment(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    sdl = result.stdout
    for entity in ["Referee", "Team", "Venue", "Fixture"]:
        assert re.search(rf'\btype {entity} @key\(fields: "id"\)', sdl), f"no @key on {entity}:\n{sdl[:2000]}"
    assert "@link(" in sdl and "federation/v2." in sdl
    for root in ["type Query", "type Mutation", "type Subscription"]:
        assert root in sdl
    assert "Traceback" not in result.stderr
