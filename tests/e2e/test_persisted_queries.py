"""Automatic persisted queries (Apollo APQ) over real HTTP against `whistle serve`, with the
in-process store and with Redis (where a second server process finds what the first stored)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.e2e.conftest import running_app
from tests.e2e.processes import ServerProcess, whistle_env
from tests.integration.bus_fixtures import free_port, require_redis

pytestmark = pytest.mark.e2e

TTL = 3  # seconds a stored text lives in these servers


def operation() -> tuple[str, str]:
    """A query text no other test (or earlier run, in Redis) has stored, and its hash."""
    query = f"query Page($n: Int) {{ fixtures(first: $n) {{ edges {{ node {{ id }} }} }} }} # {uuid.uuid4()}"
    return query, hashlib.sha256(query.encode()).hexdigest()


def persisted(digest: str, version: int = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


@contextmanager
def servers(tmp_path: Path, count: int, **settings: Any) -> Iterator[list[ServerProcess]]:
    env = whistle_env(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", apq_ttl_seconds=TTL, rate_limit_points=0, **settings
    )
    with ExitStack() as stack:
        started = []
        for index in range(count):
            server = ServerProcess(f"apq{index}", free_port(), env, tmp_path).start(timeout=60)
            stack.callback(server.stop)
            started.append(server)
        yield started


async def check_protocol(http: httpx.AsyncClient, others: list[httpx.AsyncClient]) -> None:
    query, digest = operation()
    variables = {"n": 2}

    # Unknown hash, no text: the client is told to send the text.
    response = await http.post("/graphql", json={"extensions": persisted(digest), "variables": variables})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_FOUND"}

    # A text that does not hash to the hash is refused and not stored.
    wrong = {"query": query + " ", "extensions": persisted(digest), "variables": variables}
    response = await http.post("/graphql", json=wrong)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_HASH_MISMATCH"}
    response = await http.post("/graphql", json={"extensions": persisted(digest), "variables": variables})
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    # Text and hash: run and stored; from then on the hash alone runs it (POST and GET, other instances).
    response = await http.post("/graphql", json={"query": query, "extensions": persisted(digest), "variables": variables})
    expected = response.json()
    assert response.status_code == 200 and "errors" not in expected
    assert len(expected["data"]["fixtures"]["edges"]) == 2
    for client in [http, *others]:
        response = await client.post("/graphql", json={"extensions": persisted(digest), "variables": variables})
        assert response.json() == expected
    params = {"extensions": json.dumps(persisted(digest)), "variables": json.dumps(variables)}
    response = await http.get("/graphql", params=params, headers={"accept": "application/json"})
    assert response.json() == expected

    # Versions other than 1, and malformed hashes.
    response = await http.post("/graphql", json={"extensions": persisted(digest, version=2)})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}
    response = await http.post("/graphql", json={"query": query, "extensions": persisted("abc")})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST", "reason": "PERSISTED_QUERY_INVALID"}

    # The TTL: after it the text is gone.
    await asyncio.sleep(TTL + 0.5)
    response = await http.post("/graphql", json={"extensions": persisted(digest), "variables": variables})
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_with_the_in_process_store(tmp_path: Path) -> None:
    with servers(tmp_path, 1) as [server]:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False) as http:
            await check_protocol(http, others=[])


async def test_apq_with_redis_is_shared_by_every_instance(tmp_path: Path) -> None:
    redis_url = await require_redis()
    with servers(tmp_path, 2, redis_url=redis_url) as [first, second]:
        async with (
            httpx.AsyncClient(base_url=first.url, trust_env=False) as http,
            httpx.AsyncClient(base_url=second.url, trust_env=False) as other,
        ):
            await check_protocol(http, others=[other])


async def test_the_in_process_store_is_per_instance(tmp_path: Path) -> None:
    """Without Redis a second instance has not seen the text: it asks for it (the protocol recovers)."""
    query, digest = operation()
    with servers(tmp_path, 2) as [first, second]:
        async with httpx.AsyncClient(trust_env=False) as http:
            stored = await http.post(f"{first.url}/graphql", json={"query": query, "extensions": persisted(digest)})
            assert "errors" not in stored.json()
            response = await http.post(f"{second.url}/graphql", json={"extensions": persisted(digest)})
            assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_off_answers_not_supported(tmp_path: Path) -> None:
    query, digest = operation()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db", seed_demo=False, apq_ttl_seconds=0)
    async with running_app(settings) as http:
        for body in ({"extensions": persisted(digest)}, {"query": query, "extensions": persisted(digest)}):
            response = await http.post("/graphql", json=body)
            assert response.status_code == 200
            assert response.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}
        # Requests without the extension are untouched.
        assert (await http.post("/graphql", json={"query": "{ __typename }"})).json() == {"data": {"__typename": "Query"}}
