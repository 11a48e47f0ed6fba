"""Garbage-collector tuning for a server process.

Under load CPython's cyclic collector is a large share of a GraphQL server's time
(../shared/peers: 22-51 % of wall time for a Strawberry server): every request leaves
cyclic garbage (tasks, frames, futures), each gen-0 collection walks the young objects
and each gen-2 one the ~tens of thousands of long-lived objects of the schema,
graphql-core, SQLAlchemy and the web stack. Two changes, both undone on shutdown:

- `gc.freeze()` after start-up moves everything alive then (modules, the schema, the
  engine) into the permanent generation, so later full collections skip it;
- a higher gen-0 threshold (`WHISTLE_GC_THRESHOLD`) collects less often, in bigger
  batches: fewer walks of the objects of requests that are still running.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def tuned_gc(threshold: int, freeze: bool) -> Iterator[None]:
    """Inside the block: gen-0 threshold `threshold` (0: unchanged) and, when `freeze`,
    everything alive at entry frozen. Call it once start-up work is done."""
    previous = gc.get_threshold()
    if threshold:
        gc.set_threshold(threshold, *previous[1:])
    if freeze:
        gc.collect()  # what start-up left as garbage is freed, not frozen
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()
        gc.set_threshold(*previous)
