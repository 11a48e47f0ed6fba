"""The in-process event bus: the embedded backend's adapter, with the semantics of
the Redis one (see app/events/bus.py) inside one process."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from app.events.bus import DeadLetter, Delivery
from app.events.envelope import Envelope

log = logging.getLogger("whistle.events")

_END = object()  # queued into a tail when it is closed


class MemoryBus:
    """Every published envelope is kept (the newest `maxlen`) with its own entry id
    "n-0" (n counting from 1); tails get theirs through bounded queues; groups keep a
    position in the log plus their pending entries."""

    def __init__(self, *, maxlen: int = 100_000, tail_buffer: int = 10_000) -> None:
        self.dead_letters: list[DeadLetter] = []
        self._maxlen = maxlen
        self._tail_buffer = tail_buffer
        self._log: deque[tuple[int, Envelope]] = deque(maxlen=maxlen)
        self._last_n = 0
        self._tails: set[MemoryTail] = set()
        self._groups: dict[str, _GroupState] = {}
        self._waiters: set[asyncio.Future[None]] = set()
        self._closed = False

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        self._check_open()
        for envelope in envelopes:
            self._last_n += 1
            self._log.append((self._last_n, envelope))
            for tail in list(self._tails):
                tail._offer(envelope)
        if envelopes:
            self._wake()

    def tail(self) -> MemoryTail:
        self._check_open()
        tail = MemoryTail(self, self._tail_buffer)
        self._tails.add(tail)
        return tail

    def group(self, name: str, consumer: str, min_idle_ms: int = 30000) -> MemoryConsumerGroup:
        self._check_open()
        state = self._groups.get(name)
        if state is None:
            state = self._groups[name] = _GroupState()
        return MemoryConsumerGroup(self, name, state, consumer, min_idle_ms)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for tail in list(self._tails):
            await tail.aclose()
        self._wake()

    # -- inside the adapter --

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the event bus is closed")

    def _entries_after(self, n: int, count: int) -> list[tuple[int, Envelope]]:
        if not self._log or count <= 0:
            return []
        first_n = self._log[0][0]
        start = max(n + 1 - first_n, 0)
        return [self._log[i] for i in range(start, min(start + count, len(self._log)))]

    async def _wait_for_publish(self, timeout: float) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()


class MemoryTail:
    def __init__(self, bus: MemoryBus, buffer: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=buffer + 1)  # +1: room for _END
        self._buffer = buffer
        self._closed = False
        self._overflowing = False

    def __aiter__(self) -> MemoryTail:
        return self

    async def __anext__(self) -> Envelope:
        if self._closed:
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _END:
            self._queue.put_nowait(_END)  # for any other reader
            raise StopAsyncIteration
        self._overflowing = False
        assert isinstance(item, Envelope)
        return item

    async def ready(self) -> None:
        return None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus._tails.discard(self)
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)

    async def __aenter__(self) -> MemoryTail:
        await self.ready()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _offer(self, envelope: Envelope) -> None:
        """Queue without waiting; a reader `buffer` envelopes behind loses the oldest
        (as a Redis tail lagging past the stream's MAXLEN would)."""
        if self._queue.qsize() >= self._buffer:
            self._queue.get_nowait()
            if not self._overflowing:
                self._overflowing = True
                log.warning("event tail %x is %d envelopes behind: dropping the oldest", id(self), self._buffer)
        self._queue.put_nowait(envelope)


@dataclass
class _Pending:
    envelope: Envelope
    consumer: str
    delivery_count: int
    delivered_at: float  # loop time


class _GroupState:
    def __init__(self) -> None:
        self.last_delivered = 0  # created at "0": from the beginning
        self.pending: dict[int, _Pending] = {}  # in entry order


class MemoryConsumerGroup:
    def __init__(self, bus: MemoryBus, name: str, state: _GroupState, consumer: str, min_idle_ms: int) -> None:
        self._bus = bus
        self._state = state
        self.name = name
        self.consumer = consumer
        self.min_idle_ms = min_idle_ms

    async def read(self, count: int = 100, block_ms: int = 1000) -> list[Delivery]:
        self._bus._check_open()
        deliveries = self._reclaim(count)
        deliveries += self._read_new(count - len(deliveries))
        if not deliveries and block_ms > 0 and count > 0:
            await self._bus._wait_for_publish(block_ms / 1000)
            if self._bus._closed:
                return []
            deliveries = self._read_new(count)
        return deliveries

    async def ack(self, delivery: Delivery) -> None:
        self._state.pending.pop(_entry_n(delivery.message_id), None)

    async def dead_letter(self, delivery: Delivery, error: str) -> None:
        self._bus.dead_letters.append(
            DeadLetter(
                envelope=delivery.envelope,
                error=error,
                group=self.name,
                consumer=self.consumer,
                message_id=delivery.message_id,
                delivery_count=delivery.delivery_count,
            )
        )
        self._state.pending.pop(_entry_n(delivery.message_id), None)

    def _reclaim(self, count: int) -> list[Delivery]:
        now = asyncio.get_running_loop().time()
        idle = self.min_idle_ms / 1000
        deliveries = []
        for n, entry in self._state.pending.items():
            if len(deliveries) >= count:
                break
            if now - entry.delivered_at >= idle:
                entry.consumer = self.consumer
                entry.delivery_count += 1
                entry.delivered_at = now
                deliveries.append(Delivery(entry.envelope, f"{n}-0", entry.delivery_count))
        return deliveries

    def _read_new(self, count: int) -> list[Delivery]:
        now = asyncio.get_running_loop().time()
        deliveries = []
        for n, envelope in self._bus._entries_after(self._state.last_delivered, count):
            self._state.last_delivered = n
            self._state.pending[n] = _Pending(envelope, self.consumer, 1, now)
            deliveries.append(Delivery(envelope, f"{n}-0", 1))
        return deliveries


def _entry_n(message_id: str) -> int:
    return int(message_id.split("-", 1)[0])
