"""Operation limits over HTTP: the body limit (413), the query text limit, batching
(refused), the execution timeout, and PostgreSQL's statement_timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from graphql import GraphQLError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import app.server
from app.config import Settings
from app.repos.engine import create_engine
from app.schema.errors import classify
from app.server import create_app
from tests.e2e.helpers import assert_no_leak

TYPENAME = {"query": "{ __typename }"}


@asynccontextmanager
async def whistle(tmp_path: Path, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a fresh app (embedded SQLite in tmp_path) whose lifespan runs around it."""
    overrides = {"seed_demo": False, **overrides}
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", **overrides)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with whistle(tmp_path) as client:
        yield client


def padded(size: int) -> bytes:
    """A valid JSON request of exactly `size` bytes (whitespace after the object)."""
    body = orjson.dumps(TYPENAME)
    return body + b" " * (size - len(body))


def the_error(response: httpx.Response) -> dict[str, Any]:
    assert_no_leak(response)
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


async def test_a_body_of_1_mb_passes_and_one_byte_more_is_413(http: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/json"}
    response = await http.post("/graphql", content=padded(1_000_000), headers=headers)
    assert response.status_code == 200 and response.json() == {"data": {"__typename": "Query"}}

    response = await http.post("/graphql", content=padded(1_000_001), headers=headers)
    assert response.status_code == 413
    error = the_error(response)
    assert error["extensions"] == {"code": "BAD_REQUEST", "reason": "BODY_LIMIT"}
    assert "1000000 bytes" in error["message"]


async def test_a_body_without_content_length_is_counted_as_it_arrives(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        body = padded(1_000_001)
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await http.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert the_error(response)["extensions"]["reason"] == "BODY_LIMIT"


async def test_query_text_at_the_limit_passes_and_just_over_is_refused(http: httpx.AsyncClient) -> None:
    text_at_limit = "{ __typename }".ljust(15_000)
    response = await http.post("/graphql", json={"query": text_at_limit})
    assert response.json() == {"data": {"__typename": "Query"}}

    response = await http.post("/graphql", json={"query": text_at_limit + " "})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    error = the_error(response)
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED", "reason": "QUERY_LENGTH_LIMIT"}


async def test_a_limit_refusal_over_http_is_a_validation_error(http: httpx.AsyncClient) -> None:
    query = "{ referees { availableFixtures { availableReferees { availableFixtures { id } } } } }"
    response = await http.post("/graphql", json={"query": query})
    error = the_error(response)
    assert response.json()["data"] is None
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED", "reason": "COST_LIMIT"}


async def test_the_limits_follow_the_settings(tmp_path: Path) -> None:
    async with whistle(tmp_path, max_body_bytes=100, max_depth=1) as client:
        response = await client.post("/graphql", json={"query": "{ teams { id } }"})
        assert the_error(response)["extensions"]["reason"] == "DEPTH_LIMIT"
        response = await client.post("/graphql", json={"query": "{ __typename }", "variables": {"x": "y" * 100}})
        assert response.status_code == 413


async def test_batches_of_several_operations_are_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json=[TYPENAME, TYPENAME])
    assert response.status_code == 400
    assert the_error(response)["extensions"] == {"code": "BAD_REQUEST"}


SLOW = "{ fixtures(first: 500) { totalCount edges { node { id date venue { name } teamHome { name } } } } }"


async def test_an_operation_running_past_the_execution_timeout_is_stopped(tmp_path: Path) -> None:
    async with whistle(tmp_path, seed_demo=True) as client:  # the demo league: about 240 fixtures
        page = (await client.post("/graphql", json={"query": SLOW})).json()
        assert "errors" not in page and len(page["data"]["fixtures"]["edges"]) > 200

    async with whistle(tmp_path, execution_timeout_seconds=0.001) as client:
        response = await client.post("/graphql", json={"query": SLOW})
        assert response.status_code == 200
        assert response.json()["data"] is None
        error = the_error(response)
        assert error["extensions"] == {"code": "TIMEOUT", "reason": "EXECUTION_TIMEOUT"}
        assert "0.001 seconds" in error["message"]

    async with whistle(tmp_path) as client:  # nothing was left broken
        assert (await client.post("/graphql", json={"query": SLOW})).json()["data"]["fixtures"] == page["data"]["fixtures"]


@pytest.mark.postgres
async def test_the_statement_timeout_is_set_on_postgresql_connections(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = postgres_url  # statement_timeout is a PostgreSQL setting
    given: dict[str, Any] = {}

    def recording_create_engine(url: str, **kwargs: Any) -> Any:
        given.update(kwargs)
        return create_engine(url, **kwargs)

    monkeypatch.setattr(app.server, "create_engine", recording_create_engine)
    create_app(Settings(database_url=database_url, seed_demo=False, statement_timeout_ms=1234))
    assert given["statement_timeout_ms"] == 1234

    engine = create_engine(database_url, statement_timeout_ms=50)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SHOW statement_timeout"))).scalar() == "50ms"
            with pytest.raises(DBAPIError) as raised:
                await conn.execute(text("SELECT pg_sleep(1)"))
    finally:
        await engine.dispose()
    # a statement stopped by the timeout reaches the client as TIMEOUT, not as an internal error
    error = GraphQLError(str(raised.value), path=["fixtures"], original_error=raised.value)
    assert classify(error, executed=True).extensions == {"code": "TIMEOUT", "reason": "STATEMENT_TIMEOUT"}
