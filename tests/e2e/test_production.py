"""Production defaults (WHISTLE_ENV=production): no introspection but federation's
`_service`, no "Did you mean" hints, no GraphiQL, no queries over GET; mutations are never
run over GET; CORS answers the configured origins only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from app.config import Settings
from app.security.authn import mint_local_token
from app.security.identity import Role
from tests.e2e.conftest import running_app

REFEREE_ID = "2ef28cf5-6471-4051-ae11-0f419aef3234"

# Operations whose graphql-core errors suggest names in development.
MISSPELLED = [
    ("{ referes { id } }", None),  # unknown field
    ("{ referees { nmae } }", None),  # unknown field on a type
    ("{ fixtures(frist: 3) { totalCount } }", None),  # unknown argument
    ("{ assignments(status: STAGD) { role } }", None),  # unknown enum literal
    ("query($s: AssignmentStatus) { assignments(status: $s) { role } }", {"s": "COMMITED"}),  # enum variable
    ("query($s: AsignmentStatus) { assignments(status: $s) { role } }", None),  # unknown type
    ("mutation { createTeam(input: {nam: \"A\", club: \"B\"}) { id } }", None),  # unknown input field
    (
        "mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }",
        {"i": {"nam": "A", "club": "B"}},
    ),  # unknown input field in a variable
    ("{ referees { ... on Fixtur { id } } }", None),  # unknown type condition
    ("{ fixture(id: \"x\") { venue { ... on Team { nme } } } }", None),
]


def production_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db",
        seed_demo=False,
        env="production",
        jwt_local_keys=str(tmp_path / "keys"),
        **overrides,
    )


@pytest.fixture
def prod_settings(tmp_path: Path) -> Settings:
    return production_settings(tmp_path)


@pytest.fixture
async def prod(prod_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a production app, authenticated as ADMIN with a locally signed token."""
    token = mint_local_token(prod_settings, Role.ADMIN)
    async with running_app(prod_settings) as http:
        http.headers["authorization"] = f"Bearer {token}"
        yield http


@pytest.fixture
async def dev(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/dev.db", seed_demo=False)) as http:
        yield http


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_the_introspection_query_is_refused_in_production(prod: httpx.AsyncClient) -> None:
    response = await prod.post("/graphql", json={"query": get_introspection_query()})
    body = response.json()
    assert body.get("data") is None
    assert codes(body) and set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert any("introspection" in e["message"].lower() for e in body["errors"]), body

    for query in ["{ __type(name: \"Referee\") { name fields { name } } }", "{ referees { id } __schema { types { name } } }"]:
        body = (await prod.post("/graphql", json={"query": query})).json()
        assert codes(body) and set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, body
        assert body.get("data") is None


async def test_federation_service_sdl_and_typename_stay_available_in_production(prod: httpx.AsyncClient) -> None:
    body = (await prod.post("/graphql", json={"query": "{ _service { sdl } __typename }"})).json()
    assert "errors" not in body, body
    assert 'type Referee @key(fields: "id")' in body["data"]["_service"]["sdl"]
    assert body["data"]["__typename"] == "Query"


async def test_introspection_stays_available_in_development(dev: httpx.AsyncClient) -> None:
    body = (await dev.post("/graphql", json={"query": get_introspection_query()})).json()
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


@pytest.mark.parametrize(("query", "variables"), MISSPELLED)
async def test_no_error_suggests_a_name_in_production(
    prod: httpx.AsyncClient, query: str, variables: dict[str, Any] | None
) -> None:
    body = (await prod.post("/graphql", json={"query": query, "variables": variables})).json()
    assert body.get("errors"), body
    for error in body["errors"]:
        assert "did you mean" not in error["message"].lower(), error
        assert error["message"].strip(), error  # a message remains


async def test_development_still_suggests_names(dev: httpx.AsyncClient) -> None:
    body = (await dev.post("/graphql", json={"query": "{ referes { id } }"})).json()
    assert "Did you mean" in body["errors"][0]["message"] and "'referees'" in body["errors"][0]["message"]


async def test_graphiql_is_absent_in_production(prod: httpx.AsyncClient, dev: httpx.AsyncClient) -> None:
    page = await prod.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "graphiql" not in page.text.lower()
    assert page.headers["content-type"].startswith("application/json")
    assert codes(page.json()) == ["BAD_REQUEST"]

    page = await dev.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_queries_over_get_are_refused_in_production_and_served_in_development(
    prod: httpx.AsyncClient, dev: httpx.AsyncClient
) -> None:
    response = await prod.get("/graphql", params={"query": "{ referees { id } }"})
    assert response.status_code == 400
    body = response.json()
    assert codes(body) == ["BAD_REQUEST"]
    assert "GET" in body["errors"][0]["message"], body

    response = await dev.get("/graphql", params={"query": "{ referees { id } }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"referees": []}}


@pytest.mark.parametrize("mode", ["prod", "dev"])
async def test_a_mutation_over_get_is_always_refused_and_changes_nothing(
    mode: str, prod: httpx.AsyncClient, dev: httpx.AsyncClient
) -> None:
    http = prod if mode == "prod" else dev
    mutation = 'mutation { createTeam(input: {name: "Over GET", club: "Nope"}) { id } }'
    response = await http.get("/graphql", params={"query": mutation})
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]
    assert re.search(r"mutations? .*GET", response.json()["errors"][0]["message"], re.I), response.text
    teams = (await http.post("/graphql", json={"query": "{ teams { name } }"})).json()
    assert teams == {"data": {"teams": []}}


async def test_cors_answers_listed_origins_only(tmp_path: Path) -> None:
    settings = production_settings(tmp_path, cors_origins="https://admin.example.org, https://ref.example.org")
    async with running_app(settings) as http:
        preflight = {"access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type"}
        allowed = await http.options("/graphql", headers={"origin": "https://ref.example.org", **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://ref.example.org"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()

        refused = await http.options("/graphql", headers={"origin": "https://evil.example.com", **preflight})
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        simple = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.example.com"})
        assert "access-control-allow-origin" not in simple.headers


async def test_without_configured_origins_there_are_no_cors_headers(dev: httpx.AsyncClient) -> None:
    preflight = {"origin": "https://admin.example.org", "access-control-request-method": "POST"}
    response = await dev.options("/graphql", headers=preflight)
    assert not any(name.startswith("access-control-") for name in response.headers)
    response = await dev.post("/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://admin.example.org"})
    assert not any(name.startswith("access-control-") for name in response.headers)


async def test_unexpected_errors_are_masked_with_a_correlation_id_in_production(
    prod: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from app.repos import reads

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("SELECT secret FROM referees -- boom")

    monkeypatch.setattr(reads, "all_referees", broken)
    body = (await prod.post("/graphql", json={"query": "{ referees { id } }"})).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    correlation_id = error["extensions"]["correlationId"]
    assert "SELECT" not in error["message"] and correlation_id in error["message"]
    logged = [r for r in caplog.records if getattr(r, "correlation_id", None) == correlation_id]
    assert logged and logged[0].name == "whistle.errors"
