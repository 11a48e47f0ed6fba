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


@pytest.fixture(params=["memory", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class App:
    app: Starlette
    http: httpx.AsyncClient

    @property
    def sessions(self) -> Sessions:
        sessions = self.app.state.sessions
        assert sessions is not None
        return sessions

    async def sign_in(self, user: str = "referee", return_to: str = "/") -> httpx.Response:
        """The whole sign-in over HTTP; the response of /auth/callback."""
        login = await self.http.get("/auth/login", params={"return_to": return_to})
        assert login.status_code == 302, login.text
        callback = await provider_login(login.headers["location"], user)
        assert callback.startswith(f"{BASE_URL}/auth/callback?"), callback
        return await self.http.get(callback)

    async def status(self) -> dict[str, Any]:
        response = await self.http.get("/auth/status")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())


OpenApp = Callable[..., AbstractAsyncContextManager[App]]


@pytest.fixture
def oidc_settings(oidc_provider: ProviderProcess, tmp_path: Path) -> Callable[..., Settings]:
    """Settings of a Whistle app signing in at the test provider with a client of its own."""
    client_id, secret = oidc_provider.register(f"{BASE_URL}/auth/callback")

    def settings(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path}/whistle.db",
            "seed_demo": True,
            "auth": "oidc",
            "oidc_issuer": oidc_provider.issuer,
            "oidc_client_id": client_id,
            "oidc_client_secret": secret,
            "rate_limit_points": 0,
        }
        return Settings(**{**values, **overrides})

    return settings


@asynccontextmanager
async def running(settings: Settings, session_redis_url: str | None = None) -> AsyncIterator[App]:
    application = create_app(settings)
    if session_redis_url is not None:
        application.state.sessions.store = RedisSessionStore(session_redis_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield App(application, http)


@pytest.fixture
def open_app(oidc_settings: Callable[..., Settings], store_kind: str, request: pytest.FixtureRequest) -> OpenApp:
    """`async with open_app(**settings) as app:` a Whistle instance (instances share the database and Redis)."""
    redis_url = request.getfixturevalue("private_redis").url if store_kind == "redis" else None

    def open_(**overrides: Any) -> AbstractAsyncContextManager[App]:
        return running(oidc_settings(**overrides), redis_url)

    return open_


@pytest.fixture
async def whistle(open_app: OpenApp) -> AsyncIterator[App]:
    async with open_app() as app:
        yield app


@pytest.fixture(autouse=True)
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """An ERROR logged by the server is a bug."""
    caplog.set_level(logging.INFO)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith(("whistle", "uvicorn"))]
    assert not errors, [r.getMessage() for r in errors]
