"""Which aggregates a UnitOfWork handed out, and which of them were saved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.domain.events import DomainEvent


class Tracker:
    def __init__(self) -> None:
        self._seen: dict[int, Any] = {}
        self._saved: set[int] = set()

    def seen(self, aggregate: Any) -> Any:
        self._seen.setdefault(id(aggregate), aggregate)
        return aggregate

    def saved(self, aggregate: Any) -> None:
        self.seen(aggregate)
        self._saved.add(id(aggregate))

    def pending_events(self) -> Iterator[tuple[Any, DomainEvent]]:
        """Every recorded event, in order; refuses events of an aggregate never saved."""
        for key, aggregate in self._seen.items():
            if not aggregate.events:
                continue
            if key not in self._saved:
                raise RuntimeError(f"{type(aggregate).__name__} {aggregate.id} changed but was not saved")
            for event in aggregate.events:
                yield aggregate, event
            aggregate.events.clear()
