"""What a misbehaving or unreachable provider, and an unreachable Redis, do to signing in:
a clear error, nothing stored, no session lost."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.integration.bus_fixtures import RedisServer, free_port
from tests.oidc.conftest import ORIGIN, App, running
from tests.oidc.fake_provider import CLIENT_ID, ISSUER, FakeProvider
from tests.oidc.provider_process import query_of

pytestmark = pytest.mark.e2e

COOKIE = "whistle_session"
ADMIN_ONLY = "{ venues { name } }"


def fake_settings(tmp_path: Path, **overrides: object) -> Settings:
    values = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/whistle.db",
        "seed_demo": False,
        "auth": "oidc",
        "oidc_issuer": ISSUER,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": "fake-secret",
        "rate_limit_points": 0,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
async def whistle(fake: FakeProvider, tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[App]:
    redis_url = request.getfixturevalue("private_redis").url if store_kind == "redis" else None
    async with running(fake_settings(tmp_path), redis_url) as app:
        app.sessions.oidc.transport = httpx.ASGITransport(app=fake.app)
        yield app


async def sign_in(whistle: App, fake: FakeProvider) -> httpx.Response:
    login = await whistle.http.get("/auth/login", params={"return_to": "/#/board"})
    assert login.status_code == 302
    state = query_of(login.headers["location"])["state"]
    return await whistle.http.get("/auth/callback", params={"code": fake.code_for(login.headers["location"]), "state": state})


async def test_the_fake_provider_signs_in_when_it_behaves(whistle: App, fake: FakeProvider) -> None:
    answer = await sign_in(whistle, fake)
    assert answer.status_code == 302 and answer.headers["location"] == "/#/board"
    assert (await whistle.status())["roles"] == ["ADMIN"]


@pytest.mark.parametrize(
    ("defect", "why"),
    [
        ("nonce", "nonce does not match"),
        ("iss", "issuer this server does not trust"),
        ("aud", "meant for another audience"),
        ("key", "signature does not verify"),
    ],
)
async def test_a_bad_id_token_creates_no_session(whistle: App, fake: FakeProvider, defect: str, why: str) -> None:
    fake.defect = defect
    answer = await sign_in(whistle, fake)
    assert answer.status_code == 400
    assert "text/html" in answer.headers["content-type"]
    assert "ID token" in answer.text and why in answer.text
    assert COOKIE not in whistle.http.cookies


async def test_provider_down_during_login_is_a_502_page_and_stores_nothing(tmp_path: Path) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    async with running(fake_settings(tmp_path, oidc_issuer=unreachable)) as whistle:
        answer = await whistle.http.get("/auth/login")
        assert answer.status_code == 502 and "cannot be reached" in answer.text
        assert whistle.sessions.store._logins == {}  # type: ignore[attr-defined]


async def test_provider_down_during_the_code_exchange_is_a_502_page(whistle: App, fake: FakeProvider) -> None:
    login = await whistle.http.get("/auth/login")
    code, state = fake.code_for(login.headers["location"]), query_of(login.headers["location"])["state"]
    fake.down = True
    answer = await whistle.http.get("/auth/callback", params={"code": code, "state": state})
    assert answer.status_code == 502 and "cannot be reached" in answer.text
    assert COOKIE not in whistle.http.cookies


async def test_provider_down_during_refresh_is_a_clear_503_and_keeps_the_session(whistle: App, fake: FakeProvider) -> None:
    await sign_in(whistle, fake)
    session_id = whistle.http.cookies[COOKIE]
    fake.down = True
    await asyncio.sleep(fake.access_ttl + 0.5)

    answer = await whistle.http.post("/graphql", json={"query": ADMIN_ONLY})
    assert answer.status_code == 503
    assert answer.json()["errors"][0]["extensions"] == {"code": "SERVICE_UNAVAILABLE", "reason": "IDP_UNAVAILABLE"}
    assert (await whistle.http.post("/auth/refresh", headers=ORIGIN)).status_code == 503
    assert await whistle.sessions.store.get(session_id) is not None

    fake.down = False
    answer = await whistle.http.post("/graphql", json={"query": ADMIN_ONLY})
    assert answer.status_code == 200 and "errors" not in answer.json()


# --- Redis down ----------------------------------------------------------------------------


@pytest.fixture
def pausable_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test pauses (SIGSTOP) and resumes."""
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port())
    server.start()
    yield server
    os.kill(server._process.pid, signal.SIGCONT)  # type: ignore[union-attr]
    server.stop()


@pytest.mark.parametrize("store_kind", ["redis"])
async def test_redis_down_is_a_clear_503_and_no_session_is_lost(
    fake: FakeProvider, tmp_path: Path, pausable_redis: RedisServer, store_kind: str
) -> None:
    async with running(fake_settings(tmp_path), pausable_redis.url) as whistle:
        whistle.sessions.oidc.transport = httpx.ASGITransport(app=fake.app)
        await sign_in(whistle, fake)
        assert (await whistle.status())["signedIn"] is True

        os.kill(pausable_redis._process.pid, signal.SIGSTOP)  # type: ignore[union-attr]
        try:
            status = await whistle.http.get("/auth/status")
            query = await whistle.http.post("/graphql", json={"query": ADMIN_ONLY})
            login = await whistle.http.get("/auth/login")
        finally:
            os.kill(pausable_redis._process.pid, signal.SIGCONT)  # type: ignore[union-attr]

        assert status.status_code == 503
        assert status.json()["errors"][0]["extensions"] == {
            "code": "SERVICE_UNAVAILABLE", "reason": "SESSION_STORE_UNAVAILABLE"
        }
        assert query.status_code == 503 and query.headers["retry-after"] == "5"
        assert login.status_code == 503 and "try again" in login.text
        assert COOKIE in whistle.http.cookies  # the browser keeps its cookie
        assert (await whistle.status())["signedIn"] is True  # back: the session is still there
        answer = await whistle.http.post("/graphql", json={"query": ADMIN_ONLY})
        assert answer.status_code == 200 and "errors" not in answer.json()
