"""A real `whistle serve` process in WHISTLE_AUTH=oidc with WHISTLE_REDIS_URL: a
subscription streamed over HTTP (GraphQL over SSE, Apollo's multipart) authenticated by
the session cookie outlives its access token, as a socket does, and ends when the session
ends: a last result UNAUTHENTICATED / SESSION_ENDED, then the protocol's end of stream."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest

from app.security.ws_session import CHECK_EVERY_SECONDS
from tests.e2e.processes import ServerProcess
from tests.oidc.provider_process import ACCESS_TTL, provider_login

pytestmark = pytest.mark.e2e

CHANGES = "subscription($id: ID) { fixtureChanged(fixtureId: $id) { kind fixture { id status } } }"
SSE = {"Accept": "text/event-stream"}
MULTIPART = {"Accept": "multipart/mixed;boundary=graphql;subscriptionSpec=1.0,application/json"}
SESSION_ENDED = '"code":"UNAUTHENTICATED","reason":"SESSION_ENDED"'


class Stream:
    """A streamed subscription read in the background: its text so far, and whether it ended."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str], variables: dict[str, str]) -> None:
        self.text = ""
        self.ended = asyncio.Event()
        self._task = asyncio.create_task(self._read(http, headers, variables))

    async def _read(self, http: httpx.AsyncClient, headers: dict[str, str], variables: dict[str, str]) -> None:
        try:
            async with http.stream("POST", "/graphql", json={"query": CHANGES, "variables": variables}, headers=headers) as response:
                assert response.status_code == 200, await response.aread()
                async for chunk in response.aiter_text():
                    self.text += chunk
        finally:
            self.ended.set()

    async def wait_for(self, needle: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            assert not self.ended.is_set(), f"the stream ended without {needle!r}:\n{self.text}"
            assert time.monotonic() < deadline, f"no {needle!r} within {timeout} s:\n{self.text}"
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest.mark.parametrize("accept", [SSE, MULTIPART], ids=["sse", "multipart"])
async def test_a_stream_lives_with_the_session_and_ends_when_it_is_signed_out(oidc_server: ServerProcess, accept: dict[str, str]) -> None:
    origin = {"Origin": oidc_server.url}
    async with httpx.AsyncClient(base_url=oidc_server.url, trust_env=False, timeout=30) as http:
        login = await http.get("/auth/login")
        callback = await provider_login(login.headers["location"], "admin")
        assert (await http.get(callback)).status_code == 302
        page = await http.post("/graphql", json={"query": "{ fixtures(first: 1) { edges { node { id } } } }"})
        fixture_id = page.json()["data"]["fixtures"]["edges"][0]["node"]["id"]

        stream = Stream(http, {**accept, **origin}, {"id": fixture_id})  # the cookie only: no token
        try:
            await asyncio.sleep(ACCESS_TTL + 1)  # the access token the stream started with has expired
            cancel = await http.post(
                "/graphql",
                json={"query": "mutation($id: ID!) { cancelFixture(fixtureId: $id) { status } }", "variables": {"id": fixture_id}},
                headers=origin,
            )
            assert "errors" not in cancel.json(), cancel.text
            await stream.wait_for('"kind":"CANCELLED"')
            assert "errors" not in stream.text, stream.text

            assert (await http.post("/auth/logout", headers=origin)).status_code == 200
            signed_out = time.monotonic()
            await asyncio.wait_for(stream.ended.wait(), CHECK_EVERY_SECONDS + 5)
            took = time.monotonic() - signed_out
        finally:
            await stream.close()

    last = stream.text[stream.text.index('"kind":"CANCELLED"') :]
    assert SESSION_ENDED in last, stream.text
    assert "sign in again" in last
    if accept is SSE:
        assert last.rstrip().endswith("event: complete\r\ndata:"), stream.text
    else:
        assert last.rstrip().endswith("--graphql--"), stream.text
    assert took <= CHECK_EVERY_SECONDS + 2, took
