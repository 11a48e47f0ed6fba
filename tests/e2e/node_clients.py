"""Third-party JavaScript clients driven from the tests (tests/clients: the GraphQL-over-HTTP
audit, graphql-sse's client, Apollo Client's HTTP link), installed with `npm ci` from the
lock file when missing. Without Node / npm (or when `npm ci` fails) their tests skip
loudly, or fail when WHISTLE_REQUIRE_SERVICES=1."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.processes import ROOT
from tests.npm import npm_ci

CLIENTS_DIR = ROOT / "tests" / "clients"


def _missing(reason: str) -> None:
    if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"the JavaScript client tests need {reason} (WHISTLE_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(f"JAVASCRIPT CLIENT TESTS SKIPPED: {reason}")


def client_modules() -> Path:
    """tests/clients/node_modules, installed from package-lock.json when missing or older than it."""
    return npm_ci(CLIENTS_DIR, _missing)


def run_client(script: str, *args: Any, timeout: float = 60) -> list[dict[str, Any]]:
    """Run tests/clients/SCRIPT with the arguments (non-strings as JSON); its stdout's JSON lines."""
    client_modules()
    argv = [arg if isinstance(arg, str) else json.dumps(arg) for arg in args]
    result = subprocess.run(["node", script, *argv], cwd=CLIENTS_DIR, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"node {script} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


class RunningClient:
    """A client script running in the background: `await client.line()` is its next JSON line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self, timeout: float = 5.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not raw:
            error = await self.process.stderr.read() if self.process.stderr is not None else b""
            raise AssertionError(f"the client exited without a further line:\n{error.decode(errors='replace')}")
        return json.loads(raw)

    async def exit_code(self, timeout: float = 10.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)


@asynccontextmanager
async def running_client(script: str, *args: Any) -> AsyncIterator[RunningClient]:
    """tests/clients/SCRIPT in the background (killed at the end if it is still running)."""
    client_modules()
    argv = [arg if isinstance(arg, str) else json.dumps(arg) for arg in args]
    process = await asyncio.create_subprocess_exec(
        "node", script, *argv, cwd=CLIENTS_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield RunningClient(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
