"""Helpers of the event bus tests (tests/integration/test_bus.py): the Redis server
they use, envelopes to publish, the dead letters of either adapter."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from redis.asyncio import Redis

from app.events.bus import DeadLetter, EventBus
from app.events.envelope import Envelope
from app.events.memory_bus import MemoryBus
from app.events.redis_bus import RedisStreamBus

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# Why Redis could not be used, once known: later tests skip without waiting again.
_redis_unavailable: str | None = None


def redis_url() -> str:
    return os.environ.get("WHISTLE_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def services_missing(what: str, reason: str, fix: str) -> None:
    """Skip loudly, or fail when WHISTLE_REQUIRE_SERVICES=1 (CI)."""
    message = (
        f"{what} IS UNAVAILABLE, these tests are SKIPPED: {reason}. {fix}; "
        "set WHISTLE_REQUIRE_SERVICES=1 to make this a failure."
    )
    if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def require_redis() -> str:
    """The test Redis URL, once it answers PING; skips (or fails) otherwise."""
    global _redis_unavailable
    url = redis_url()
    if _redis_unavailable is None:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await client.ping()
        except Exception as error:  # noqa: BLE001 - any failure means "cannot use it"
            _redis_unavailable = f"cannot reach {url!r} ({type(error).__name__}: {error})"
        finally:
            await client.aclose()
    if _redis_unavailable is not None:
        services_missing("Redis", _redis_unavailable, "Start it or set WHISTLE_TEST_REDIS_URL")
    return url


def unique_stream_name() -> str:
    return f"whistle:test:{uuid.uuid4().hex}"


async def delete_streams(url: str, *streams: str) -> None:
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.delete(*streams)
    finally:
        await client.aclose()


async def dead_letters(bus: EventBus) -> list[DeadLetter]:
    """What the bus set aside: `MemoryBus.dead_letters`, or the `<stream>:dead` stream."""
    if isinstance(bus, MemoryBus):
        return list(bus.dead_letters)
    assert isinstance(bus, RedisStreamBus)
    client = Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=2)
    try:
        entries = await client.xrange(bus.dead_stream)
    finally:
        await client.aclose()
    return [DeadLetter.from_fields(fields) for _id, fields in entries]


_T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def envelope(seq: int, type: str = "AssignmentsCommitted", payload: dict[str, Any] | None = None) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        seq=seq,
        type=type,
        aggregate_type="Fixture",
        aggregate_id=uuid.UUID(int=seq),
        version=seq,
        payload={"seq": seq} if payload is None else payload,
        created_at=_T0 + timedelta(seconds=seq),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A throw-away redis-server without persistence, on a port of its own."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self, timeout: float = 10.0) -> None:
        assert self._process is None
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill it (SIGKILL: as a crash would)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
