"""The event bus port: how committed domain events travel after the outbox.

Two adapters implement it with the same semantics: `RedisStreamBus` (one Redis
stream, for deployments with several instances) and `MemoryBus` (in-process, for the
embedded backend and tests).

- `publish` appends envelopes in order. Delivery is at least once everywhere:
  consumers dedupe by `envelope.id`.
- `tail()` is a fan-out view: every caller sees every envelope published after its
  starting position (instances use it to feed their GraphQL subscriptions).
- `group(name, consumer)` is a competing-consumers view: each envelope goes to one
  consumer of the group and stays pending until acked; entries left unacked (a
  crashed consumer) longer than `min_idle_ms` are handed out again, with a higher
  `delivery_count`. `dead_letter` sets a poisonous one aside for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from app.events.envelope import Envelope, _text


class BusUnavailable(Exception):
    """The bus cannot be reached now; retry later."""


@dataclass(frozen=True)
class Delivery:
    envelope: Envelope
    message_id: str  # stream entry id (memory adapter: its own counter "n-0")
    delivery_count: int  # 1 on first delivery, incremented on every redelivery


@dataclass(frozen=True)
class DeadLetter:
    """A delivery set aside by `ConsumerGroup.dead_letter`: an entry of `<stream>:dead`
    on Redis, an item of `MemoryBus.dead_letters` in process."""

    envelope: Envelope
    error: str
    group: str
    consumer: str
    message_id: str  # the entry id in the main stream
    delivery_count: int

    def to_fields(self) -> dict[str, str]:
        return {
            **self.envelope.to_fields(),
            "error": self.error,
            "group": self.group,
            "consumer": self.consumer,
            "message_id": self.message_id,
            "delivery_count": str(self.delivery_count),
        }

    @classmethod
    def from_fields(cls, fields: Mapping[bytes | str, bytes | str]) -> DeadLetter:
        text = {_text(key): _text(value) for key, value in fields.items()}
        return cls(
            envelope=Envelope.from_fields(text),
            error=text["error"],
            group=text["group"],
            consumer=text["consumer"],
            message_id=text["message_id"],
            delivery_count=int(text["delivery_count"]),
        )


class Tail(Protocol):
    """What `EventBus.tail()` returns: an async iterator of envelopes, in publish order.

    It ends (StopAsyncIteration) only when closed, by `aclose()` or by closing the bus.
    Use it as `async with bus.tail() as tail: async for envelope in tail: ...`, or
    iterate it directly and `aclose()` it when done.
    """

    def __aiter__(self) -> Tail: ...

    async def __anext__(self) -> Envelope: ...

    async def ready(self) -> None:
        """Return once the starting position is fixed: every envelope published after
        this returns is seen. (The in-process tail is ready on creation; the Redis one
        asks Redis for the stream's last entry id, retrying while Redis is unreachable.)"""
        ...

    async def aclose(self) -> None:
        """Stop: release what the tail holds; iteration ends. Idempotent."""
        ...

    async def __aenter__(self) -> Tail:
        """`await self.ready()`, then self."""
        ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class ConsumerGroup(Protocol):
    async def read(self, count: int = 100, block_ms: int = 1000) -> list[Delivery]:
        """New deliveries for this consumer, plus entries pending (unacked) for longer than
        `min_idle_ms` on ANY consumer of the group (reclaimed: XAUTOCLAIM), so a crashed
        consumer's work resumes. Blocks up to block_ms when there is nothing (block_ms <= 0:
        does not block).

        Never raises BusUnavailable: while the bus is unreachable it logs a warning, waits
        about block_ms and returns []; once reachable again it resumes by itself (on Redis
        re-creating the group at "0" when a restart lost it). Raises RuntimeError once the
        bus is closed."""
        ...

    async def ack(self, delivery: Delivery) -> None:
        """Done with it: it will not be delivered again. Best effort: when the bus is
        unreachable it logs a warning and the entry stays pending, to be redelivered later
        (consumers dedupe by envelope.id)."""
        ...

    async def dead_letter(self, delivery: Delivery, error: str) -> None:
        """Set aside in the dead-letter stream `<stream>:dead` (with the error and group name), and ack.
        Both happen or neither (MULTI on Redis); when the bus is unreachable it logs a warning
        and the entry stays pending, to be redelivered later."""
        ...


class EventBus(Protocol):
    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        """Append in order; raises BusUnavailable when it cannot (nothing partially lost: caller retries all,
        consumers dedupe by envelope.id). Raises RuntimeError once the bus is closed."""
        ...

    def tail(self) -> Tail:
        """Every envelope published from the moment of the call on, in order, to THIS caller (fan-out:
        every instance sees every event). See `Tail.ready()` for when "the moment" is exactly.
        On Redis, when Redis is unreachable it keeps retrying with capped backoff (logs a
        warning, no exception escapes) and resumes from the last id seen, so nothing is missed
        while the stream still holds it."""
        ...

    def group(self, name: str, consumer: str, min_idle_ms: int = 30000) -> ConsumerGroup:
        """A consumer group reading the stream from its beginning position "0" when created (XGROUP CREATE
        ... MKSTREAM, ignore BUSYGROUP)."""
        ...

    async def close(self) -> None:
        """Close every tail (their iteration ends) and release connections. Idempotent."""
        ...
