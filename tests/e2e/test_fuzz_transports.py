"""The schema fuzz of test_fuzz.py over every other transport, against a real server: the
same generated operations (queries and mutations, valid and with one violation) plus
generated subscriptions, sent over graphql-transport-ws, the legacy graphql-ws protocol,
Server-Sent Events and multipart HTTP.

Every operation gets an answer (a result, an error message, or a stream that stays open for
a live subscription, which is then stopped), or its socket closes with a documented code;
no answer carries an undocumented error code, an unexpected server error or a leak; and the
server logs no ERROR and no traceback (no unhandled task exception): `stop()` checks.

Bounded: TRANSPORT_EXAMPLES operations (WHISTLE_FUZZ_TRANSPORT_EXAMPLES overrides) of each
kind, sent in concurrent batches; a live subscription is given WINDOW seconds to answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from app.api import build_schema
from app.config import Settings
from app.security.authn import mint_local_token
from app.security.identity import Role
from tests.e2e.processes import LEGACY_WS, TRANSPORT_WS, Closed, ServerProcess, WsClient, whistle_env
from tests.e2e.test_fuzz import DOCUMENTED_CODES, datetime_values, id_values, operations
from tests.integration.bus_fixtures import free_port

pytestmark = pytest.mark.e2e

TRANSPORT_EXAMPLES = int(os.environ.get("WHISTLE_FUZZ_TRANSPORT_EXAMPLES", "60"))
BATCH = 20
WINDOW = 0.5  # seconds a subscription has to answer before it counts as live (and is stopped)
ANSWER_TIMEOUT = 10.0  # seconds a query or mutation has to answer
# Close codes of the WebSocket protocols (graphql-transport-ws and this server's legacy handler).
DOCUMENTED_CLOSE_CODES = {1000, 1001, 4400, 4401, 4403, 4406, 4408, 4409, 4429}
# As test_fuzz's, but the server runs in development mode (the legacy protocol is off in
# production), where "Did you mean" hints are allowed.
_LEAKS = re.compile(
    r"Traceback|File \"|sqlalchemy|asyncpg|aiosqlite|sqlite3|psycopg"
    r"|\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b"
)


def subscriptions(known: list[str]) -> st.SearchStrategy[str]:
    """Subscription operations: hypothesis-graphql generates queries and mutations only, so the
    Subscription type is given to it as the query type of a schema of its own."""
    schema = build_schema()._schema
    assert schema.subscription_type is not None
    as_query = graphql.GraphQLSchema(query=schema.subscription_type, types=list(schema.type_map.values()))
    scalars = {
        "ID": id_values(known).map(lambda value: graphql.StringValueNode(value=value)),
        "DateTime": datetime_values().map(lambda value: graphql.StringValueNode(value=value)),
    }
    common: dict[str, Any] = {"custom_scalars": scalars, "allow_x00": True}
    documents = st.one_of(
        from_schema(as_query, mode=Mode.POSITIVE, **common),
        from_schema(as_query, mode=Mode.NEGATIVE, **common),
    )
    return documents.map(lambda text: "subscription " + text.removeprefix("query").lstrip())


def generated(strategy: st.SearchStrategy[str], count: int) -> list[str]:
    """`count` examples of a strategy (drawn through @given: no shrinking, they are checked later)."""
    drawn: list[str] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(document=strategy)
    def draw(document: str) -> None:
        drawn.append(document)

    draw()
    return drawn[:count]


def check_payload(transport: str, document: str, payload: Any) -> None:
    shown = f"\ntransport: {transport}\noperation: {document[:1500]}\nanswer: {json.dumps(payload)[:1500]}"
    text = json.dumps(payload)
    leaked = _LEAKS.search(text)
    assert leaked is None, f"the answer leaks {leaked.group(0)!r}{shown}"
    errors = payload.get("errors") or [] if isinstance(payload, dict) else payload
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        assert code != "INTERNAL_SERVER_ERROR", f"an unexpected server error (a bug){shown}"
        assert code in DOCUMENTED_CODES, f"undocumented error code {code!r}{shown}"
        assert error.get("message"), shown


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, list[str]]]:
    """A development-mode server with auth on (both socket protocols), an ADMIN token, known ids."""
    directory = tmp_path_factory.mktemp("fuzz-transports")
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{directory}/whistle.db",
        "auth": "jwt",
        "jwt_local_keys": str(directory / "keys"),
        "seed_demo": "true",
        "rate_limit_points": 0,  # one caller sending hundreds of operations
    }
    server = ServerProcess("fuzz", free_port(), whistle_env(**values), Path(directory)).start(timeout=60)
    try:
        token = mint_local_token(Settings(**values), Role.ADMIN)
        data = httpx.post(
            f"{server.url}/graphql",
            json={"query": "{ referees { id } teams { id } venues { id } fixtures(first: 20) { edges { node { id } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"]
        ids = [r["id"] for r in data["referees"][:10]] + [t["id"] for t in data["teams"][:5]]
        ids += [v["id"] for v in data["venues"][:5]] + [e["node"]["id"] for e in data["fixtures"]["edges"]]
        yield server, token, ids
    finally:
        server.stop()


@pytest.fixture(scope="module")
def documents(served: tuple[ServerProcess, str, list[str]]) -> list[str]:
    _, _, ids = served
    return generated(operations(ids), TRANSPORT_EXAMPLES) + generated(subscriptions(ids), TRANSPORT_EXAMPLES)


def batches(documents: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(documents), BATCH):
        yield documents[start : start + BATCH]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_fuzzing_over_websockets(served: tuple[ServerProcess, str, list[str]], documents: list[str], protocol: str) -> None:
    server, token, _ = served
    answered = 0
    for batch in batches(documents):
        try:
            async with WsClient.open(server.ws_url, protocol, init={"token": token}) as client:
                sent = {await client.subscribe(document): document for document in batch}
                for op_id, document in sent.items():
                    live = document.startswith("subscription")
                    try:
                        first = await client.next(op_id, timeout=WINDOW if live else ANSWER_TIMEOUT)
                    except TimeoutError:
                        assert live, f"no answer over {protocol} to:\n{document[:1500]}"
                        await client.stop(op_id)  # a live subscription, waiting for events
                        continue
                    for payload in [first, *client.pending(op_id)]:
                        if payload is not None:
                            check_payload(protocol, document, payload)
                    answered += 1
        except Closed as closed:
            assert closed.code in DOCUMENTED_CLOSE_CODES, f"the {protocol} socket closed with {closed.code} {closed.reason!r}"
    assert answered >= len(documents) // 2, f"only {answered} of {len(documents)} operations were answered"


def events_of(transport: str, text: str) -> list[Any]:
    """The GraphQL payloads in what an SSE or multipart stream sent."""
    if transport == "sse":
        return [json.loads(line[len("data: ") :]) for line in text.splitlines() if line.startswith("data: {")]
    parts = [part.split("\r\n\r\n", 1)[-1].strip() for part in text.split("--graphql")]
    return [json.loads(part)["payload"] for part in parts if part.startswith('{"payload"')]


# As the clients send them: graphql-sse's takes event streams only, Apollo's JSON too (then
# only subscriptions are streamed).
ACCEPT = {"sse": "text/event-stream", "multipart": "multipart/mixed;subscriptionSpec=1.0,application/json"}


async def streamed(http: httpx.AsyncClient, url: str, transport: str, document: str) -> tuple[int, str, str]:
    """Status, media type and what the stream sent until it ended, or within WINDOW for a live
    subscription."""
    text = ""
    async with http.stream("POST", url, json={"query": document}, headers={"Accept": ACCEPT[transport]}) as response:
        media_type = response.headers.get("content-type", "").split(";")[0]
        chunks = response.aiter_text()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (WINDOW if document.startswith("subscription") else ANSWER_TIMEOUT)
        while (left := deadline - loop.time()) > 0:
            try:
                text += await asyncio.wait_for(anext(chunks), left)
            except (TimeoutError, StopAsyncIteration):
                break
        return response.status_code, media_type, text


@pytest.mark.parametrize("transport", ["sse", "multipart"])
async def test_fuzzing_over_http_streams(served: tuple[ServerProcess, str, list[str]], documents: list[str], transport: str) -> None:
    server, token, _ = served
    url = f"{server.url}/graphql"
    answered = 0
    async with httpx.AsyncClient(timeout=ANSWER_TIMEOUT, headers={"Authorization": f"Bearer {token}"}) as http:
        for batch in batches(documents):
            results = await asyncio.gather(*(streamed(http, url, transport, document) for document in batch))
            for document, (status, media_type, text) in zip(batch, results):
                shown = f"\noperation: {document[:1500]}\nanswer: {text[:1500]}"
                assert status < 500, f"HTTP {status} over {transport}{shown}"
                if media_type == "application/json":  # refused before streaming, or a query answered as JSON
                    assert status in (200, 400, 413), shown
                    check_payload(transport, document, json.loads(text))
                    answered += 1
                    continue
                payloads = events_of(transport, text)
                for payload in payloads:
                    check_payload(transport, document, payload)
                answered += bool(payloads)
    assert answered >= len(documents) // 2, f"only {answered} of {len(documents)} operations were answered"
