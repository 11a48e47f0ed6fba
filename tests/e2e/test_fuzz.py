"""A property-based fuzz of the whole schema (hypothesis-graphql) against the application
in production mode, on the demo league: valid operations (every root field, arguments
drawn from real ids, malformed ids, odd date-times, odd text) and operations with one
schema violation. Whatever it sends, the answer is never a 5xx, never a stack trace,
SQL text or a "Did you mean" hint, and every error carries one of the documented codes
(INTERNAL_SERVER_ERROR would be a bug).

Bounded: FUZZ_EXAMPLES operations (WHISTLE_FUZZ_EXAMPLES overrides), well under a minute.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from app.config import Settings
from app.api import build_schema
from app.security.authn import mint_local_token
from app.security.identity import Role
from app.server import create_app

FUZZ_EXAMPLES = int(os.environ.get("WHISTLE_FUZZ_EXAMPLES", "400"))
TIME_BUDGET_SECONDS = 45.0  # examples stop being checked after this (the run then ends quickly)

DOCUMENTED_CODES = {
    "BAD_REQUEST",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "CONFLICT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
}
_LEAKS = re.compile(
    r"Traceback|File \"|sqlalchemy|asyncpg|aiosqlite|sqlite3|psycopg|Did you mean"
    r"|\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b"
)
ENTITIES = ("Referee", "Team", "Venue", "Fixture")


def _string(values: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.StringValueNode]:
    return values.map(lambda value: graphql.StringValueNode(value=value))


def id_values(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known).map(str.upper),
        st.uuids().map(str),
        st.sampled_from(["", " ", "0", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "{" + known[0] + "}"]),
        st.text(max_size=40),
    )


def datetime_values() -> st.SearchStrategy[str]:
    valid = st.datetimes(
        min_value=__import__("datetime").datetime(1, 1, 2), max_value=__import__("datetime").datetime(9999, 12, 30)
    ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000).isoformat(timespec="seconds") + "+00:00")
    return st.one_of(
        valid,
        st.sampled_from(
            [
                "2026-10-03T18:30:00+02:00",
                "2026-10-03T18:30:00Z",
                "2026-10-03T18:30:00.250Z",
                "2026-02-30T10:00:00Z",
                "2026-10-03T24:00:00Z",
                "2026-10-03T18:30:00+25:00",
                "2026-10-03T18:30",
                "2026-10-03",
                "0001-01-01T00:00:00+14:00",
                "9999-12-31T23:59:59-14:00",
                "",
            ]
        ),
        st.text(max_size=30),
    )


def any_values(known: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    """`_Any` representations of `_entities`: mostly well-formed, sometimes not."""
    representation = st.builds(
        lambda typename, id_: graphql.ObjectValueNode(
            fields=(
                graphql.ObjectFieldNode(name=graphql.NameNode(value="__typename"), value=graphql.StringValueNode(value=typename)),
                graphql.ObjectFieldNode(name=graphql.NameNode(value="id"), value=graphql.StringValueNode(value=id_)),
            )
        ),
        st.sampled_from([*ENTITIES, "Assignment", "Nope", ""]),
        id_values(known),
    )
    odd = st.one_of(
        _string(st.text(max_size=20)),
        st.integers(-10, 10).map(lambda n: graphql.IntValueNode(value=str(n))),
        st.just(graphql.ObjectValueNode(fields=())),
        st.just(graphql.ListValueNode(values=())),
    )
    return st.one_of(representation, representation, odd)


def operations(known: list[str]) -> st.SearchStrategy[str]:
    schema = build_schema()._schema
    scalars = {
        "ID": _string(id_values(known)),
        "DateTime": _string(datetime_values()),
        "_Any": any_values(known),
    }
    common: dict[str, Any] = {"custom_scalars": scalars, "allow_x00": True}
    return st.one_of(
        from_schema(schema, mode=Mode.POSITIVE, **common),
        from_schema(schema, mode=Mode.NEGATIVE, **common),
    )  # type: ignore[return-value]


class AppClient:
    """A production-mode app with the demo league, on its own event loop, called synchronously."""

    def __init__(self, settings: Settings, token: str) -> None:
        self._runner = asyncio.Runner()
        self._settings, self._token = settings, token

    def __enter__(self) -> AppClient:
        self._runner.__enter__()
        self.http = self._runner.run(self._start())
        return self

    async def _start(self) -> httpx.AsyncClient:
        self._app = create_app(self._settings)
        self._lifespan = self._app.router.lifespan_context(self._app)
        await self._lifespan.__aenter__()
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self._app),
            base_url="http://localhost",
            headers={"authorization": f"Bearer {self._token}"},
        )

    def post(self, body: dict[str, Any]) -> httpx.Response:
        return self._runner.run(self.http.post("/graphql", json=body))

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            await self.http.aclose()
            await self._lifespan.__aexit__(None, None, None)

        try:
            self._runner.run(stop())
        finally:
            self._runner.__exit__(None, None, None)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppClient]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    fuzz_settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp}/whistle.db",
        seed_demo=True,
        env="production",
        jwt_local_keys=str(tmp / "keys"),
        rate_limit_points=0,  # the fuzz is one caller sending hundreds of operations
    )
    with AppClient(fuzz_settings, mint_local_token(fuzz_settings, Role.ADMIN)) as client:
        yield client


def known_ids(client: AppClient) -> list[str]:
    body = client.post(
        {
            "query": "{ referees { id notifications(first: 3) { id } } teams { id } venues { id }"
            " fixtures(first: 20) { edges { node { id } } } }"
        }
    ).json()
    data = body["data"]
    ids = [r["id"] for r in data["referees"][:10]] + [t["id"] for t in data["teams"][:5]]
    ids += [v["id"] for v in data["venues"][:5]] + [e["node"]["id"] for e in data["fixtures"]["edges"]]
    ids += [n["id"] for r in data["referees"][:10] for n in r["notifications"]]
    assert len(ids) > 30, body
    return ids


def check(query: str, response: httpx.Response) -> None:
    shown = f"\nquery: {query[:2000]}\nresponse: {response.text[:2000]}"
    assert response.status_code < 500, f"HTTP {response.status_code}{shown}"
    leaked = _LEAKS.search(response.text)
    assert leaked is None, f"the response leaks {leaked.group(0)!r}{shown}"
    body = response.json()
    assert isinstance(body, dict), shown
    if response.status_code != 200:
        assert response.status_code in (400, 413), shown
    for error in body.get("errors") or ():
        code = (error.get("extensions") or {}).get("code")
        assert code != "INTERNAL_SERVER_ERROR", f"an unexpected server error (a bug){shown}"
        assert code in DOCUMENTED_CODES, f"undocumented error code {code!r}{shown}"
        assert error.get("message"), shown


# When a non-null root field fails, graphql-core cancels its siblings; a sibling cancelled
# while SQLAlchemy opens a new pool connection leaves that connection to the garbage
# collector, which terminates it with this warning (SQLAlchemy's asyncio cancellation
# limitation; no answer changes). Seen with the embedded SQLite on a cold pool.
@pytest.mark.filterwarnings("ignore:The garbage collector is trying to clean up non-checked-in connection")
def test_fuzzing_the_schema_never_gives_a_5xx_a_leak_or_an_undocumented_error(app_client: AppClient) -> None:
    ids = known_ids(app_client)
    started = time.monotonic()
    checked = 0

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,  # one slow operation is not a failure; the time budget bounds the run
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(query=operations(ids))
    def fuzz(query: str) -> None:
        nonlocal checked
        if time.monotonic() - started > TIME_BUDGET_SECONDS:
            return
        check(query, app_client.post({"query": query}))
        checked += 1

    fuzz()
    gc.collect()  # what the fuzz left to the garbage collector goes now, under the filter above
    assert checked >= min(FUZZ_EXAMPLES, 50), f"only {checked} operations were checked"


# --- text no database can store, through variables (both backends) --------------------------------

TEXT_INPUTS = [
    ("mutation($v: String!) { createReferee(input: {name: $v, club: \"VC\"}) { id } }", "INVALID_TEXT"),
    ("mutation($v: String!) { createTeam(input: {name: \"T\", club: $v}) { id } }", "INVALID_TEXT"),
    (
        "mutation($v: String!) { createVenue(input: {name: \"H\", street: $v, zip: \"1\", city: \"Z\"}) { id } }",
        "INVALID_TEXT",
    ),
    (
        "mutation($v: String) { createVenue(input: {name: \"H\", street: \"S\", zip: \"1\", city: \"Z\", telephone: $v}) { id } }",
        "INVALID_TEXT",
    ),
    (
        "mutation($v: String) { createVenue(input: {name: \"H\", street: \"S\", zip: \"1\", city: \"Z\", email: $v}) { id } }",
        "INVALID_EMAIL",
    ),
]


@pytest.mark.parametrize(("mutation", "reason"), TEXT_INPUTS)
@pytest.mark.parametrize("value", ["A\x00B", "\x00", "a\x00@example.org"])
async def test_text_with_nul_is_invalid_text_on_both_backends(client: httpx.AsyncClient, mutation: str, reason: str, value: str) -> None:
    response = await client.post("/graphql", json={"query": mutation, "variables": {"v": value}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "reason": reason}, error


@pytest.mark.parametrize(
    "raw_value",
    [r'"A\ud800B"', r'"\udfff"', r'{"name": "\ud83d"}'],
)
async def test_a_lone_surrogate_anywhere_in_the_json_is_a_bad_request(client: httpx.AsyncClient, raw_value: str) -> None:
    body = '{"query": "query($v: String) { teams { id } }", "variables": {"v": %s}}' % raw_value
    response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # a well-formed pair is text like any other
    paired = '{"query": "mutation($v: String!) { createTeam(input: {name: $v, club: \\"C\\"}) { name } }", "variables": {"v": "\\ud83d\\ude00 Team"}}'
    created = await client.post("/graphql", content=paired, headers={"content-type": "application/json"})
    assert created.json() == {"data": {"createTeam": {"name": "\U0001f600 Team"}}}, created.text
