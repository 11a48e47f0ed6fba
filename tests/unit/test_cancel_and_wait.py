"""app.events.runtime.cancel_and_wait: a background task ends at shutdown even when it
swallows a cancellation, and its clean-up after a cancellation is not cut short."""

from __future__ import annotations

import asyncio

from app.events.runtime import cancel_and_wait


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again_until_it_ends() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed < 2:  # as wait_for on Python 3.11 may do (gh-86296)
                    swallowed += 1
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, grace=0.05), timeout=5)
    assert task.cancelled() and swallowed == 2


async def test_clean_up_after_a_cancellation_runs_to_its_end_within_the_grace() -> None:
    cleaned = asyncio.Event()

    async def closes_its_connection() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.2)  # a graceful close that must not be cancelled in turn
            cleaned.set()

    task = asyncio.create_task(closes_its_connection())
    await asyncio.sleep(0)
    await cancel_and_wait(task, grace=2.0)
    assert task.done() and cleaned.is_set()
