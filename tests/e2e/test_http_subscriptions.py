"""Subscriptions without WebSockets, against a real server with auth on (jwt): GraphQL over
Server-Sent Events (graphql-sse, distinct connections mode) through graphql-sse's own client,
and Apollo's multipart HTTP subscriptions through Apollo Client's HttpLink. Both run the same
subscription resolvers as the sockets, with the same auth (Bearer token; the cookie only
from an allowed Origin), limits and rate rules; a client that goes away ends its
subscription cleanly (its access line is written, no ERROR in the log: `stop()` checks)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from app.config import Settings
from app.security.authn import mint_local_token
from app.security.identity import Role
from tests.dates import saturday_ahead
from tests.e2e.node_clients import RunningClient, running_client
from tests.e2e.processes import ServerProcess, whistle_env
from tests.integration.bus_fixtures import free_port

pytestmark = pytest.mark.e2e

CLIENTS = ["sse", "apollo"]
FIXTURE_CHANGED = "subscription Changes($id: ID) { fixtureChanged(fixtureId: $id) { kind fixture { id date } } }"
SSE = {"Accept": "text/event-stream"}
MULTIPART = {"Accept": "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json"}


class League:
    """A jwt-mode server on the demo league, and what the tests need to know about it."""

    def __init__(self, server: ServerProcess, settings: Settings) -> None:
        self.server, self.settings = server, settings
        self.url = f"{server.url}/graphql"
        self.admin = mint_local_token(settings, Role.ADMIN)
        data = self.post(self.admin, "{ fixtures(first: 1) { edges { node { id } } } referees { id } }")["data"]
        self.fixture_id = data["fixtures"]["edges"][0]["node"]["id"]
        referees = [referee["id"] for referee in data["referees"]]
        self.referee = mint_local_token(settings, Role.REFEREE, UUID(referees[0]))
        self.other_referee_id = referees[1]
        self._day = 0

    def post(self, token: str, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(self.url, json={"query": query, "variables": variables}, headers=bearer(token), timeout=10)
        return response.json()

    def change_fixture(self) -> None:
        """A committed change of the fixture: one fixtureChanged event (DATE_CHANGED), to
        a day a year ahead, after the demo season (which moves with the seed day, today),
        so that the fixture's venue and teams are free then."""
        self._day = self._day % 27 + 1
        date = f"{saturday_ahead() + timedelta(days=self._day)}T18:30:00+00:00"
        answer = self.post(self.admin, "mutation($id: ID!, $d: DateTime!) { changeFixtureDate(fixtureId: $id, date: $d) { id } }", id=self.fixture_id, d=date)
        assert "errors" not in answer, answer

    def access_lines(self) -> list[str]:
        return [line for line in self.server.output().splitlines() if " whistle.access " in line]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def league_server(directory: Path, name: str, **settings: Any) -> tuple[ServerProcess, Settings]:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{directory}/whistle.db",
        "auth": "jwt",
        "jwt_local_keys": str(directory / "keys"),
        "seed_demo": "true",
        "cors_origins": "https://app.example",
        **settings,
    }
    server = ServerProcess(name, free_port(), whistle_env(**values), directory).start(timeout=60)
    return server, Settings(**values)


@pytest.fixture(scope="module")
def league(tmp_path_factory: pytest.TempPathFactory) -> Iterator[League]:
    server, settings = league_server(tmp_path_factory.mktemp("http-subscriptions"), "streams", rate_limit_points=0)
    try:
        yield League(server, settings)
    finally:
        server.stop()


async def first_event(league: League, client: RunningClient) -> dict[str, Any]:
    """Change the fixture until the client (which subscribes concurrently) reports an event."""
    for _ in range(20):
        await asyncio.to_thread(league.change_fixture)
        try:
            return await client.line(timeout=1.0)
        except TimeoutError:
            continue
    raise AssertionError("no event reached the client")


@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_client_receives_events_then_ends_its_subscription_cleanly(league: League, kind: str) -> None:
    before = len(league.access_lines())
    async with running_client("subscribe.mjs", kind, league.url, FIXTURE_CHANGED, {"id": league.fixture_id}, bearer(league.admin), "1") as client:
        line = await first_event(league, client)
        change = line["result"]["data"]["fixtureChanged"]
        assert change["fixture"]["id"] == league.fixture_id  # (the demo's own events may still come first)
        assert await client.exit_code() == 0  # it disconnected after the first event
    # The server noticed the disconnect: the subscription ended and wrote its access line.
    for _ in range(50):
        if any("subscription Changes" in line for line in league.access_lines()[before:]):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"no access line for the ended subscription:\n{league.access_lines()[before:]}")


async def refusal(kind: str, league: League, query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    async with running_client("subscribe.mjs", kind, league.url, query, variables, headers, "1") as client:
        line = await client.line(timeout=10)
    errors = line["result"]["errors"] if "result" in line else line["error"]
    return errors[0]["extensions"]


@pytest.mark.parametrize("kind", CLIENTS)
async def test_without_a_token_a_subscription_is_unauthenticated(league: League, kind: str) -> None:
    extensions = await refusal(kind, league, FIXTURE_CHANGED, {}, {})
    assert extensions["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("kind", CLIENTS)
async def test_a_referee_follows_only_its_own_notifications(league: League, kind: str) -> None:
    query = "subscription($r: ID!) { notifications(refereeId: $r) { id } }"
    extensions = await refusal(kind, league, query, {"r": league.other_referee_id}, bearer(league.referee))
    assert extensions == {"code": "FORBIDDEN", "reason": "NOT_OWN_REFEREE"}
    extensions = await refusal(kind, league, FIXTURE_CHANGED, {}, bearer(league.referee))
    assert extensions == {"code": "FORBIDDEN", "reason": "ADMIN_ONLY"}


@pytest.mark.parametrize("kind", CLIENTS)
async def test_the_operation_limits_hold(league: League, kind: str) -> None:
    deep = "subscription { fixtureChanged { fixture { " + "availableReferees { availableFixtures { " * 6 + "id" + " } }" * 6 + " } } }"
    extensions = await refusal(kind, league, deep, {}, bearer(league.admin))
    assert extensions["code"] == "GRAPHQL_VALIDATION_FAILED"


# --- the transports on the wire (httpx) ------------------------------------------------------------


async def streamed(league: League, headers: dict[str, str], seconds: float = 1.5) -> tuple[httpx.Response, str]:
    """A streamed subscription's response and what it sent within `seconds` (or until it ended)."""
    text = ""
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("POST", league.url, json={"query": FIXTURE_CHANGED}, headers=headers) as response:
            chunks = response.aiter_text()
            deadline = asyncio.get_running_loop().time() + seconds
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    text += await asyncio.wait_for(anext(chunks), left)
                except (TimeoutError, StopAsyncIteration):
                    break
    return response, text


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(None, False), ("https://evil.example", False), ("https://app.example", True), ("same", True)],
)
@pytest.mark.parametrize("accept", [SSE, MULTIPART], ids=["sse", "multipart"])
async def test_the_cookie_authenticates_a_stream_only_from_an_allowed_origin(
    league: League, origin: str | None, allowed: bool, accept: dict[str, str]
) -> None:
    headers = {**accept, "Cookie": f"access_token={league.admin}"}
    if origin is not None:
        headers["Origin"] = league.server.url if origin == "same" else origin
    response, text = await streamed(league, headers)
    assert response.status_code == 200
    if allowed:
        assert "errors" not in text, text  # subscribed: waiting for events
    else:
        assert '"reason":"CSRF_ORIGIN"' in text, text


@pytest.mark.parametrize(("fetch_site", "allowed"), [(None, False), ("cross-site", False), ("same-origin", True)])
async def test_an_event_source_get_with_the_cookie_needs_a_same_origin_page(
    league: League, fetch_site: str | None, allowed: bool
) -> None:
    """A browser's EventSource: GET, the cookie, no Origin header, Sec-Fetch-Site."""
    headers = {**SSE, "Cookie": f"access_token={league.admin}"}
    if fetch_site is not None:
        headers["Sec-Fetch-Site"] = fetch_site
    text = ""
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("GET", league.url, params={"query": FIXTURE_CHANGED}, headers=headers) as response:
            assert response.status_code == 200
            chunks = response.aiter_text()
            with contextlib.suppress(TimeoutError, StopAsyncIteration):
                while "complete" not in text:
                    text += await asyncio.wait_for(anext(chunks), 1.5)
    assert ('"reason":"CSRF_ORIGIN"' in text) is not allowed, text


async def test_a_multipart_stream_has_apollos_content_type_and_heartbeats(league: League) -> None:
    response, text = await streamed(league, {**MULTIPART, **bearer(league.admin)}, seconds=0.5)
    assert response.status_code == 200
    assert response.headers["content-type"].replace(" ", "").startswith("multipart/mixed;boundary=graphql;subscriptionSpec=1.0")
    assert "{}" in text  # the heartbeat Apollo's protocol asks for, sent at once and every 5 s


async def test_an_sse_stream_is_an_uncached_event_stream(league: League) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("POST", league.url, json={"query": FIXTURE_CHANGED}, headers={**SSE, **bearer(league.admin)}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "no-cache" in response.headers["cache-control"]


async def test_a_query_over_sse_is_one_event_then_complete(league: League) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(league.url, json={"query": "{ __typename }"}, headers={**SSE, **bearer(league.admin)})
    events = [block for block in response.text.split("\r\n\r\n") if block.strip()]
    assert events == ['event: next\r\ndata: {"data":{"__typename":"Query"}}', "event: complete\r\ndata: "]


@pytest.mark.parametrize("accept", [SSE, MULTIPART], ids=["sse", "multipart"])
async def test_a_stream_ends_when_its_token_expires(league: League, accept: dict[str, str]) -> None:
    # Expired 28 s ago: valid for the 30 s of verification leeway, so for about 2 s more.
    token = mint_local_token(league.settings, Role.ADMIN, ttl=timedelta(seconds=-28))
    response, text = await streamed(league, {**accept, **bearer(token)}, seconds=8)
    assert response.status_code == 200
    assert '"code":"UNAUTHENTICATED","reason":"TOKEN_EXPIRED"' in text, text
    assert ("event: complete" in text) if accept is SSE else text.rstrip().endswith("--graphql--"), text


URQL_ACCEPT = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"


@pytest.mark.parametrize(
    ("document", "streamed_as"),
    [("{ __typename }", None), ("mutation { unlockAvailabilities { locked } }", None), (FIXTURE_CHANGED, "text/event-stream")],
)
async def test_with_json_allowed_too_only_a_subscription_is_streamed(league: League, document: str, streamed_as: str | None) -> None:
    """urql lists every media type for every request."""
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("POST", league.url, json={"query": document}, headers={"Accept": URQL_ACCEPT, **bearer(league.admin)}) as response:
            assert response.status_code == 200
            media_type = response.headers["content-type"].split(";")[0]
            if streamed_as is None:
                assert media_type == "application/graphql-response+json"
                assert "data" in json.loads(await response.aread())
            else:
                assert media_type == streamed_as


async def test_streams_are_charged_to_the_rate_limit(tmp_path: Path) -> None:
    server, settings = league_server(tmp_path, "stream-rate", rate_limit_points=2)
    try:
        token = mint_local_token(settings, Role.ADMIN)
        async with httpx.AsyncClient(timeout=10) as http:
            statuses = []
            for _ in range(3):
                async with http.stream(
                    "POST", f"{server.url}/graphql", json={"query": FIXTURE_CHANGED}, headers={**SSE, **bearer(token)}
                ) as response:
                    statuses.append(response.status_code)
                    if response.status_code == 429:
                        body = (await response.aread()).decode()
                        assert "RATE_LIMITED" in body and response.headers["retry-after"]
        assert statuses == [200, 200, 429]
    finally:
        server.stop()
