"""What every application service needs, wired once by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.calendar import LeagueCalendar
from app.domain.errors import NotFound
from app.repos.uow import UnitOfWork, utcnow


@dataclass(frozen=True)
class ServiceDeps:
    engine: AsyncEngine
    calendar: LeagueCalendar
    clock: Callable[[], datetime] = utcnow
    # Called after a transaction that wrote outbox rows commits (wakes the local relay).
    after_commit: Callable[[], None] | None = None

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self.clock, self.after_commit)


T = TypeVar("T")


def found(value: T | None, what: str, id: UUID) -> T:
    """`value`, or NotFound with reason <WHAT>_NOT_FOUND when it is missing."""
    if value is None:
        raise NotFound(f"{what.upper()}_NOT_FOUND", f"No {what} with id {id} exists.")
    return value
