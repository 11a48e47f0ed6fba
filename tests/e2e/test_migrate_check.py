"""`whistle migrate --check`: what a Kubernetes init container polls until the migration
Job has run (deploy/k8s). It applies nothing and answers with its exit code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_server_process import environment, whistle_command

pytestmark = pytest.mark.e2e


def check(database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        whistle_command("migrate", "--check"),
        env=environment(WHISTLE_DATABASE_URL=database_url),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_check_fails_until_the_migrations_have_run_and_applies_nothing(database_url: str, tmp_path: Path) -> None:
    pending = check(database_url, tmp_path)
    assert pending.returncode == 1
    assert "migrations are pending: run `whistle migrate`" in pending.stderr
    assert "Traceback" not in pending.stderr
    assert check(database_url, tmp_path).returncode == 1  # the first check migrated nothing

    migrated = subprocess.run(
        whistle_command("migrate"),
        env=environment(WHISTLE_DATABASE_URL=database_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr

    current = check(database_url, tmp_path)
    assert current.returncode == 0, current.stderr
    assert "database schema is up to date" in current.stdout


def test_migrate_check_fails_with_a_reason_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    unreachable = check("postgresql+asyncpg://whistle@127.0.0.1:1/whistle", tmp_path)
    assert unreachable.returncode == 1
    assert "cannot read the database schema (ConnectionRefusedError" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
