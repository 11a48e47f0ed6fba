"""A real `whistle serve` process in WHISTLE_AUTH=oidc with WHISTLE_REDIS_URL: a
subscription over WebSocket authenticated by the session cookie outlives its access
token (the session refreshes it) and is closed with 4401 when the session ends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.e2e.processes import ServerProcess, WsClient
from tests.oidc.provider_process import ACCESS_TTL, provider_login

pytestmark = pytest.mark.e2e

CHANGES = "subscription($id: ID) { fixtureChanged(fixtureId: $id) { kind fixture { id status } } }"


async def test_a_subscription_lives_with_the_session_and_closes_when_it_ends(oidc_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=oidc_server.url, trust_env=False, timeout=10) as http:
        login = await http.get("/auth/login")
        callback = await provider_login(login.headers["location"], "admin")
        assert (await http.get(callback)).status_code == 302
        session = http.cookies["whistle_session"]
        page = await http.post("/graphql", json={"query": "{ fixtures(first: 1) { edges { node { id } } } }"})
        fixture_id = page.json()["data"]["fixtures"]["edges"][0]["node"]["id"]

        async with WsClient.open(oidc_server.ws_url, headers={"Cookie": f"whistle_session={session}"}) as socket:
            op = await socket.subscribe(CHANGES, {"id": fixture_id})
            await asyncio.sleep(ACCESS_TTL + 1)  # the access token the socket started with has expired
            cancel = await http.post(
                "/graphql",
                json={"query": "mutation($id: ID!) { cancelFixture(fixtureId: $id) { status } }", "variables": {"id": fixture_id}},
                headers={"Origin": oidc_server.url},
            )
            assert "errors" not in cancel.json(), cancel.text
            kinds = []
            while "CANCELLED" not in kinds:  # (the demo data's own events may come first)
                event = await socket.next(op, timeout=10)
                assert event is not None and "errors" not in event, event
                kinds.append(event["data"]["fixtureChanged"]["kind"])

            assert (await http.post("/auth/logout", headers={"Origin": oidc_server.url})).status_code == 200
            await asyncio.wait_for(socket.closed.wait(), 10)
            assert socket.close_code == 4401
            assert "sign in again" in socket.close_reason

        # A socket with the ended session's cookie is refused at connection_init.
        with pytest.raises(Exception, match="4403|refused|SESSION_ENDED"):
            async with WsClient.open(oidc_server.ws_url, headers={"Cookie": f"whistle_session={session}"}):
                pass
