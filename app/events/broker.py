"""The subscription broker: ONE reader of the bus per server instance, fanned out to
this instance's GraphQL subscribers.

Each subscriber has a bounded queue. A subscriber that falls that far behind is
cut off (its subscription ends with a SUBSCRIPTION_OVERFLOW error and the client
may resubscribe) instead of holding up the others or growing memory without end.
Duplicates (same event id) and stale deliveries (an older version of an aggregate
than one already passed on) are dropped, so nobody sees state move backwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

from app.events.bus import EventBus
from app.events.envelope import Envelope

log = logging.getLogger("whistle.broker")

Wants = Callable[[Envelope], bool]
Listener = Callable[[Envelope], Awaitable[None]]


class SubscriberOverflow(Exception):
    """The subscriber fell more than its queue size behind and was cut off."""


class _Closed:
    pass


_CLOSED = _Closed()


class Subscriber:
    def __init__(self, wants: Wants, size: int) -> None:
        self.wants = wants
        self._queue: asyncio.Queue[Envelope | _Closed] = asyncio.Queue(size)
        self.overflowed = False

    def offer(self, event: Envelope) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self._drain()
            self._queue.put_nowait(_CLOSED)

    def close(self) -> None:
        self._drain()
        self._queue.put_nowait(_CLOSED)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    async def __aiter__(self) -> AsyncIterator[Envelope]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _Closed):
                if self.overflowed:
                    raise SubscriberOverflow
                return
            yield item


class _Recent:
    """A bounded memory of what was passed on: event ids and the newest version per aggregate."""

    def __init__(self, size: int = 50_000) -> None:
        self._ids: OrderedDict[UUID, None] = OrderedDict()
        self._versions: OrderedDict[UUID, int] = OrderedDict()
        self._size = size

    def is_new(self, event: Envelope) -> bool:
        if event.id in self._ids or event.version < self._versions.get(event.aggregate_id, 0):
            return False
        self._remember(self._ids, event.id, None)
        self._remember(self._versions, event.aggregate_id, event.version)
        return True

    def _remember(self, store: OrderedDict, key: UUID, value: object) -> None:  # type: ignore[type-arg]
        store[key] = value
        store.move_to_end(key)
        if len(store) > self._size:
            store.popitem(last=False)


class Broker:
    def __init__(self, bus: EventBus, queue_size: int = 256) -> None:
        self._bus = bus
        self._queue_size = queue_size
        self._subscribers: set[Subscriber] = set()
        self._listeners: list[Listener] = []
        self._recent = _Recent()
        self.started = asyncio.Event()

    def add_listener(self, listener: Listener) -> None:
        """Await `listener` on every new event before subscribers get it (cache invalidation:
        a subscriber reacting to an event then reads the new state)."""
        self._listeners.append(listener)

    def subscribe(self, wants: Wants) -> Subscriber:
        subscriber = Subscriber(wants, self._queue_size)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def dispatch(self, event: Envelope) -> None:
        if not self._recent.is_new(event):
            return
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("event listener failed on %s", event.type)
        for subscriber in list(self._subscribers):
            if subscriber.wants(event):
                subscriber.offer(event)
                if subscriber.overflowed:
                    self._subscribers.discard(subscriber)
                    log.warning("a subscriber fell %d events behind and was cut off", self._queue_size)

    async def run(self) -> None:
        """Read the bus until cancelled; then end every subscription cleanly."""
        try:
            async with self._bus.tail() as tail:  # ready: every later event reaches us
                self.started.set()
                async for event in tail:
                    await self.dispatch(event)
        finally:
            self.close()

    def close(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
        self._subscribers.clear()
