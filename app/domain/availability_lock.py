"""The global availability lock: while locked, referees cannot declare or withdraw."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from app.domain.events import AvailabilityLockChanged, DomainEvent

LOCK_ID = UUID("00000000-0000-0000-0000-00000000a10c")


@dataclass(eq=False)
class AvailabilityLock:
    locked: bool = False
    changed_at: datetime | None = None
    version: int = 0  # the stored version; the repository bumps it on save
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @property
    def id(self) -> UUID:
        return LOCK_ID

    def lock(self, now: datetime) -> None:
        """Idempotent: locking a locked lock changes nothing, changedAt included."""
        self._set(True, now)

    def unlock(self, now: datetime) -> None:
        self._set(False, now)

    def _set(self, locked: bool, now: datetime) -> None:
        if self.locked == locked:
            return
        self.locked = locked
        self.changed_at = now
        self.events.append(AvailabilityLockChanged(lock_id=LOCK_ID, locked=locked, changed_at=now))
