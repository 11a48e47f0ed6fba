"""Run a consumer group: apply each event once, retry failures, set poison aside.

A handler that raises leaves its event unacknowledged: the bus redelivers it once
it has been pending for the group's idle time (also to another instance, should this
one have crashed). After `max_deliveries` attempts the event goes to the dead-letter
stream, so one poison event never blocks the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.events.bus import BusUnavailable, ConsumerGroup, Delivery
from app.events.envelope import Envelope

log = logging.getLogger("whistle.consumer")

Handler = Callable[[Envelope], Awaitable[None]]


async def consume(group: ConsumerGroup, handle: Handler, *, name: str, max_deliveries: int = 5) -> None:
    """Consume until cancelled; an unreachable bus is waited out with capped backoff."""
    backoff = 0.0
    while True:
        try:
            for delivery in await group.read(count=100, block_ms=1000):
                await _apply(group, delivery, handle, name, max_deliveries)
            backoff = 0.0
        except BusUnavailable as error:
            backoff = min(5.0, max(0.1, backoff * 2))
            log.warning("%s: event bus unavailable, retrying in %.1f s: %s", name, backoff, error)
            await asyncio.sleep(backoff)


async def _apply(group: ConsumerGroup, delivery: Delivery, handle: Handler, name: str, max_deliveries: int) -> None:
    event = delivery.envelope
    try:
        await handle(event)
    except Exception as error:  # noqa: BLE001 - any handler failure is retried, then set aside
        if delivery.delivery_count >= max_deliveries:
            log.error(
                "%s: event %s (%s) failed %d times; moved to the dead-letter stream",
                name, event.id, event.type, delivery.delivery_count, exc_info=True,
            )
            await group.dead_letter(delivery, repr(error))
        else:
            log.warning(
                "%s: event %s (%s) failed (attempt %d of %d), will be retried: %r",
                name, event.id, event.type, delivery.delivery_count, max_deliveries, error,
            )
        return
    await group.ack(delivery)
