"""The Redis cache adapter: one cache shared by every instance of the server."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.cache.port import check_ttl

log = logging.getLogger("whistle.cache")

# An outage must cost a request little: short timeouts, and no retry inside a call.
SOCKET_TIMEOUT_SECONDS = 0.5
# What an unreachable or failing Redis raises (redis.exceptions.ConnectionError and
# TimeoutError are RedisErrors; the builtins cover what escapes redis-py unwrapped).
UNAVAILABLE = (RedisError, ConnectionError, TimeoutError, OSError)


class RedisCache:
    """A `Cache` in Redis, values as compact JSON under `prefix` + key.

    When Redis cannot answer, reads are misses and writes and deletes are skipped;
    the first failure of an outage logs one warning, the first success after it one
    info. Each call tries Redis again, so the cache recovers by itself.
    """

    def __init__(self, url: str, prefix: str = "whistle:cache:") -> None:
        self._prefix = prefix
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._available = True

    async def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        try:
            raw = await self._client.mget([self._prefix + key for key in keys])
        except UNAVAILABLE as error:
            self._unavailable(error)
            return {}
        self._reachable()
        hits: dict[str, Any] = {}
        for key, payload in zip(keys, raw):
            if payload is None:
                continue
            try:
                hits[key] = orjson.loads(payload)
            except orjson.JSONDecodeError:
                log.debug("cache entry %r is not JSON, treated as a miss", self._prefix + key)
        return hits

    async def set_many(self, values: Mapping[str, Any], ttl_seconds: float) -> None:
        check_ttl(ttl_seconds)
        if not values:
            return
        # Serialize before talking to Redis: a bad value is the caller's error and stores nothing.
        payloads = {self._prefix + key: orjson.dumps(value) for key, value in values.items()}
        ttl_ms = max(1, round(ttl_seconds * 1000))
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, payload in payloads.items():
                    pipe.set(key, payload, px=ttl_ms)
                await pipe.execute()
        except UNAVAILABLE as error:
            self._unavailable(error)
            return
        self._reachable()

    async def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        try:
            await self._client.delete(*(self._prefix + key for key in keys))
        except UNAVAILABLE as error:
            self._unavailable(error)
            return
        self._reachable()

    async def close(self) -> None:
        try:
            await self._client.aclose()
        except UNAVAILABLE as error:  # closing a broken connection must not fail shutdown
            log.debug("closing the cache client failed: %r", error)

    def _unavailable(self, error: BaseException) -> None:
        if self._available:
            self._available = False
            log.warning(
                "cache unavailable, reading through to the database (%s: %s)", type(error).__name__, error
            )

    def _reachable(self) -> None:
        if not self._available:
            self._available = True
            log.info("cache available again")
