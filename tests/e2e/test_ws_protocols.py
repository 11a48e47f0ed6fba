"""Both GraphQL WebSocket protocols against a real server: what each answers to an operation
it cannot run (a query over the legacy protocol, an invalid subscription). Each gets one
protocol-correct message and nothing else, an access line, and no ERROR in the server log
(the server is stopped with `stop()`, which checks that)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import LEGACY_WS, TRANSPORT_WS, ServerProcess, WsClient, whistle_env
from tests.integration.bus_fixtures import free_port

pytestmark = pytest.mark.e2e

QUIET = 0.3  # seconds without a further message: "nothing else"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("ws-protocols")
    env = whistle_env(database_url=f"sqlite+aiosqlite:///{directory}/whistle.db", rate_limit_points=0)
    process = ServerProcess("ws", free_port(), env, Path(directory)).start()
    try:
        yield process
    finally:
        process.stop()


def access_lines(server: ServerProcess) -> list[str]:
    return [line for line in server.output().splitlines() if " whistle.access " in line]


async def only_message(client: WsClient, op_id: str) -> dict | None:
    first = await client.next(op_id)
    await asyncio.sleep(QUIET)
    assert client.pending(op_id) == [], "a second message followed the first"
    return first


async def test_a_query_over_the_legacy_protocol_gets_one_error_message(server: ServerProcess) -> None:
    before = len(access_lines(server))
    async with WsClient.open(server.ws_url, LEGACY_WS) as client:
        answer = await only_message(client, await client.subscribe("query Teams { teams { id } }"))
    assert answer is not None and answer["error_message"]
    assert answer["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    await asyncio.sleep(0.1)
    new = access_lines(server)[before:]
    assert any("Teams" in line and "GRAPHQL_VALIDATION_FAILED" in line for line in new), new


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("subscription Nope { nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("subscription Broken { fixtureChanged(", "GRAPHQL_PARSE_FAILED"),
        ("subscription Var($id: ID!) { fixtureChanged(fixtureId: $id) { kind } }", "BAD_USER_INPUT"),
    ],
)
async def test_an_invalid_subscription_gets_one_error_message(
    server: ServerProcess, protocol: str, document: str, code: str
) -> None:
    before = len(access_lines(server))
    async with WsClient.open(server.ws_url, protocol) as client:
        answer = await only_message(client, await client.subscribe(document))
    assert answer is not None and answer["error_message"], answer
    assert answer["errors"][0]["extensions"]["code"] == code
    await asyncio.sleep(0.1)
    assert len(access_lines(server)) > before


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_subscription_refused_in_its_resolver_gets_its_error_then_completes(
    server: ServerProcess, protocol: str
) -> None:
    async with WsClient.open(server.ws_url, protocol) as client:
        op_id = await client.subscribe('subscription { fixtureChanged(fixtureId: "x") { kind } }')
        answer = await client.next(op_id)
        assert answer is not None and answer["errors"][0]["extensions"]["reason"] == "INVALID_ID"
        rest = []
        for _ in range(3):
            await asyncio.sleep(QUIET / 3)
            rest += client.pending(op_id)
    # graphql-transport-ws ends an operation with `error` or `complete`; here the result
    # carried the error: the legacy protocol then says `complete`, the other says nothing more.
    assert rest in ([], [None])
