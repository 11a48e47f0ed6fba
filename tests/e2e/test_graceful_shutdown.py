"""Graceful shutdown of a real `whistle serve`: on SIGTERM it stops accepting connections,
finishes the request in flight (its complete answer arrives), closes subscriptions with
close code 1012 (service restart) and exits cleanly; its log is JSON lines throughout."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest

from tests.e2e.processes import TRANSPORT_WS, Closed, ServerProcess, WsClient, whistle_env
from tests.integration.bus_fixtures import free_port

pytestmark = pytest.mark.e2e

QUERY = b'{"query": "query Slow { referees { id name club } teams { id } venues { id } }"}'


def _read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


async def test_sigterm_lets_the_request_in_flight_finish_and_closes_subscriptions(tmp_path: Path) -> None:
    env = whistle_env(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db",
        seed_demo="1",
        log_format="json",
        rate_limit_points="0",
    )
    server = ServerProcess("shutdown", free_port(), env, tmp_path)
    server.start(timeout=60)
    try:
        async with WsClient.open(server.ws_url, TRANSPORT_WS) as ws:
            subscription = await ws.subscribe("subscription { assignmentsCommitted { id } }")

            # A request in flight: headers sent, the body not yet (the app is waiting for it).
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            head = (
                "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"X-Request-ID: in-flight-1\r\nContent-Length: {len(QUERY)}\r\n\r\n"
            )
            sock.sendall(head.encode() + QUERY[:10])
            await asyncio.sleep(0.3)

            server.terminate()
            await asyncio.sleep(1.0)
            assert server.running, f"whistle exited with a request in flight:\n{server.output()}"

            # No new connections once shutting down.
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", server.port), timeout=2).close()

            # The subscription was closed with "service restart" (the demo seed's own commits
            # may still be relayed to it first: they are events like any other).
            with pytest.raises(Closed) as closed:
                deadline = time.monotonic() + 10
                while True:
                    event = await ws.next(subscription, timeout=max(deadline - time.monotonic(), 0.1))
                    assert event is not None and "assignmentsCommitted" in event.get("data", {}), event
            assert closed.value.code == 1012, closed.value

            sock.sendall(QUERY[10:])
            raw = await asyncio.to_thread(_read_response, sock, 20)
            sock.close()
        head_part, _, body = raw.partition(b"\r\n\r\n")
        assert head_part.startswith(b"HTTP/1.1 200"), raw[:500]
        assert b"x-request-id: in-flight-1" in head_part.lower()
        if b"transfer-encoding: chunked" not in head_part.lower():
            data = json.loads(body)
        else:  # pragma: no cover - whistle answers with a Content-Length
            pytest.fail(f"unexpected chunked answer: {raw[:300]!r}")
        assert "errors" not in data and len(data["data"]["referees"]) == 43, data

        code = server.wait(timeout=30)
        output = server.output()
        assert code in (0, -15), f"exit code {code}:\n{output}"
    finally:
        server.kill()

    lines = [line for line in output.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if not line.startswith("Whistle: ")]
    assert len(records) == len(lines) - 1, "every log line but the banner is a JSON object"
    messages = [r["message"] for r in records]
    assert any("Application shutdown complete" in m for m in messages), messages
    assert not [r for r in records if r["level"] in ("ERROR", "CRITICAL")], records
    access = [r for r in records if r["logger"] == "whistle.access" and r.get("request_id") == "in-flight-1"]
    assert len(access) == 1, records
    assert access[0]["operation_name"] == "Slow" and access[0]["duration_ms"] >= 0 and access[0]["user_id"] == "dev"
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)


def test_logs_are_text_by_default(tmp_path: Path) -> None:
    env = whistle_env(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo="0")
    server = ServerProcess("text", free_port(), env, tmp_path)
    server.start(timeout=60)
    try:
        started = time.monotonic()
        output = server.stop()
        assert time.monotonic() - started < 15
    finally:
        server.kill()
    assert "INFO uvicorn.error Application startup complete." in output, output
    assert not any(line.startswith("{") for line in output.splitlines())
