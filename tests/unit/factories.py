"""Tiny builders for domain unit tests: aggregates constructed directly, no I/O."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone, tzinfo
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest

from app.domain.availability_lock import AvailabilityLock
from app.domain.calendar import LeagueCalendar
from app.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from app.domain.fixture import Assignment, AssignmentStatus, Fixture, FixtureStatus, RefereeRole

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
FIRST = RefereeRole.FIRST
SECOND = RefereeRole.SECOND


def league(zone: tzinfo = UTC, minutes: int = 150) -> LeagueCalendar:
    return LeagueCalendar(zone=zone, slot_length=timedelta(minutes=minutes))


def at(year: int, month: int, day: int, hour: int = 18, minute: int = 0, tz: tzinfo = UTC) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


BEFORE_KICK_OFF = at(2026, 2, 1)  # `now` for commands on the default fixture (1 March 2026)


def fixture(
    date: datetime | None = None,
    *,
    venue_id: UUID | None = None,
    home: UUID | None = None,
    away: UUID | None = None,
    cancelled: bool = False,
) -> Fixture:
    """A scheduled (or cancelled) fixture with fresh ids and no events."""
    return Fixture(
        id=uuid4(),
        date=date or at(2026, 3, 1),
        venue_id=venue_id or uuid4(),
        team_home_id=home or uuid4(),
        team_away_id=away or uuid4(),
        status=FixtureStatus.CANCELLED if cancelled else FixtureStatus.SCHEDULED,
    )


def declare(f: Fixture, referee_id: UUID | None = None) -> UUID:
    referee_id = referee_id or uuid4()
    f.available_referee_ids.add(referee_id)
    return referee_id


def put(
    f: Fixture,
    role: RefereeRole,
    status: AssignmentStatus,
    referee_id: UUID | None = None,
    *,
    declared: bool = True,
) -> UUID:
    """Place an assignment directly (bypassing commands), declared by default."""
    referee_id = referee_id or uuid4()
    if declared:
        f.available_referee_ids.add(referee_id)
    f.assignments[referee_id] = Assignment(f.id, referee_id, role, status)
    return referee_id


def staged(f: Fixture, role: RefereeRole = FIRST, referee_id: UUID | None = None, *, declared: bool = True) -> UUID:
    return put(f, role, AssignmentStatus.STAGED, referee_id, declared=declared)


def committed(f: Fixture, role: RefereeRole = FIRST, referee_id: UUID | None = None, *, declared: bool = True) -> UUID:
    return put(f, role, AssignmentStatus.COMMITTED, referee_id, declared=declared)


def unlocked() -> AvailabilityLock:
    return AvailabilityLock()


def locked() -> AvailabilityLock:
    return AvailabilityLock(locked=True, changed_at=at(2026, 1, 1))


@contextmanager
def refused(cls: type[DomainError], code: str, reason: str) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """Expect exactly `cls` with this `.code` and `.reason` (and a non-empty message)."""
    with pytest.raises(cls) as info:
        yield info
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.reason == reason
    assert info.value.message.strip()


def bad_input(reason: str):
    return refused(InvalidInput, "BAD_USER_INPUT", reason)


def conflict(reason: str):
    return refused(Conflict, "CONFLICT", reason)


def not_found(reason: str):
    return refused(NotFound, "NOT_FOUND", reason)
