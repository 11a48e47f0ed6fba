"""`readOnlyRootFilesystem: true` holds for whistle: `whistle serve` with the settings of
the in-cluster layout's ConfigMap, on PostgreSQL and Redis, writes no file outside /tmp
(the pod's emptyDir) while it starts, serves, relays a change through Redis and drains.

Python's audit hooks see every file the interpreter opens for writing, creates, renames
or removes; a `sitecustomize` on PYTHONPATH installs one in the server process. Files that
native code opens by itself they do not see (asyncpg, uvloop, httptools and orjson open
none)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.security.authn import mint_local_token
from app.security.identity import Role
from tests.deploy.manifests import Rendered, render
from tests.e2e.processes import ServerProcess, create_postgres_database, drop_postgres_database, run_cli
from tests.integration.bus_fixtures import RedisServer, free_port

pytestmark = pytest.mark.e2e

MARK = "WRITE OUTSIDE /tmp:"
AUDIT_HOOK = f'''
import os, sys

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_CHANGES = {{"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.link", "os.symlink",
             "os.truncate", "os.chmod", "os.chown", "os.utime"}}


def _report_writes_outside_tmp(event, args):
    if event == "open":
        path, mode, flags = args
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
    elif event in _CHANGES:
        path, writes = args[0], True
    else:
        return
    if writes and isinstance(path, (str, bytes, os.PathLike)):
        full = os.path.abspath(os.fsdecode(path))
        if not full.startswith(("/tmp/", "/dev/")):
            sys.__stderr__.write(f"{MARK} {{event}} {{full}}\\n")
            sys.__stderr__.flush()


sys.addaudithook(_report_writes_outside_tmp)
'''


@pytest.fixture
def audited(tmp_path: Path) -> dict[str, str]:
    """PYTHONPATH that puts the audit hook into every Python process started with it."""
    folder = tmp_path / "audit"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(AUDIT_HOOK)
    return {"PYTHONPATH": str(folder)}


def test_the_audit_hook_reports_a_write_outside_tmp(audited: dict[str, str]) -> None:
    """The control: without it, a silent hook would prove nothing."""
    target = Path("/var/tmp") / f"whistle-audit-{uuid.uuid4().hex}"
    try:
        result = subprocess.run(
            [sys.executable, "-c", f"open({str(target)!r}, 'w').close()"],
            env=audited,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        target.unlink(missing_ok=True)
    assert f"{MARK} open {target}" in result.stderr


@pytest.fixture
def stores() -> Iterator[tuple[str, str]]:
    if not RedisServer.available():
        pytest.skip("redis-server is not on PATH")
    database_url = create_postgres_database()
    redis = RedisServer(free_port())
    try:
        redis.start()
        yield database_url, redis.url
    finally:
        redis.stop()
        drop_postgres_database(database_url)


def test_whistle_serve_writes_nothing_outside_tmp(
    audited: dict[str, str], stores: tuple[str, str], tmp_path: Path
) -> None:
    database_url, redis_url = stores
    keys = tmp_path / "jwt-keys"  # in the pod: the Secret whistle-jwt-local-keys, mounted read-only
    settings = Rendered("overlays/in-cluster", render("overlays/in-cluster")).settings()
    env = {
        "PATH": "/usr/bin:/bin",
        **settings,
        "WHISTLE_HOST": "127.0.0.1",
        "WHISTLE_DATABASE_URL": database_url,
        "WHISTLE_REDIS_URL": redis_url,
        "WHISTLE_CURSOR_SECRET": "read-only-root",
        "WHISTLE_JWT_LOCAL_KEYS": str(keys),
    }
    run_cli("migrate", env=env)  # the Job's work, before the audited server starts
    token = mint_local_token(Settings(jwt_local_keys=str(keys)), Role.ADMIN)  # creates the key pair

    server = ServerProcess("read-only", free_port(), {**env, **audited}, tmp_path).start(timeout=60)
    try:
        with httpx.Client(base_url=server.url, timeout=10, trust_env=False) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").json()["status"] == "ready"
            created = http.post(
                "/graphql",
                headers={"Authorization": f"Bearer {token}"},
                json={"query": 'mutation { createVenue(input: {name: "Hall", street: "Main 1", zip: "8000", city: "Zurich"}) { id } }'},
            )
            assert created.status_code == 200 and created.json()["data"]["createVenue"]["id"], created.text
            listed = http.post(
                "/graphql", headers={"Authorization": f"Bearer {token}"}, json={"query": "{ venues { name } }"}
            )
            assert listed.json()["data"]["venues"] == [{"name": "Hall"}]
    finally:
        output = server.stop()  # SIGTERM: drains and exits cleanly
    assert MARK not in output, output
