"""The lean lane (app.lean_lane) answers exactly as the generic lane: the same requests sent
to an app with the lane and to one without it (WHISTLE_LEAN_LANE=0) give the same status,
the same headers that matter and the same body; the lane takes what it should and leaves
the rest; and the operations the web app, the federation corpus and the e2e suite send
all run compiled (the fallback counter on /healthz stays 0)."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse

from app.api import build_schema
from app.observability import RequestContextFilter
from tests.e2e.conftest import OpenClient
from tests.execution.documents import e2e_query_documents, operation_names, variables_for
from tests.execution.web_app import web_app_queries
from tests.federation.corpus import League, known_league, queries

FIXTURE = "id date status venue { id name city } teamHome { id name club } teamAway { id name club } firstReferee { id name club } secondReferee { id name club }"
PAGE = f"query Page($first: Int, $from: DateTime) {{ fixtures(first: $first, from: $from) {{ totalCount edges {{ node {{ {FIXTURE} }} }} }} }}"
ONE = f"query One($id: ID!) {{ fixture(id: $id) {{ {FIXTURE} }} }}"
TWO_OPERATIONS = "query Refs { referees { id name } } query Teams { teams { id club } }"
HEADERS_THAT_MATTER = ("content-type", "content-length", "retry-after", "vary", "access-control-allow-origin",
                       "access-control-allow-credentials", "access-control-expose-headers")  # fmt: skip


class Lanes:
    """Two apps on one database: `lean` (the default) and `generic` (WHISTLE_LEAN_LANE=0)."""

    def __init__(self, lean: httpx.AsyncClient, generic: httpx.AsyncClient) -> None:
        self.lean, self.generic = lean, generic

    async def counts(self) -> dict[str, int]:
        return (await self.lean.get("/healthz")).json()["operations"]["requests"]

    async def same(self, body: Any, headers: dict[str, str] | None = None, *, content: bytes | None = None) -> tuple[httpx.Response, str]:
        """Send the request to both; assert the answers agree; (the lean app's answer, the lane that took it)."""
        before = await self.counts()
        answers = []
        for http in (self.lean, self.generic):
            if content is not None:
                answers.append(await http.post("/graphql", content=content, headers=headers))
            else:
                answers.append(await http.post("/graphql", json=body, headers=headers))
        lean, generic = answers
        assert lean.status_code == generic.status_code, (body, lean.text, generic.text)
        assert lean.content == generic.content, (body, lean.text, generic.text)
        for name in HEADERS_THAT_MATTER:
            assert lean.headers.get_list(name) == generic.headers.get_list(name), (name, body)
        assert len(lean.headers.get_list("x-request-id")) == 1 and lean.headers["x-request-id"]
        if headers and "x-request-id" in headers:
            assert lean.headers["x-request-id"] == generic.headers["x-request-id"] == headers["x-request-id"]
        after = await self.counts()
        lane = "lean" if after.get("lean", 0) > before.get("lean", 0) else "generic"
        return lean, lane


@pytest.fixture
async def lanes(open_client: OpenClient) -> AsyncIterator[Lanes]:
    async with AsyncExitStack() as stack:
        lean = await stack.enter_async_context(open_client(seed_demo=True))
        generic = await stack.enter_async_context(open_client(seed_demo=True, lean_lane=False))
        yield Lanes(lean, generic)


async def _fixture_ids(http: httpx.AsyncClient) -> list[str]:
    answer = await http.post("/graphql", json={"query": "{ fixtures(first: 5) { edges { node { id } } } }"})
    return [edge["node"]["id"] for edge in answer.json()["data"]["fixtures"]["edges"]]


async def test_compiled_queries_are_answered_by_the_lean_lane_exactly_as_by_the_generic_one(lanes: Lanes) -> None:
    fixture_id = (await _fixture_ids(lanes.lean))[0]
    requests = [
        {"query": ONE, "variables": {"id": fixture_id}},
        {"query": ONE, "variables": {"id": fixture_id.upper()}},
        {"query": PAGE, "variables": {"first": 20, "from": "2020-01-01T00:00:00Z"}},
        {"query": PAGE, "variables": {"first": 3}},
        {"query": ONE, "variables": {"id": str(uuid.uuid4())}},  # null: no such fixture
        {"query": "query($id: ID!) { referee(id: $id) { name } team(id: $id) { name } }", "variables": {"id": "not-an-id"}},
        {"query": "{ __typename viewer { role } }"},
        {"query": TWO_OPERATIONS, "operationName": "Teams"},
    ]
    for body in requests:
        _first, first_lane = await lanes.same(body)  # the document is not cached yet on the first
        answer, lane = await lanes.same(body)
        assert lane == "lean", body
        assert answer.status_code == 200 and "data" in answer.json()
    # Field errors (INVALID_ID) and an ADMIN-only field refused to a bad token: errors of the contract.
    errors = (await lanes.same(requests[5]))[0].json()["errors"]
    assert {e["extensions"]["reason"] for e in errors} == {"INVALID_ID"}
    refused, lane = await lanes.same(requests[0], {"authorization": "Bearer not-a-token"})
    assert lane == "lean" and refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    given, lane = await lanes.same(requests[0], {"x-request-id": "gateway-7.a"})
    assert lane == "lean"


async def test_what_is_not_certain_goes_to_the_generic_lane_and_is_answered_the_same(lanes: Lanes) -> None:
    fixture_id = (await _fixture_ids(lanes.lean))[0]
    one = {"query": ONE, "variables": {"id": fixture_id}}
    await lanes.same(one)
    text = "{ teams { id name } }"
    digest = hashlib.sha256(text.encode()).hexdigest()
    persisted = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    for accept in ("application/graphql-response+json", "application/graphql-response+json, application/json;q=0.9", "*/*"):
        answer, lane = await lanes.same(one, {"accept": accept})
        assert lane == "lean" and answer.headers["content-type"] == ("*/*" in accept and "application/json" or "application/graphql-response+json")
    generic_ones = [
        ({"query": ONE, "variables": {"id": fixture_id}}, {"accept": "text/event-stream"}),
        ({"query": ONE, "variables": {"id": fixture_id}}, {"accept": "multipart/mixed"}),
        ({"query": PAGE, "variables": {"first": 20, "from": "yesterday"}}, {"accept": "application/graphql-response+json"}),
        ({"query": ONE, "variables": {}}, None),  # a variable missing
        ({"query": PAGE, "variables": {"first": 20, "from": "yesterday"}}, None),  # INVALID_DATETIME
        ({"query": PAGE.replace("totalCount", "totalCount a: totalCount"), "variables": {"first": 500}}, None),  # cost
        ({"query": "{ fixtures { nope } }"}, None),  # validation
        ({"query": "{ fixtures "}, None),  # syntax
        ({"query": "mutation { lockAvailabilities { locked } }"}, None),
        ({"query": "{ __schema { queryType { name } } }"}, None),
        ({"query": TWO_OPERATIONS}, None),  # no operation name
        ({"query": TWO_OPERATIONS, "operationName": "Nope"}, None),
        ({"variables": {}}, None),  # no query
        ([{"query": text}], None),  # a batch
        ({"query": text, "variables": []}, None),
        ({**persisted, "query": text}, None),  # APQ registration
        ({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}}, None),  # not found
    ]
    for body, headers in generic_ones:
        for _ in range(2):
            answer, lane = await lanes.same(body, headers)
            assert lane == "generic", (body, headers, answer.text)
    # A persisted query's hash alone, once registered, is a cached document: the lean lane's.
    answer, lane = await lanes.same(persisted)
    assert lane == "lean" and answer.json()["data"]["teams"]
    for content in (b"not json", b'"a string"', b"{"):
        answer, lane = await lanes.same(None, {"content-type": "application/json"}, content=content)
        assert lane == "generic" and answer.status_code == 400
    answer, lane = await lanes.same(None, {"content-type": "text/plain"}, content=json.dumps(one).encode())
    assert lane == "generic" and answer.status_code == 400


async def test_rate_limits_refuse_on_the_lean_lane_as_on_the_generic_one(open_client: OpenClient) -> None:
    async with open_client(seed_demo=True, rate_limit_points=4) as lean, open_client(seed_demo=True, rate_limit_points=4, lean_lane=False) as generic:
        body = {"query": "{ referees { id } }"}
        answers: dict[str, list[httpx.Response]] = {"lean": [], "generic": []}
        for _ in range(6):
            answers["lean"].append(await lean.post("/graphql", json=body))
            answers["generic"].append(await generic.post("/graphql", json=body))
        assert [a.status_code for a in answers["lean"]] == [a.status_code for a in answers["generic"]] == [200] * 4 + [429] * 2
        for mine, theirs in zip(answers["lean"][4:], answers["generic"][4:]):
            assert mine.json()["errors"][0]["extensions"] == theirs.json()["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
            assert abs(int(mine.headers["retry-after"]) - int(theirs.headers["retry-after"])) <= 1
            assert mine.headers["content-type"] == theirs.headers["content-type"] == "application/json"
        counts = (await lean.get("/healthz")).json()["operations"]["requests"]
        assert counts["lean"] >= 4, counts  # the refusals came from the lean lane


async def test_cors_headers_are_the_same_on_both_lanes(open_client: OpenClient) -> None:
    origins = {"cors_origins": "https://app.example"}
    async with open_client(seed_demo=True, **origins) as lean, open_client(seed_demo=True, lean_lane=False, **origins) as generic:
        lanes = Lanes(lean, generic)
        body = {"query": "{ teams { id } }"}
        await lanes.same(body)
        answer, lane = await lanes.same(body, {"origin": "https://app.example"})
        assert lane == "lean" and answer.headers["access-control-allow-origin"] == "https://app.example"
        answer, lane = await lanes.same(body, {"origin": "https://evil.example"})
        assert lane == "lean" and "access-control-allow-origin" not in answer.headers
        answer, lane = await lanes.same(body)
        assert lane == "lean" and answer.headers["vary"] == "Origin"


async def test_the_lean_lane_writes_the_access_line_with_request_id_name_and_statements(
    lanes: Lanes, caplog: pytest.LogCaptureFixture
) -> None:
    fixture_id = (await _fixture_ids(lanes.lean))[0]
    body = {"query": ONE, "variables": {"id": fixture_id}}
    await lanes.lean.post("/graphql", json=body)
    caplog.handler.addFilter(RequestContextFilter())
    caplog.set_level(logging.INFO)
    caplog.clear()
    answer = await lanes.lean.post("/graphql", json=body, headers={"x-request-id": "lean-1"})
    (line,) = [r for r in caplog.records if r.name == "whistle.access"]
    assert answer.headers["x-request-id"] == "lean-1"
    assert (line.request_id, line.operation_name, line.operation_type) == ("lean-1", "One", "query")  # type: ignore[attr-defined]
    assert line.sql_statements >= 1 and line.duration_ms > 0 and line.user_id  # type: ignore[attr-defined]
    assert (await lanes.counts())["lean"] == 1


def _query_operations(text: str) -> list[str | None]:
    operations = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    if any(o.operation is not OperationType.QUERY for o in operations):
        return []
    return operation_names(text)


async def test_no_operation_of_the_web_app_the_federation_corpus_or_the_e2e_suite_falls_back(
    lanes: Lanes, open_client: OpenClient
) -> None:
    """/healthz counts the queries graphql-core had to run because the compiler refused
    them: none of these (introspection aside: graphql-core's by design)."""
    schema = build_schema()._schema
    http = lanes.lean
    league = await _league(http)
    documents = [(t, None) for t in web_app_queries()]
    documents += [(o.query, o) for o in queries()]
    documents += [(t, None) for t in e2e_query_documents() if "__schema" not in t and "__type" not in t]
    for text, operation in documents:
        for name in _query_operations(text):
            variables = operation.variables(league) if operation is not None else variables_for(schema, text, name, league)
            for _ in range(2):  # the second one through the lean lane (when it can)
                await http.post("/graphql", json={"query": text, "variables": variables, "operationName": name})
    report = (await http.get("/healthz")).json()["operations"]
    assert report["queries"].get("compiled", 0) > 100, report
    assert report["queries"].get("fell_back", 0) == 0, report
    assert report["requests"]["lean"] > 50, report


async def _league(http: httpx.AsyncClient) -> League:
    """Ids of the demo league, as the federation corpus chooses them."""

    async def side(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return (await http.post("/graphql", json={"query": query, "variables": variables})).json()

    return await known_league(side)  # type: ignore[arg-type]
