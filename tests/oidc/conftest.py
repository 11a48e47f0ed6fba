"""Fixtures of the sign-in tests: a real OpenID Provider (Node `oidc-provider`), Whistle
apps in WHISTLE_AUTH=oidc on both session stores (in memory; Redis, a private
redis-server so the shared one is not disturbed), and a sign-in helper.

The in-process apps of the Redis runs get the Redis session store directly (what
WHISTLE_REDIS_URL selects, see test_session_store.py) and keep the in-process event bus:
the Redis event bus is not what these tests are about, and an in-process app whose Redis
consumers have entered a blocking read does not finish its lifespan under pytest (seen
with WHISTLE_AUTH=dev too). The process-based tests use WHISTLE_REDIS_URL itself."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.config import Settings
from app.server import create_app
from app.security.session_store import RedisSessionStore
from app.security.sessions import Sessions
from tests.e2e.processes import ServerProcess, whistle_env
from tests.integration.bus_fixtures import RedisServer, free_port
from tests.oidc.provider_process import ProviderProcess, provider_login

BASE_URL = "http://whistle.test"
ORIGIN = {"Origin": BASE_URL}


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProviderProcess]:
    provider = ProviderProcess(free_port(), Path(tmp_path_factory.mktemp("oidc-provider"))).start()
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[RedisServer]:
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


def start_oidc_server(provider: ProviderProcess, tmp_path: Path, name: str, redis_url: str | None = None) -> ServerProcess:
    """A real `whistle serve` process in WHISTLE_AUTH=oidc, registered with `provider`."""
    port = free_port()
    client_id, secret = provider.register(f"http://127.0.0.1:{port}/auth/callback")
    env = whistle_env(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db",
        auth="oidc",
        oidc_issuer=provider.issuer,
        oidc_client_id=client_id,
        oidc_client_secret=secret,
        redis_url=redis_url,
    )
    return ServerProcess(name, port, env, tmp_path).start()


@pytest.fixture
def oidc_server(oidc_provider: ProviderProcess, private_redis: RedisServer, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real `whistle serve` process in WHISTLE_AUTH=oidc with WHISTLE_REDIS_URL (no ERROR logged)."""
    process = start_oidc_server(oidc_provider, tmp_path, "oidc", private_redis.url)
    yield process
    output = process.stop()
    assert " ERROR " not in output and "Traceback" not in output, output
