"""The chaos test, short (30 s, 12 subscribers), so CI guards it: three real instances
behind a real HAProxy, a private Redis, a PostgreSQL database of its own, seeded faults
(SIGKILL, a rolling SIGTERM restart, a Redis restart, SIGSTOP, pg_terminate_backend);
every invariant must hold (`make chaos` is the full run, README "Chaos test")."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from chaos.cluster import POSTGRES_URL, dsn
from chaos.report import INVARIANTS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def _missing(what: str) -> None:
    if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what}: the chaos test cannot run", pytrace=False)
    pytest.skip(f"{what}: the chaos test cannot run")


async def _ping_postgres() -> None:
    conn = await asyncpg.connect(dsn(POSTGRES_URL), timeout=5)
    await conn.close()


def test_a_short_chaos_run_keeps_every_invariant(tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:
        _missing("redis-server is not on PATH")
    if not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists() or shutil.which("apt-get")):
        _missing("no haproxy and no apt-get to install it")
    try:
        asyncio.run(_ping_postgres())
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        _missing(f"PostgreSQL unavailable ({type(error).__name__}: {error})")
    report = tmp_path / "CHAOS.md"
    run = subprocess.run(
        [sys.executable, "-m", "chaos.run", "--duration", "30", "--subscribers", "12", "--seed", "16", "--out", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"{run.stdout[-6000:]}\n{run.stderr[-6000:]}"
    text = report.read_text()
    assert "Every invariant held" in text, text
    for invariant in INVARIANTS:
        assert f"| {invariant} | 0 |" in text, text
    for fault in ("SIGKILL", "rolling restart (SIGTERM)", "Redis restart", "SIGSTOP 5 s", "pg_terminate_backend"):
        assert f"| {fault} |" in text, f"{fault} did not happen:\n{text}"
