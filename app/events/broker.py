"""The subscription broker: ONE reader of the bus per server instance, fanned out to
this instance's GraphQL subscribers.

Each subscriber has a bounded queue. A subscriber that falls that far behind is
cut off (its subscription ends with a SUBSCRIPTION_OVERFLOW error and the client
may resubscribe) instead of holding up the others or growing memory without end.
Duplicates (same event id) and stale deliveries (an older version of an aggregate
than one already passed on) are dropped, so nobody sees state move backwards.

With an event log (the outbox by position), events are passed on in position order
and without gaps: an event that arrives after a gap (the bus lost or has not yet
delivered what came before) brings the missing ones from the log first, and a sweep
every second catches up with the log should the bus be silent or down. A subscriber
may also resume after an event id: the log's events after it come first, then the
live ones, without a gap or a duplicate at the seam (`stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID

from app.events.bus import EventBus
from app.events.envelope import Envelope
from app.events.event_log import EventLog

log = logging.getLogger("whistle.broker")

Wants = Callable[[Envelope], bool]
REPLAY_PAGE = 500  # events read from the log at a time
Listener = Callable[[Envelope], Awaitable[None]]


class SubscriberOverflow(Exception):
    """The subscriber fell more than its queue size behind and was cut off."""


class CursorNotIssued(Exception):
    """A subscriber resumes after a position that was never handed out."""


class CursorExpired(Exception):
    """A subscriber resumes after a position whose successors were pruned from the log."""


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
    def __init__(
        self, bus: EventBus, queue_size: int = 256, log: EventLog | None = None, sweep_interval: float = 1.0
    ) -> None:
        self._bus = bus
        self._queue_size = queue_size
        self._log = log
        self._sweep_interval = sweep_interval
        self._subscribers: set[Subscriber] = set()
        self._listeners: list[Listener] = []
        self._recent = _Recent()
        self._position: int | None = None  # the last position passed on (with a log)
        self._in_order = asyncio.Lock()
        self._log_down = False
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

    async def stream(self, wants: Wants, after: int | None = None) -> AsyncIterator[Envelope]:
        """The events `wants` picks: with `after`, first those after that position from the
        log, then the live ones. Live is subscribed first and buffered while the log is read,
        so nothing falls between the two; what both give is passed on once.
        Raises CursorNotIssued or CursorExpired before the first event."""
        subscriber = self.subscribe(wants)
        try:
            last = after
            if after is not None:
                async with contextlib.aclosing(self._replay(after, wants)) as replayed:
                    async for event in replayed:
                        last = event.position
                        yield event
            async for event in subscriber:
                if last is not None and event.position is not None and event.position <= last:
                    continue
                yield event
        finally:
            self.unsubscribe(subscriber)

    async def _replay(self, after: int, wants: Wants) -> AsyncIterator[Envelope]:
        if self._log is None:
            raise RuntimeError("resuming needs the event log")
        newest = await self._log.last_position()
        if after > newest:
            raise CursorNotIssued(after)
        if after == newest:
            return
        page = await self._log.after(after, REPLAY_PAGE)
        if not page or page[0].position != after + 1:
            raise CursorExpired(after)  # pruned: positions are a gap-free prefix-pruned series
        while page:
            for event in page:
                if wants(event):
                    yield event
            if len(page) < REPLAY_PAGE:
                return  # the rest is live: published after the subscriber was registered
            assert page[-1].position is not None
            page = await self._log.after(page[-1].position, REPLAY_PAGE)

    async def run(self) -> None:
        """Read the bus until cancelled; then end every subscription cleanly."""
        sweeper: asyncio.Task[None] | None = None
        try:
            async with self._bus.tail() as tail:  # ready: every later event reaches us
                if self._log is not None:
                    self._position = await self._start_position()
                    sweeper = asyncio.create_task(self._sweep(), name="broker-sweep")
                self.started.set()
                async for event in tail:
                    await self._arrive(event)
        finally:
            if sweeper is not None:
                sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweeper
            self.close()

    async def _start_position(self) -> int:
        assert self._log is not None
        while True:
            try:
                return await self._log.last_position()
            except Exception as error:  # the database is down: the lifespan waits with us
                log.warning("cannot read the event log, retrying: %s", error)
                await asyncio.sleep(self._sweep_interval)

    async def _arrive(self, event: Envelope) -> None:
        if self._position is None or event.position is None:
            await self.dispatch(event)
            return
        async with self._in_order:
            if event.position <= self._position:
                return  # passed on already, from the log or an earlier delivery
            if event.position == self._position + 1:
                await self._dispatch_next(event)
                return
        await self._catch_up()  # a gap: the log has it all, this event included

    async def _dispatch_next(self, event: Envelope) -> None:
        self._position = event.position
        await self.dispatch(event)

    async def _catch_up(self) -> None:
        """Pass on every event the log has after the last one passed on."""
        assert self._log is not None
        async with self._in_order:
            assert self._position is not None
            try:
                while page := await self._log.after(self._position, REPLAY_PAGE):
                    for event in page:
                        await self._dispatch_next(event)
            except Exception as error:  # the sweep tries again
                if not self._log_down:
                    log.warning("cannot read the event log to catch up: %s", error)
                self._log_down = True
                return
            self._log_down = False

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            await self._catch_up()

    def close(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.close()
        self._subscribers.clear()
