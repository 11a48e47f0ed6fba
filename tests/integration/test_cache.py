"""The cache port's contract, run against both adapters, and RedisCache through an outage.

Redis tests use the server named by WHISTLE_TEST_REDIS_URL (default
redis://127.0.0.1:6379/0), each under its own key prefix whose keys are deleted
afterwards. When that server is unreachable they are skipped loudly, or fail when
WHISTLE_REQUIRE_SERVICES=1 (CI). The outage test starts and kills its own redis-server.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
import redis.asyncio as redis
from redis.exceptions import RedisError

from app.cache.memory_cache import MemoryCache
from app.cache.port import Cache
from app.cache.redis_cache import RedisCache

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TTL = 60.0

# Why Redis could not be used, once known: later tests skip without waiting again.
_redis_unavailable: str | None = None


def _service_missing(what: str, reason: str) -> None:
    message = (
        f"{what} IS UNAVAILABLE, redis cache tests are SKIPPED: {reason}. "
        "set WHISTLE_REQUIRE_SERVICES=1 to make this a failure."
    )
    if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


async def _require_redis(url: str) -> None:
    global _redis_unavailable
    if _redis_unavailable is None:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            _redis_unavailable = (
                f"cannot reach {url!r} ({type(error).__name__}: {error}); start it or set WHISTLE_TEST_REDIS_URL"
            )
        finally:
            await client.aclose()
    if _redis_unavailable is not None:
        _service_missing("Redis", _redis_unavailable)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Subject:
    kind: str
    cache: Cache
    # Let `seconds` pass for the cache's TTLs: the fake clock moves, or real time passes.
    elapse: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    if request.param == "memory":
        clock = FakeClock()

        async def advance(seconds: float) -> None:
            clock.now += seconds

        cache = MemoryCache(clock=clock)
        yield Subject("memory", cache, advance)
        await cache.close()
        return

    url = os.environ.get("WHISTLE_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    await _require_redis(url)
    prefix = f"whistle:test:{uuid.uuid4().hex}:"
    cache = RedisCache(url, prefix=prefix)
    try:
        yield Subject("redis", cache, asyncio.sleep)
    finally:
        await cache.close()
        cleaner = redis.Redis.from_url(url)
        try:
            keys = [key async for key in cleaner.scan_iter(match=prefix + "*")]
            if keys:
                await cleaner.delete(*keys)
        finally:
            await cleaner.aclose()


async def test_both_adapters_satisfy_the_port() -> None:
    assert isinstance(MemoryCache(), Cache)
    cache = RedisCache(DEFAULT_REDIS_URL)  # no connection is made until used
    try:
        assert isinstance(cache, Cache)
    finally:
        await cache.close()


async def test_set_then_get_returns_only_the_hits(subject: Subject) -> None:
    cache = subject.cache
    assert await cache.get_many(["a", "b"]) == {}
    await cache.set_many({"a": 1, "b": "two"}, TTL)
    assert await cache.get_many(["a", "b", "c"]) == {"a": 1, "b": "two"}
    assert await cache.get_many(["c", "b"]) == {"b": "two"}
    assert await cache.get_many([]) == {}


async def test_set_replaces_and_a_stored_none_is_a_hit(subject: Subject) -> None:
    cache = subject.cache
    await cache.set_many({"k": "old"}, TTL)
    await cache.set_many({"k": None}, TTL)
    assert await cache.get_many(["k"]) == {"k": None}
    await cache.set_many({}, TTL)  # nothing to do


async def test_delete_forgets_only_the_given_keys(subject: Subject) -> None:
    cache = subject.cache
    await cache.set_many({"a": 1, "b": 2, "c": 3}, TTL)
    await cache.delete(["a", "c", "never-set"])
    await cache.delete([])
    assert await cache.get_many(["a", "b", "c"]) == {"b": 2}


async def test_entries_expire_after_their_ttl(subject: Subject) -> None:
    cache = subject.cache
    await cache.set_many({"short": 1}, 0.2)
    await cache.set_many({"long": 2}, TTL)
    assert await cache.get_many(["short", "long"]) == {"short": 1, "long": 2}
    await subject.elapse(0.3)
    assert await cache.get_many(["short", "long"]) == {"long": 2}


async def test_json_values_round_trip_as_fresh_copies(subject: Subject) -> None:
    cache = subject.cache
    referee = {"id": "r-1", "name": "Ana Müller", "licence": None, "level": 3, "tags": ["a", "b"], "ok": True}
    await cache.set_many({"referee:r-1": referee, "count": 0, "ratio": 0.5, "list": [1, None, "x"]}, TTL)
    got = await cache.get_many(["referee:r-1", "count", "ratio", "list"])
    assert got == {"referee:r-1": referee, "count": 0, "ratio": 0.5, "list": [1, None, "x"]}
    got["referee:r-1"]["name"] = "changed"
    assert (await cache.get_many(["referee:r-1"]))["referee:r-1"]["name"] == "Ana Müller"


async def test_a_value_that_is_not_json_is_a_caller_error(subject: Subject) -> None:
    with pytest.raises(TypeError):
        await subject.cache.set_many({"ok": 1, "bad": object()}, TTL)
    assert await subject.cache.get_many(["ok", "bad"]) == {}  # nothing was stored
    with pytest.raises(ValueError):
        await subject.cache.set_many({"k": 1}, 0)


async def test_memory_cache_evicts_the_least_recently_used() -> None:
    cache = MemoryCache(max_entries=3)
    await cache.set_many({"a": 1, "b": 2, "c": 3}, TTL)
    assert await cache.get_many(["a"]) == {"a": 1}  # "b" is now the least recently used
    await cache.set_many({"d": 4}, TTL)
    assert len(cache) == 3
    assert await cache.get_many(["a", "b", "c", "d"]) == {"a": 1, "c": 3, "d": 4}
    await cache.set_many({"c": 30}, TTL)  # rewriting refreshes too: "a" goes next
    await cache.set_many({"e": 5}, TTL)
    assert await cache.get_many(["a", "c", "d", "e"]) == {"c": 30, "d": 4, "e": 5}


async def test_memory_cache_drops_expired_entries_when_met() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    await cache.set_many({"a": 1}, 5)
    clock.now += 5  # the TTL has fully passed
    assert await cache.get_many(["a"]) == {}
    assert len(cache) == 0


# --- RedisCache through an outage ----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throw-away redis-server on `port`, without persistence."""

    def __init__(self, binary: str, port: int) -> None:
        self.binary = binary
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode} on port {self.port}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        _service_missing("redis-server", "the redis-server binary is not on PATH")
        raise AssertionError  # not reached
    server = RedisServer(binary, _free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _cache_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "whistle.cache" and r.levelno == level]


async def test_redis_cache_survives_an_outage_and_recovers(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="whistle.cache")
    cache = RedisCache(own_redis.url)
    try:
        await cache.set_many({"a": 1}, TTL)
        assert await cache.get_many(["a"]) == {"a": 1}
        assert _cache_records(caplog, logging.WARNING) == []

        own_redis.stop()
        started = time.monotonic()
        assert await cache.get_many(["a"]) == {}
        await cache.set_many({"b": 2}, TTL)
        await cache.delete(["a"])
        assert await cache.get_many(["a", "b"]) == {}
        assert time.monotonic() - started < 2.5  # no retry loop inside a call

        warnings = _cache_records(caplog, logging.WARNING)
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert "cache unavailable, reading through to the database" in warnings[0].getMessage()

        own_redis.start()  # same port, empty: nothing survived
        assert await cache.get_many(["a"]) == {}
        await cache.set_many({"c": 3}, TTL)
        assert await cache.get_many(["c"]) == {"c": 3}
        infos = [r.getMessage() for r in _cache_records(caplog, logging.INFO)]
        assert infos == ["cache available again"]
        assert len(_cache_records(caplog, logging.WARNING)) == 1
    finally:
        await cache.close()


async def test_redis_cache_gives_up_quickly_on_a_hung_server(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="whistle.cache")
    cache = RedisCache(own_redis.url)
    assert own_redis.process is not None
    try:
        await cache.set_many({"a": 1}, TTL)
        own_redis.process.send_signal(signal.SIGSTOP)  # accepts nothing, answers nothing
        try:
            started = time.monotonic()
            assert await cache.get_many(["a"]) == {}
            assert time.monotonic() - started < 1.5  # the ~0.5 s read timeout, once
        finally:
            own_redis.process.send_signal(signal.SIGCONT)
        assert await cache.get_many(["a"]) == {"a": 1}
        assert len(_cache_records(caplog, logging.WARNING)) == 1
        assert [r.getMessage() for r in _cache_records(caplog, logging.INFO)] == ["cache available again"]
    finally:
        await cache.close()


async def test_redis_cache_on_an_unreachable_server_is_a_miss(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="whistle.cache")
    cache = RedisCache(f"redis://127.0.0.1:{_free_port()}/0")  # nothing listens there
    try:
        assert await cache.get_many(["a"]) == {}
        await cache.set_many({"a": 1}, TTL)
        await cache.delete(["a"])
    finally:
        await cache.close()
    assert len(_cache_records(caplog, logging.WARNING)) == 1


async def test_memory_cache_derives_a_value_once_per_entry_and_drops_it_with_the_entry() -> None:
    clock = FakeClock()
    cache = MemoryCache(clock=clock)
    made: list[str] = []

    def derive(key: str, value: dict[str, str]) -> tuple[str, str]:
        made.append(key)
        return (key, value["name"])

    await cache.set_many({"a": {"name": "Ana"}, "b": {"name": "Ben"}}, 5)
    first = cache.peek_derived(["a", "b"], derive)
    assert first == {"a": ("a", "Ana"), "b": ("b", "Ben")}
    again = cache.peek_derived(["a"], derive)
    assert again is not None and again["a"] is first["a"]  # kept with the entry, shared
    assert made == ["a", "b"]

    await cache.set_many({"a": {"name": "Anna"}}, 5)  # a new value: derived anew
    assert cache.peek_derived(["a"], derive) == {"a": ("a", "Anna")}
    await cache.delete(["b"])
    assert cache.peek_derived(["a", "b"], derive) is None  # one miss: the caller reads as usual
    clock.now += 5
    assert cache.peek_derived(["a"], derive) is None  # expired
    assert made == ["a", "b", "a"]


async def test_memory_cache_derived_value_that_fails_is_a_miss() -> None:
    cache = MemoryCache()
    await cache.set_many({"a": {"name": "Ana"}}, TTL)

    def broken(key: str, value: object) -> object:
        raise ValueError("no")

    assert cache.peek_derived(["a"], broken) is None
    assert await cache.get_many(["a"]) == {"a": {"name": "Ana"}}  # the entry itself is untouched
