"""A subscription at the gateway: the gateway subscribes to the assignments subgraph over
graphql-transport-ws (with the caller's token in its connection_init) and resolves the
event's nested fields in the other subgraphs."""

from __future__ import annotations

import asyncio

import pytest

from pathlib import Path
from uuid import UUID, uuid4

from app.config import Settings
from app.security.authn import mint_local_token
from app.security.identity import Role
from tests.dates import saturday_ahead
from tests.e2e.processes import TRANSPORT_WS, WsClient
from tests.federation.corpus import Side
from tests.federation.stack import Stack

pytestmark = pytest.mark.federation

COMMITTED = """subscription { assignmentsCommitted {
  assignments { role status
    fixture { id date status venue { name city } teamHome { name } teamAway { name } firstReferee { name } }
    referee { id name club } }
  replaced { role }
} }"""
NOTIFICATIONS = "subscription($r: ID!) { notifications(refereeId: $r) { kind fixture { id venue { name } } } }"
COMMIT = """mutation { commitAssignments {
  assignments { role status
    fixture { id date status venue { name city } teamHome { name } teamAway { name } firstReferee { name } }
    referee { id name club } }
  replaced { role }
} }"""


async def staged_first_referee(gateway: Side, name: str) -> dict[str, str]:
    """A new referee, declared available and staged FIRST on a new fixture, through the
    gateway: `{"f": fixture id, "r": referee id}`, ready for a commit."""

    async def create(query: str, variables: dict) -> str:
        result = await gateway(query, variables)
        assert "errors" not in result, result
        return next(iter(result["data"].values()))["id"]

    referee = await create("mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id } }",
                           {"i": {"name": name, "club": "VC Live"}})
    home = await create("mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }", {"i": {"name": f"{name} Home", "club": "A"}})
    away = await create("mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }", {"i": {"name": f"{name} Away", "club": "B"}})
    venue = await create("mutation($i: CreateVenueInput!) { createVenue(input: $i) { id } }",
                         {"i": {"name": f"{name} Hall", "street": "S 1", "zip": "1000", "city": "Lausanne"}})
    fixture = await create(
        "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }",
        {"i": {"date": f"{saturday_ahead()}T18:00:00+02:00", "venueId": venue, "teamHomeId": home, "teamAwayId": away}},
    )
    ids = {"f": fixture, "r": referee}
    assert "errors" not in await gateway("mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { referee { id } } }", ids)
    assert "errors" not in await gateway(
        "mutation($f: ID!, $r: ID!) { stageAssignment(input: {fixtureId: $f, refereeId: $r, role: FIRST}) { role } }", ids)
    return ids


async def test_a_commit_through_the_gateway_reaches_a_gateway_subscriber_with_nested_fields(stack: Stack) -> None:
    gateway = Side("gateway", stack.gateway.url)
    try:
        referee = (await staged_first_referee(gateway, "Live Referee"))["r"]
        async with WsClient.open(stack.gateway.ws_url, TRANSPORT_WS) as client:
            op = await client.subscribe(COMMITTED)
            await asyncio.sleep(1.0)  # the gateway opens its own socket to the subgraph
            committed = await gateway(COMMIT)
            assert "errors" not in committed, committed
            event = await client.next(op, timeout=10)
        assert event is not None and "errors" not in event, event
        assert event["data"]["assignmentsCommitted"] == committed["data"]["commitAssignments"]
        # (the demo league's staged assignments may be committed with it)
        (assignment,) = [a for a in event["data"]["assignmentsCommitted"]["assignments"] if a["referee"]["id"] == referee]
        assert assignment["referee"] == {"id": referee, "name": "Live Referee", "club": "VC Live"}  # directory
        assert assignment["fixture"]["venue"] == {"name": "Live Referee Hall", "city": "Lausanne"}  # directory via fixtures
        assert assignment["fixture"]["firstReferee"] == {"name": "Live Referee"}  # the committed state
    finally:
        await gateway.close()


async def test_the_callers_token_reaches_the_subgraph_serving_its_subscription(stack: Stack, local_keys: Path) -> None:
    """A REFEREE token given to the gateway in connection_init is what the assignments
    subgraph authorizes the subscription with: the referee's own notifications arrive,
    another referee's are refused (without the token the stack's dev mode says ADMIN and
    would accept both)."""
    gateway = Side("gateway", stack.gateway.url)
    try:
        ids = await staged_first_referee(gateway, "Token Referee")
        token = mint_local_token(Settings(jwt_local_keys=str(local_keys)), Role.REFEREE, UUID(ids["r"]))
        async with WsClient.open(stack.gateway.ws_url, TRANSPORT_WS, init={"authorization": f"Bearer {token}"}) as client:
            others = await client.subscribe(NOTIFICATIONS, {"r": str(uuid4())})
            refused = await client.next(others, timeout=10)
            # Refused before its first event (the monolith says FORBIDDEN / NOT_OWN_REFEREE); Hive
            # Gateway 2.15 passes that `error` message on as a result without message and extensions.
            assert refused is not None and refused["errors"] and not refused.get("data"), refused
            own = await client.subscribe(NOTIFICATIONS, {"r": ids["r"]})
            await asyncio.sleep(1.0)  # the gateway opens its own socket to the subgraph
            assert "errors" not in await gateway("mutation { commitAssignments { id } }")
            notification = await client.next(own, timeout=10)
        assert notification is not None and "errors" not in notification, notification
        assert notification["data"]["notifications"] == {
            "kind": "ASSIGNED", "fixture": {"id": ids["f"], "venue": {"name": "Token Referee Hall"}}}
    finally:
        await gateway.close()


async def test_subgraphs_send_websocket_messages_as_text_frames(stack: Stack) -> None:
    """JavaScript graphql-ws clients (the gateway, browsers) cannot read binary frames."""
    import json

    from websockets.asyncio.client import connect

    url = stack.subgraphs["assignments"].ws_url
    async with connect(url, subprotocols=["graphql-transport-ws"], proxy=None) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = await asyncio.wait_for(socket.recv(), 5)
    assert isinstance(ack, str) and json.loads(ack) == {"type": "connection_ack"}
