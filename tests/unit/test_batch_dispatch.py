"""BatchLoader schedules its batches with two loop callbacks instead of aiodataloader's
coroutine and Task: the loads that join a batch must be exactly aiodataloader's."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiodataloader import DataLoader

from app.loaders.batch import BatchLoader

# (loop turns after the first load, key): loads made from callbacks that many turns later.
LOADS = [(0, 1), (0, 2), (1, 3), (2, 4), (2, 1), (3, 5), (4, 6), (5, 7), (9, 8)]


async def _batches(loader: Any, batches: list[list[int]]) -> list[list[int]]:
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[Any]] = []

    def load_after(turns: int, key: int) -> None:
        if turns:
            loop.call_soon(load_after, turns - 1, key)
        else:
            futures.append(loader.load(key))

    for turns, key in LOADS:
        load_after(turns, key)
    for _ in range(20):
        await asyncio.sleep(0)
    assert [await future for future in futures] == [key for _turns, key in sorted(LOADS, key=lambda load: load[0])]
    return batches


async def test_a_batch_takes_the_loads_aiodataloader_would_give_it() -> None:
    plain_batches: list[list[int]] = []

    class Plain(DataLoader[int, int]):
        async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
            plain_batches.append(list(keys))
            return list(keys)

    ours: list[list[int]] = []

    async def reads(fetch: Any, keys: Sequence[int]) -> dict[int, int]:
        return await fetch(None, keys)

    async def fetch(_conn: Any, keys: Sequence[int]) -> dict[int, int]:
        ours.append(list(keys))
        return {key: key for key in keys}

    expected = await _batches(Plain(), plain_batches)
    assert len(expected) > 1  # the loads span several batches
    assert await _batches(BatchLoader(reads, fetch), ours) == expected  # type: ignore[arg-type]
