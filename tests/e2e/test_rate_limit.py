"""Rate limiting: a points budget per caller per minute (query 1, mutation 5); over HTTP
429 with Retry-After and code RATE_LIMITED when it is spent, in-process and in Redis; over
a WebSocket (both protocols, a real server process) an `error` message for the refused
operation, the socket staying open."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from app.config import Settings
from app.security import ratelimit
from app.security.authn import mint_local_token
from app.security.identity import Role
from app.security.ratelimit import RedisRateLimiter
from tests.e2e.conftest import running_app
from tests.e2e.processes import LEGACY_WS, TRANSPORT_WS, ServerProcess, WsClient, whistle_env
from tests.integration.bus_fixtures import free_port, require_redis

QUERY = {"query": "{ referees { id } }"}
MUTATION = {"query": "mutation { lockAvailabilities { locked } }"}
COMMITS = "subscription { assignmentsCommitted { id } }"


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo=False, **overrides)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str | None]:
    """None (in-process counters) or a Redis URL, with a key prefix of this test's own."""
    if request.param == "memory":
        yield None
        return
    url = await require_redis()
    prefix = f"whistle:test:ratelimit:{uuid.uuid4().hex}:"
    monkeypatch.setattr(ratelimit, "KEY_PREFIX", prefix)
    yield url
    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert body["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
    assert f"{retry_after} s" in body["errors"][0]["message"]
    assert "data" not in body


async def test_queries_cost_one_point_mutations_five_then_429(tmp_path: Path, backend: str | None) -> None:
    async with running_app(settings_for(tmp_path, rate_limit_points=12, redis_url=backend)) as http:
        for _ in range(2):
            assert (await http.post("/graphql", json=MUTATION)).status_code == 200  # 10 points
        assert (await http.post("/graphql", json=QUERY)).status_code == 200  # 11
        assert (await http.get("/graphql", params=QUERY)).status_code == 200  # 12: GET queries count too
        assert_rate_limited(await http.post("/graphql", json=QUERY))
        assert_rate_limited(await http.post("/graphql", json=MUTATION))
        # What is not an operation is not limited.
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200


async def test_each_token_subject_has_its_own_budget(tmp_path: Path, backend: str | None) -> None:
    settings = settings_for(tmp_path, rate_limit_points=5, redis_url=backend, jwt_local_keys=str(tmp_path / "keys"))
    one = mint_local_token(settings, Role.ADMIN)  # subject whistle-local-admin
    two = mint_local_token(settings, Role.REFEREE, uuid.uuid4())  # subject referee:<id>
    async with running_app(settings) as http:
        assert (await http.post("/graphql", json=MUTATION, headers={"authorization": f"Bearer {one}"})).status_code == 200
        assert_rate_limited(await http.post("/graphql", json=QUERY, headers={"authorization": f"Bearer {one}"}))
        # No token: the client address has a budget of its own (dev mode's implicit ADMIN).
        assert (await http.post("/graphql", json=MUTATION)).status_code == 200
        assert_rate_limited(await http.post("/graphql", json=QUERY))
        # Another subject: a budget of its own (whatever the policy then says of its query).
        assert (await http.post("/graphql", json=QUERY, headers={"authorization": f"Bearer {two}"})).status_code == 200


async def test_zero_points_turns_rate_limiting_off(tmp_path: Path) -> None:
    async with running_app(settings_for(tmp_path, rate_limit_points=0)) as http:
        for _ in range(30):
            assert (await http.post("/graphql", json=MUTATION)).status_code == 200


async def test_the_redis_counter_expires_with_its_window() -> None:
    url = await require_redis()
    prefix = f"whistle:test:ratelimit:{uuid.uuid4().hex}:"
    now = [60 * 20_000_000 + 59.5]
    limiter = RedisRateLimiter(url, 5, prefix=prefix, clock=lambda: now[0])
    client = Redis.from_url(url)
    try:
        assert (await limiter.spend("ip:1", 5)).allowed
        refused = await limiter.spend("ip:1", 1)
        assert not refused.allowed and refused.retry_after == 1
        (key,) = [k async for k in client.scan_iter(match=prefix + "*")]
        assert 0 < await client.ttl(key) <= 65
        now[0] += 1
        assert (await limiter.spend("ip:1", 5)).allowed  # a new window
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await limiter.close()


async def test_an_unreachable_redis_allows_requests_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", 1)  # nothing listens on port 1
    try:
        with caplog.at_level(logging.WARNING, logger="whistle.ratelimit"):
            for _ in range(3):
                assert (await limiter.spend("ip:1", 5)).allowed
        warnings = [r for r in caplog.records if r.name == "whistle.ratelimit"]
        assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    finally:
        await limiter.close()


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_operations_over_a_websocket_spend_the_same_budget(tmp_path: Path, protocol: str) -> None:
    env = whistle_env(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo=0, rate_limit_points=3)
    server = ServerProcess("ratelimit", free_port(), env, tmp_path).start()
    try:
        async with WsClient.open(server.ws_url, protocol) as ws:
            # A subscription costs 1 point, like a query (the legacy protocol carries nothing else).
            accepted = [await ws.subscribe(COMMITS) for _ in range(3)]
            refused = await ws.next(await ws.subscribe(COMMITS))  # the 4th point: over the budget
            assert refused is not None and refused.get("error_message")
            (error,) = refused["errors"]
            assert error["extensions"] == {"code": "RATE_LIMITED"} and "retry in" in error["message"]
            assert all(ws.pending(op) == [] for op in accepted)  # messages come in order: they were not refused
            # The socket stays open and the budget is shared with HTTP: the caller is the same address.
            async with httpx.AsyncClient(base_url=server.url, trust_env=False) as http:
                assert_rate_limited(await http.post("/graphql", json=QUERY))
            await ws.stop(accepted[0])
            assert not ws.closed.is_set()
        server.stop()
    finally:
        server.kill()
