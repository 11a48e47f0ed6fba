"""app.http_streams._until: a stream ends with its credentials, in the task that reads it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from app.domain.errors import Unauthenticated
from app.http_streams import _until

DONE = object()
ENDED = Unauthenticated("SESSION_ENDED", "Your session has ended; sign in again.")


class Source:
    """A subscription's result stream: yields what is put in its queue (raises an exception,
    ends at DONE); remembers being closed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.closed = False

    async def stream(self) -> AsyncGenerator[object, None]:
        try:
            while True:
                item = await self.queue.get()
                if item is DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed = True


async def test_items_pass_until_the_end_then_the_error_comes_last_and_the_source_is_closed() -> None:
    source, end = Source(), asyncio.Event()
    stream = _until(source.stream(), end.wait, ENDED)
    source.queue.put_nowait("a")
    assert await anext(stream) == "a"
    waiting = asyncio.ensure_future(anext(stream))  # idle: waiting for the next event
    await asyncio.sleep(0.05)
    end.set()
    last = await asyncio.wait_for(waiting, 1)
    assert last.data is None and last.errors[0].extensions == {"code": "UNAUTHENTICATED", "reason": "SESSION_ENDED"}
    with pytest.raises(StopAsyncIteration):
        await anext(stream)
    assert source.closed


async def test_an_end_that_comes_with_an_item_lets_the_item_through_first() -> None:
    source, end = Source(), asyncio.Event()
    stream = _until(source.stream(), end.wait, ENDED)
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    source.queue.put_nowait("a")
    end.set()
    assert await asyncio.wait_for(waiting, 1) == "a"
    assert (await anext(stream)).errors[0].extensions["reason"] == "SESSION_ENDED"
    await stream.aclose()
    assert source.closed


async def test_a_stream_that_finishes_first_stops_the_watch() -> None:
    source, stopped = Source(), asyncio.Event()

    async def end() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            stopped.set()
            raise

    stream = _until(source.stream(), end, ENDED)
    source.queue.put_nowait("a")
    assert await anext(stream) == "a"
    await asyncio.sleep(0.05)  # the watch is on
    source.queue.put_nowait(DONE)
    assert [item async for item in stream] == []  # no error added
    await asyncio.wait_for(stopped.wait(), 1)
    assert source.closed


async def test_a_timeout_of_the_stream_itself_is_not_taken_for_the_end() -> None:
    source = Source()
    stream = _until(source.stream(), lambda: asyncio.sleep(3600), ENDED)
    source.queue.put_nowait(TimeoutError())
    with pytest.raises(TimeoutError):
        await anext(stream)
    assert source.closed
