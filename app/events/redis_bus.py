"""The event bus on one Redis stream (see app/events/bus.py for the semantics).

Two clients, each with its own connection pool: one for commands (XADD, XACK,
XAUTOCLAIM, ...) with short socket timeouts, one for the blocking reads (XREAD and
XREADGROUP with BLOCK), so that a tail or a group waiting for news never holds up a
publish. A blocking read is bounded by its BLOCK time plus the socket timeout, so a
dead Redis is noticed within seconds either way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.events.bus import BusUnavailable, DeadLetter, Delivery
from app.events.envelope import Envelope

log = logging.getLogger("whistle.events")

# Redis cannot be reached (refused, reset, timed out, still loading after a restart).
UNREACHABLE: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, OSError)

_END = object()  # queued into a tail when it is closed


class _Closed(Exception):
    """A blocking read was cut short by `RedisStreamBus.close()`."""


class _Backoff:
    """Capped exponential delays with jitter: 0.1 s, 0.2 s, ... up to `cap`."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self._first = first
        self._cap = cap
        self.failures = 0

    def next(self) -> float:
        delay = min(self._cap, self._first * 2**self.failures)
        self.failures += 1
        return delay * random.uniform(0.75, 1.0)

    def reset(self) -> None:
        self.failures = 0


class RedisStreamBus:
    """Envelopes are entries of the stream `stream` (fields: `Envelope.to_fields()`),
    trimmed to about `maxlen` entries; dead letters go to `<stream>:dead`."""

    def __init__(
        self,
        url: str,
        stream: str = "whistle:events",
        maxlen: int = 100_000,
        *,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        tail_block_ms: int = 5000,
        reconnect_cap: float = 5.0,
    ) -> None:
        self._stream = stream
        self._maxlen = maxlen
        self._socket_timeout = socket_timeout
        self._tail_block_ms = tail_block_ms
        self._reconnect_cap = reconnect_cap
        common: dict[str, Any] = {
            "decode_responses": True,
            "socket_connect_timeout": connect_timeout,
            "socket_keepalive": True,
        }
        # One immediate retry on each: a pooled connection may be stale after a Redis
        # restart (redis-py does not always notice before using it).
        self._redis: Redis = Redis.from_url(
            url, socket_timeout=socket_timeout, retry=Retry(NoBackoff(), 1), health_check_interval=30, **common
        )
        # No socket timeout here: every blocking read gets its own bound (`_blocking_call`).
        self._blocking: Redis = Redis.from_url(url, socket_timeout=None, retry=Retry(NoBackoff(), 1), **common)
        self._tails: set[RedisTail] = set()
        self._blocking_reads: set[asyncio.Future[Any]] = set()
        self._closed = False

    @property
    def stream(self) -> str:
        return self._stream

    @property
    def dead_stream(self) -> str:
        return f"{self._stream}:dead"

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        self._check_open()
        if not envelopes:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for envelope in envelopes:
                    pipe.xadd(self._stream, envelope.to_fields(), maxlen=self._maxlen, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise BusUnavailable(f"cannot publish to Redis stream {self._stream!r}: {error}") from error

    def tail(self) -> RedisTail:
        self._check_open()
        tail = RedisTail(self)
        self._tails.add(tail)
        return tail

    def group(self, name: str, consumer: str, min_idle_ms: int = 30000) -> RedisConsumerGroup:
        self._check_open()
        return RedisConsumerGroup(self, name, consumer, min_idle_ms)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for tail in list(self._tails):
            await tail.aclose()
        for read in list(self._blocking_reads):
            read.cancel()
        if self._blocking_reads:
            await asyncio.wait(list(self._blocking_reads))
        await self._blocking.aclose()
        await self._redis.aclose()

    # -- inside the adapter --

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the event bus is closed")

    async def _blocking_call(self, block_ms: int, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A blocking read, given up (TimeoutError) when no answer came within its BLOCK
        time plus the socket timeout (redis-py drops a connection whose read is cut short).
        It runs as a task of its own that `close()` cancels: then this raises _Closed."""

        async def bounded() -> Any:
            async with asyncio.timeout(max(block_ms, 0) / 1000 + self._socket_timeout):
                return await call(*args, **kwargs)

        self._check_open()
        read = asyncio.ensure_future(bounded())
        self._blocking_reads.add(read)
        try:
            await asyncio.wait([read])
        finally:
            self._blocking_reads.discard(read)
            if not read.done():  # we are cancelled
                read.cancel()
                await asyncio.wait([read])
        if read.cancelled():
            raise _Closed
        return read.result()

    async def _last_entry_id(self) -> str:
        entries = await self._redis.xrevrange(self._stream, "+", "-", count=1)
        return str(entries[0][0]) if entries else "0-0"


class RedisTail:
    """A background task reads the stream (XREAD BLOCK) from the tail's position into a
    bounded queue that the caller drains; it never gives up: while Redis is unreachable
    it retries with capped backoff and resumes after the last entry id seen."""

    def __init__(self, bus: RedisStreamBus, read_ahead: int = 1000) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=read_ahead)
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._closed = False
        self.last_id: str | None = None  # the entry id to read after; None until ready
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # started on first use
        else:
            self._start()

    def __aiter__(self) -> RedisTail:
        return self

    async def __anext__(self) -> Envelope:
        if self._closed:
            raise StopAsyncIteration
        self._start()
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # for any other reader
            raise StopAsyncIteration
        assert isinstance(item, Envelope)
        return item

    async def ready(self) -> None:
        if self._closed:
            return
        self._start()
        assert self._ready is not None
        await asyncio.shield(self._ready)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._tails.discard(self)
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)

    async def __aenter__(self) -> RedisTail:
        await self.ready()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _start(self) -> None:
        if self._task is None and not self._closed:
            loop = asyncio.get_running_loop()
            self._ready = loop.create_future()
            self._task = loop.create_task(self._run(), name=f"event tail on {self._bus.stream}")

    async def _run(self) -> None:
        bus = self._bus
        backoff = _Backoff(cap=bus._reconnect_cap)
        while True:
            try:
                if self.last_id is None:
                    self.last_id = await bus._last_entry_id()
                    assert self._ready is not None
                    if not self._ready.done():
                        self._ready.set_result(None)
                response = await bus._blocking_call(
                    bus._tail_block_ms,
                    bus._blocking.xread,
                    {bus.stream: self.last_id},
                    count=100,
                    block=bus._tail_block_ms,
                )
            except UNREACHABLE as error:
                if backoff.failures:
                    log.debug("event tail on %s: Redis still unreachable (%s)", bus.stream, error)
                else:
                    log.warning(
                        "event tail on %s: Redis unreachable (%s: %s); retrying, will resume after %s",
                        bus.stream,
                        type(error).__name__,
                        error,
                        self.last_id or "the stream's last entry",
                    )
                await asyncio.sleep(backoff.next())
                continue
            except Exception:
                log.exception("event tail on %s: unexpected error; retrying", bus.stream)
                await asyncio.sleep(backoff.next())
                continue
            if backoff.failures:
                log.warning("event tail on %s: Redis reachable again, resuming after %s", bus.stream, self.last_id)
                backoff.reset()
            for _stream, entries in response or ():
                for entry_id, fields in entries:
                    self.last_id = entry_id
                    envelope = _parse(bus.stream, entry_id, fields)
                    if envelope is not None:
                        await self._queue.put(envelope)


class RedisConsumerGroup:
    def __init__(self, bus: RedisStreamBus, name: str, consumer: str, min_idle_ms: int) -> None:
        self._bus = bus
        self.name = name
        self.consumer = consumer
        self.min_idle_ms = min_idle_ms
        self._created = False
        self._claim_cursor = "0-0"  # where the next XAUTOCLAIM sweep of the pending entries goes on
        self._unreachable = False

    async def read(self, count: int = 100, block_ms: int = 1000) -> list[Delivery]:
        self._bus._check_open()
        try:
            try:
                deliveries = await self._read(count, block_ms)
            except ResponseError as error:
                if not str(error).startswith("NOGROUP"):
                    raise
                log.warning(
                    "consumer group %s on %s is gone (Redis restarted without its data?): re-creating it at 0",
                    self.name,
                    self._bus.stream,
                )
                self._created = False
                self._claim_cursor = "0-0"
                deliveries = await self._read(count, block_ms)
        except _Closed:
            return []  # as a read blocked when the bus closes; the next one raises RuntimeError
        except UNREACHABLE as error:
            if self._bus._closed:
                raise RuntimeError("the event bus is closed") from error
            if self._unreachable:
                log.debug("consumer group %s on %s: Redis still unreachable (%s)", self.name, self._bus.stream, error)
            else:
                self._unreachable = True
                log.warning(
                    "consumer group %s on %s: Redis unreachable (%s: %s); retrying",
                    self.name,
                    self._bus.stream,
                    type(error).__name__,
                    error,
                )
            await asyncio.sleep(max(block_ms, 100) / 1000)
            return []
        if self._unreachable:
            self._unreachable = False
            log.warning("consumer group %s on %s: Redis reachable again", self.name, self._bus.stream)
        return deliveries

    async def ack(self, delivery: Delivery) -> None:
        self._bus._check_open()
        try:
            await self._bus._redis.xack(self._bus.stream, self.name, delivery.message_id)
        except UNREACHABLE as error:
            log.warning(
                "consumer group %s: cannot ack %s (%s); it will be redelivered", self.name, delivery.message_id, error
            )

    async def dead_letter(self, delivery: Delivery, error: str) -> None:
        self._bus._check_open()
        letter = DeadLetter(
            envelope=delivery.envelope,
            error=error,
            group=self.name,
            consumer=self.consumer,
            message_id=delivery.message_id,
            delivery_count=delivery.delivery_count,
        )
        try:
            async with self._bus._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(self._bus.dead_stream, letter.to_fields(), maxlen=self._bus._maxlen, approximate=True)  # type: ignore[arg-type]
                pipe.xack(self._bus.stream, self.name, delivery.message_id)
                await pipe.execute()
        except UNREACHABLE as failure:
            log.warning(
                "consumer group %s: cannot dead-letter %s (%s); it will be redelivered",
                self.name,
                delivery.message_id,
                failure,
            )

    async def _read(self, count: int, block_ms: int) -> list[Delivery]:
        bus, redis = self._bus, self._bus._redis
        if not self._created:
            try:
                await redis.xgroup_create(bus.stream, self.name, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise
            self._created = True
        if count <= 0:
            return []
        deliveries = await self._reclaim(count)
        remaining = count - len(deliveries)
        if remaining <= 0:
            return deliveries
        if deliveries or block_ms <= 0:
            response = await redis.xreadgroup(self.name, self.consumer, {bus.stream: ">"}, count=remaining)
        else:
            response = await bus._blocking_call(
                block_ms,
                bus._blocking.xreadgroup,
                self.name,
                self.consumer,
                {bus.stream: ">"},
                count=remaining,
                block=block_ms,
            )
        for _stream, entries in response or ():
            for entry_id, fields in entries:
                envelope = await self._parse_or_drop(entry_id, fields)
                if envelope is not None:
                    deliveries.append(Delivery(envelope, entry_id, 1))
        return deliveries

    async def _reclaim(self, count: int) -> list[Delivery]:
        """Take over entries pending longer than min_idle_ms on any consumer (XAUTOCLAIM
        bumps their delivery count), sweeping the pending list across calls."""
        bus, redis = self._bus, self._bus._redis
        result = await redis.xautoclaim(
            bus.stream, self.name, self.consumer, self.min_idle_ms, start_id=self._claim_cursor, count=count
        )
        self._claim_cursor = str(result[0])
        claimed = [(entry_id, fields) for entry_id, fields in result[1] if entry_id is not None]
        if len(result) > 2 and result[2]:
            log.warning(
                "consumer group %s on %s: %d pending entries were trimmed from the stream before being acked",
                self.name,
                bus.stream,
                len(result[2]),
            )
        if not claimed:
            return []
        async with redis.pipeline(transaction=False) as pipe:
            for entry_id, _fields in claimed:
                pipe.xpending_range(bus.stream, self.name, entry_id, entry_id, 1)
            infos = await pipe.execute()
        deliveries = []
        for (entry_id, fields), info in zip(claimed, infos, strict=True):
            if not info or info[0]["consumer"] != self.consumer:
                continue  # acked or claimed by another consumer in the meantime
            envelope = await self._parse_or_drop(entry_id, fields)
            if envelope is not None:
                deliveries.append(Delivery(envelope, entry_id, int(info[0]["times_delivered"])))
        return deliveries

    async def _parse_or_drop(self, entry_id: str, fields: dict[str, str]) -> Envelope | None:
        """The entry's envelope; a malformed entry (not written by publish) is logged and acked."""
        envelope = _parse(self._bus.stream, entry_id, fields)
        if envelope is None:
            await self._bus._redis.xack(self._bus.stream, self.name, entry_id)
        return envelope


def _parse(stream: str, entry_id: str, fields: dict[str, str]) -> Envelope | None:
    try:
        return Envelope.from_fields(fields)
    except (KeyError, ValueError) as error:
        log.error("skipping malformed entry %s of %s: %s", entry_id, stream, error)
        return None
