"""A DataLoader that loads a batch of keys with one read query."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncConnection

from app.execution.run import uncancelled_waits
from app.loaders.request_reads import RequestReads

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Fetch = Callable[[AsyncConnection, Sequence[K]], Awaitable[dict[K, V]]]


class BatchLoader(DataLoader[K, V | None], Generic[K, V]):
    """Loads many keys with one `fetch(conn, keys) -> {key: value}`; a missing key gives `missing`."""

    def __init__(self, reads: RequestReads, fetch: Fetch[K, V], missing: Any = None) -> None:
        super().__init__()
        self._reads, self._fetch, self._missing = reads, fetch, missing
        self._callers: dict[asyncio.Future[V | None], list[asyncio.Future[V | None]]] = {}  # by shared future
        self._known: dict[K, V] = {}  # values read elsewhere in this request (`remember`)

    def load(self, key: K) -> asyncio.Future[V | None]:  # type: ignore[override]
        """A future of the caller's own: graphql-core cancels the sibling fields of a failed
        non-null field, and cancelling the loader's shared future itself would fail every
        other field waiting for the same key with CancelledError.

        What `asyncio.shield` does, for less: a page makes hundreds of loads of a few dozen
        keys (the same venue, team or referee for many fixtures), and shield costs two
        closures and two loop callbacks per load; here one callback per shared future hands
        its outcome to all its callers. A done future is returned as it is (cancelling it
        does nothing), as shield does, and so is any while a compiled plan runs: its
        resolvers' waits are never cancelled (app.execution.run.uncancelled_waits)."""
        shared = super().load(key)
        if shared.done() or uncancelled_waits.get():
            return shared
        own: asyncio.Future[V | None] = shared.get_loop().create_future()
        callers = self._callers.get(shared)
        if callers is None:
            callers = self._callers[shared] = []
            shared.add_done_callback(self._relay)
        callers.append(own)
        return own

    async def load_all(self, keys: Iterable[K | None]) -> dict[K, V | None | Exception]:
        """The value of each key (None: no key, skipped), loaded as `load` loads it (in the
        batch of this loop turn), a failed key's exception as its value: one awaitable
        for the keys of a whole level of a compiled plan (app.execution.plan.BATCH)
        instead of one per object."""
        futures: dict[K, asyncio.Future[V | None]] = {}
        for key in keys:
            if key is not None and key not in futures:
                futures[key] = self.load(key)
        found: dict[K, V | None | Exception] = {}
        for key, future in futures.items():
            try:
                found[key] = future.result() if future.done() else await future
            except Exception as error:  # noqa: BLE001 - it is that key's outcome
                found[key] = error
        return found

    def peek(self, keys: Iterable[K | None], convert: Callable[[V], Any]) -> dict[K, Any] | None:
        """`convert` of the value of every key (None: no key, skipped) when all of them are at
        hand without a read, else None (then `load_all`). A plain loader has nothing at hand
        before it reads; a cached one may (app.loaders.cached)."""
        return None

    def _relay(self, shared: asyncio.Future[V | None]) -> None:
        """The shared future's outcome to its callers' futures, except those cancelled."""
        callers = self._callers.pop(shared)
        if shared.cancelled():
            for own in callers:
                own.cancel()
            return
        error = shared.exception()  # retrieved even if no caller waits any more: no "never retrieved" log
        for own in callers:
            if own.done():
                continue
            if error is None:
                own.set_result(shared.result())
            else:
                own.set_exception(error)

    def trace_with(self, tracer: Any, name: str) -> None:
        """Each batch in a span of `tracer` (app.tracing); a loader never told costs nothing extra."""
        from app.tracing import traced_batch

        self.batch_load_fn = traced_batch(tracer, name, self.batch_load_fn)  # type: ignore[method-assign]

    def remember(self, values: dict[K, V]) -> None:
        """Values this request has read already (e.g. a page of fixtures): a later load of
        one of these keys is answered without a statement. Unlike `prime`, which makes a
        future per key at once, this costs nothing for the keys never loaded."""
        self._known.update(values)

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | None]:
        known = self._known
        wanted = [key for key in keys if key not in known] if known else keys
        found = await self._reads(self._fetch, wanted) if wanted else {}
        return [known[key] if key in known else found.get(key, self._missing) for key in keys]
