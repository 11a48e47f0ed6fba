"""What every application service needs, wired once by the composition root."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ParamSpec, TypeVar
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.calendar import LeagueCalendar
from app.domain.errors import NotFound
from app.repos.uow import ConnectionLost, UnitOfWork, utcnow

log = logging.getLogger("whistle.services")


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
P = ParamSpec("P")


def retried_once_on_connection_loss(service: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """`service` run once more, from the start, when its database connection was lost
    before its transaction sent COMMIT (ConnectionLost.commit_sent false).

    Safe because such a transaction never committed, and its outbox rows (the events)
    with it; the pool replaces every connection older than the loss, so the second run
    gets a fresh one. Only for a service that runs ONE unit of work and does nothing
    else that lasts (the services' pattern): a second run repeats everything. A loss at
    COMMIT (outcome unknown), or a second loss, reaches the caller as ConnectionLost."""

    @functools.wraps(service)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await service(*args, **kwargs)
        except ConnectionLost as lost:
            if lost.commit_sent:
                raise
        log.warning("database connection lost before COMMIT in %s; running it again on a fresh connection", service.__name__)
        return await service(*args, **kwargs)

    return run


def found(value: T | None, what: str, id: UUID) -> T:
    """`value`, or NotFound with reason <WHAT>_NOT_FOUND when it is missing."""
    if value is None:
        raise NotFound(f"{what.upper()}_NOT_FOUND", f"No {what} with id {id} exists.")
    return value
