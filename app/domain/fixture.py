"""The Fixture aggregate: a match, its declared availabilities and its referee
assignments (staged and committed).

Availabilities and assignments live inside the aggregate because the rules that
guard them are the fixture's: nothing happens on a cancelled fixture, a referee
holding a committed assignment cannot withdraw, one committed referee per role.
Every change bumps `version` once per save, which the repository checks
(optimistic concurrency).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from uuid import UUID

from app.domain.availability_lock import AvailabilityLock
from app.domain.calendar import LeagueCalendar
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.domain.events import (
    AssignmentStaged,
    AvailabilityDeclared,
    AvailabilityWithdrawn,
    CommittedAssignmentRemoved,
    CommittedPair,
    DomainEvent,
    FixtureCancelled,
    FixtureCreated,
    FixtureDateChanged,
    FixtureVenueChanged,
    RefereesChanged,
    StagedAssignmentRemoved,
)


class FixtureStatus(str, Enum):
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"


class RefereeRole(str, Enum):
    FIRST = "FIRST"
    SECOND = "SECOND"


class AssignmentStatus(str, Enum):
    STAGED = "STAGED"
    COMMITTED = "COMMITTED"


@dataclass(frozen=True)
class Assignment:
    fixture_id: UUID
    referee_id: UUID
    role: RefereeRole
    status: AssignmentStatus

    def pair(self) -> CommittedPair:
        return CommittedPair(self.fixture_id, self.referee_id, self.role.value)


@dataclass(frozen=True)
class ScheduledFixture:
    """What the schedule rules need to know of another fixture."""

    id: UUID
    date: datetime
    venue_id: UUID
    team_home_id: UUID
    team_away_id: UUID


def ensure_different_teams(team_home_id: UUID, team_away_id: UUID) -> None:
    if team_home_id == team_away_id:
        raise InvalidInput("SAME_TEAM", "A team cannot play against itself: choose two different teams.")


def ensure_schedule_free(
    fixture_id: UUID,
    date: datetime,
    venue_id: UUID,
    team_ids: tuple[UUID, UUID],
    others: Iterable[ScheduledFixture],
    calendar: LeagueCalendar,
) -> None:
    """No other scheduled fixture at the venue that day; neither team plays another that day.

    `others` are the scheduled fixtures around that day; the venue rule is checked first.
    """
    same_day = [o for o in others if o.id != fixture_id and calendar.same_day(o.date, date)]
    day = calendar.local_day(date).isoformat()
    for other in same_day:
        if other.venue_id == venue_id:
            raise Conflict("VENUE_BUSY", f"The venue already hosts fixture {other.id} on {day}.")
    for other in same_day:
        if {other.team_home_id, other.team_away_id} & set(team_ids):
            raise Conflict("TEAM_BUSY", f"A team already plays fixture {other.id} on {day}.")


@dataclass(eq=False)
class Fixture:
    id: UUID
    date: datetime
    venue_id: UUID
    team_home_id: UUID
    team_away_id: UUID
    status: FixtureStatus = FixtureStatus.SCHEDULED
    version: int = 0  # the stored version; the repository bumps it on save
    available_referee_ids: set[UUID] = field(default_factory=set)
    assignments: dict[UUID, Assignment] = field(default_factory=dict)  # by referee id
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    # --- queries ------------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        return self.status is FixtureStatus.CANCELLED

    @property
    def team_ids(self) -> tuple[UUID, UUID]:
        return (self.team_home_id, self.team_away_id)

    def committed_referee(self, role: RefereeRole) -> UUID | None:
        for a in self.assignments.values():
            if a.role is role and a.status is AssignmentStatus.COMMITTED:
                return a.referee_id
        return None

    @property
    def first_referee_id(self) -> UUID | None:
        return self.committed_referee(RefereeRole.FIRST)

    @property
    def second_referee_id(self) -> UUID | None:
        return self.committed_referee(RefereeRole.SECOND)

    def staged(self) -> list[Assignment]:
        return [a for a in self.assignments.values() if a.status is AssignmentStatus.STAGED]

    def committed(self) -> list[Assignment]:
        return [a for a in self.assignments.values() if a.status is AssignmentStatus.COMMITTED]

    def replaced_by_commit(self) -> list[Assignment]:
        """Committed assignments whose role a staged assignment takes over at commit."""
        staged_roles = {a.role for a in self.staged()}
        return [a for a in self.committed() if a.role in staged_roles]

    def concerned_referee_ids(self) -> frozenset[UUID]:
        """Who hears about a date, venue or cancellation change: committed and declared referees."""
        return frozenset(a.referee_id for a in self.committed()) | frozenset(self.available_referee_ids)

    def as_scheduled(self) -> ScheduledFixture:
        return ScheduledFixture(self.id, self.date, self.venue_id, self.team_home_id, self.team_away_id)

    # --- commands -----------------------------------------------------------------

    @classmethod
    def schedule(
        cls,
        id: UUID,
        date: datetime,
        venue_id: UUID,
        team_home_id: UUID,
        team_away_id: UUID,
        others: Iterable[ScheduledFixture],
        calendar: LeagueCalendar,
    ) -> Fixture:
        ensure_different_teams(team_home_id, team_away_id)
        ensure_schedule_free(id, date, venue_id, (team_home_id, team_away_id), others, calendar)
        fixture = cls(id, date, venue_id, team_home_id, team_away_id)
        fixture._record(
            FixtureCreated(
                fixture_id=id, date=date, venue_id=venue_id, team_home_id=team_home_id, team_away_id=team_away_id
            )
        )
        return fixture

    def change_date(self, date: datetime, others: Iterable[ScheduledFixture], calendar: LeagueCalendar) -> None:
        self._ensure_scheduled()
        if date == self.date:
            return
        ensure_schedule_free(self.id, date, self.venue_id, self.team_ids, others, calendar)
        previous, self.date = self.date, date
        self._record(
            FixtureDateChanged(
                fixture_id=self.id,
                previous_date=previous,
                date=date,
                concerned_referee_ids=self.concerned_referee_ids(),
            )
        )

    def change_venue(self, venue_id: UUID, others: Iterable[ScheduledFixture], calendar: LeagueCalendar) -> None:
        self._ensure_scheduled()
        if venue_id == self.venue_id:
            return
        ensure_schedule_free(self.id, self.date, venue_id, self.team_ids, others, calendar)
        previous, self.venue_id = self.venue_id, venue_id
        self._record(
            FixtureVenueChanged(
                fixture_id=self.id,
                previous_venue_id=previous,
                venue_id=venue_id,
                concerned_referee_ids=self.concerned_referee_ids(),
            )
        )

    def cancel(self) -> None:
        """Cancelling removes staged assignments and keeps committed referees on record."""
        if self.cancelled:
            raise Conflict("ALREADY_CANCELLED", "This fixture is already cancelled.")
        removed = frozenset(a.referee_id for a in self.staged())
        for referee_id in removed:
            del self.assignments[referee_id]
        self.status = FixtureStatus.CANCELLED
        self._record(
            FixtureCancelled(
                fixture_id=self.id,
                concerned_referee_ids=self.concerned_referee_ids(),
                removed_staged_referee_ids=removed,
            )
        )

    def declare_availability(self, referee_id: UUID, lock: AvailabilityLock) -> None:
        self._ensure_scheduled()
        _ensure_unlocked(lock)
        if referee_id in self.available_referee_ids:
            raise Conflict("ALREADY_DECLARED", "This referee has already declared availability for this fixture.")
        self.available_referee_ids.add(referee_id)
        self._record(AvailabilityDeclared(fixture_id=self.id, referee_id=referee_id))

    def withdraw_availability(self, referee_id: UUID, lock: AvailabilityLock) -> None:
        self._ensure_scheduled()
        _ensure_unlocked(lock)
        if referee_id not in self.available_referee_ids:
            raise Conflict("NOT_DECLARED", "This referee has not declared availability for this fixture.")
        held = self.assignments.get(referee_id)
        if held is not None and held.status is AssignmentStatus.COMMITTED:
            raise Conflict(
                "REFEREE_ASSIGNED",
                "This referee holds a committed assignment on this fixture; remove the assignment first.",
            )
        self.available_referee_ids.discard(referee_id)
        self._record(AvailabilityWithdrawn(fixture_id=self.id, referee_id=referee_id))

    def stage(self, referee_id: UUID, role: RefereeRole, now: datetime) -> Assignment:
        """Upsert the (fixture, referee) pair as STAGED with `role`; only before kick-off
        (`now`), since a commit would notify referees about a match already played."""
        self._ensure_scheduled()
        if self.date <= now:
            raise Conflict("FIXTURE_PLAYED", "This fixture has already started or been played; it takes no new assignments.")
        held = self.assignments.get(referee_id)
        if held is not None and held.status is AssignmentStatus.COMMITTED:
            raise Conflict(
                "ALREADY_COMMITTED",
                "This referee's assignment on this fixture is committed; to change the role, remove it first.",
            )
        assignment = Assignment(self.id, referee_id, role, AssignmentStatus.STAGED)
        if held != assignment:
            self.assignments[referee_id] = assignment
            self._record(AssignmentStaged(fixture_id=self.id, referee_id=referee_id, role=role.value))
        return assignment

    def remove_staged(self, referee_id: UUID) -> None:
        held = self._held_by(referee_id)
        if held.status is AssignmentStatus.COMMITTED:
            raise Conflict("ALREADY_COMMITTED", "This assignment is committed; use removeCommittedAssignment.")
        del self.assignments[referee_id]
        self._record(StagedAssignmentRemoved(fixture_id=self.id, referee_id=referee_id, role=held.role.value))

    def remove_committed(self, referee_id: UUID) -> None:
        held = self._held_by(referee_id)
        if held.status is AssignmentStatus.STAGED:
            raise Conflict("NOT_COMMITTED", "This assignment is only staged; use removeStagedAssignment.")
        del self.assignments[referee_id]
        self._record(CommittedAssignmentRemoved(fixture_id=self.id, referee_id=referee_id, role=held.role.value))
        self._record_referees_changed()

    def commit_staged(self) -> tuple[list[Assignment], list[Assignment]]:
        """Make every staged assignment COMMITTED, replacing a committed referee in that role.

        Returns (committed, replaced); `replaced` keeps the status they had (COMMITTED).
        Validation is the caller's job (`app.domain.validation`), done before.
        """
        replaced = self.replaced_by_commit()
        committed = [
            Assignment(a.fixture_id, a.referee_id, a.role, AssignmentStatus.COMMITTED) for a in self.staged()
        ]
        if not committed:
            return [], []
        for old in replaced:
            del self.assignments[old.referee_id]
        for new in committed:
            self.assignments[new.referee_id] = new
        self._record_referees_changed()
        return committed, replaced

    # --- helpers ------------------------------------------------------------------

    def _ensure_scheduled(self) -> None:
        if self.cancelled:
            raise Conflict("FIXTURE_CANCELLED", "This fixture is cancelled; it cannot be changed.")

    def _held_by(self, referee_id: UUID) -> Assignment:
        held = self.assignments.get(referee_id)
        if held is None:
            raise NotFound("ASSIGNMENT_NOT_FOUND", "This referee holds no assignment on this fixture.")
        return held

    def _record_referees_changed(self) -> None:
        self._record(
            RefereesChanged(
                fixture_id=self.id,
                first_referee_id=self.first_referee_id,
                second_referee_id=self.second_referee_id,
            )
        )

    def _record(self, event: DomainEvent) -> None:
        self.events.append(event)


def _ensure_unlocked(lock: AvailabilityLock) -> None:
    if lock.locked:
        raise Conflict("AVAILABILITIES_LOCKED", "Availabilities are locked; ask the admin to unlock them.")
