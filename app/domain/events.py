"""Domain events: frozen, past tense, recorded by aggregates, written to the outbox
in the same transaction as the change they describe.

Every event names its aggregate (`aggregate_type`, `aggregate_id`); the outbox row
adds the version the aggregate reached with it, so a consumer can spot duplicates
and out-of-order deliveries.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    aggregate_type: ClassVar[str]

    @property
    def aggregate_id(self) -> UUID:
        raise NotImplementedError

    @property
    def type(self) -> str:
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        """The event as JSON-ready data (ids and instants as strings)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [_jsonable(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


# --- directory ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RefereeCreated(DomainEvent):
    aggregate_type = "Referee"
    referee_id: UUID
    name: str
    club: str

    @property
    def aggregate_id(self) -> UUID:
        return self.referee_id


@dataclass(frozen=True, kw_only=True)
class RefereeClubChanged(DomainEvent):
    aggregate_type = "Referee"
    referee_id: UUID
    club: str

    @property
    def aggregate_id(self) -> UUID:
        return self.referee_id


@dataclass(frozen=True, kw_only=True)
class TeamCreated(DomainEvent):
    aggregate_type = "Team"
    team_id: UUID
    name: str
    club: str

    @property
    def aggregate_id(self) -> UUID:
        return self.team_id


@dataclass(frozen=True, kw_only=True)
class VenueCreated(DomainEvent):
    aggregate_type = "Venue"
    venue_id: UUID
    name: str

    @property
    def aggregate_id(self) -> UUID:
        return self.venue_id


# --- fixtures -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FixtureEvent(DomainEvent):
    aggregate_type = "Fixture"
    fixture_id: UUID

    @property
    def aggregate_id(self) -> UUID:
        return self.fixture_id


@dataclass(frozen=True, kw_only=True)
class FixtureCreated(FixtureEvent):
    date: datetime
    venue_id: UUID
    team_home_id: UUID
    team_away_id: UUID


@dataclass(frozen=True, kw_only=True)
class FixtureDateChanged(FixtureEvent):
    previous_date: datetime
    date: datetime
    concerned_referee_ids: frozenset[UUID] = field(default_factory=frozenset)


@dataclass(frozen=True, kw_only=True)
class FixtureVenueChanged(FixtureEvent):
    previous_venue_id: UUID
    venue_id: UUID
    concerned_referee_ids: frozenset[UUID] = field(default_factory=frozenset)


@dataclass(frozen=True, kw_only=True)
class FixtureCancelled(FixtureEvent):
    concerned_referee_ids: frozenset[UUID] = field(default_factory=frozenset)
    removed_staged_referee_ids: frozenset[UUID] = field(default_factory=frozenset)


@dataclass(frozen=True, kw_only=True)
class AvailabilityDeclared(FixtureEvent):
    referee_id: UUID


@dataclass(frozen=True, kw_only=True)
class AvailabilityWithdrawn(FixtureEvent):
    referee_id: UUID


@dataclass(frozen=True, kw_only=True)
class AssignmentStaged(FixtureEvent):
    referee_id: UUID
    role: str


@dataclass(frozen=True, kw_only=True)
class StagedAssignmentRemoved(FixtureEvent):
    referee_id: UUID
    role: str


@dataclass(frozen=True, kw_only=True)
class CommittedAssignmentRemoved(FixtureEvent):
    referee_id: UUID
    role: str


@dataclass(frozen=True, kw_only=True)
class RefereesChanged(FixtureEvent):
    """The committed first/second referee of a fixture changed (commit or removal)."""

    first_referee_id: UUID | None
    second_referee_id: UUID | None


# --- availability lock and commits -----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AvailabilityLockChanged(DomainEvent):
    aggregate_type = "AvailabilityLock"
    lock_id: UUID
    locked: bool
    changed_at: datetime

    @property
    def aggregate_id(self) -> UUID:
        return self.lock_id


@dataclass(frozen=True)
class CommittedPair:
    fixture_id: UUID
    referee_id: UUID
    role: str


@dataclass(frozen=True, kw_only=True)
class AssignmentsCommitted(DomainEvent):
    aggregate_type = "AssignmentCommit"
    commit_id: UUID
    committed_at: datetime
    assignments: tuple[CommittedPair, ...]
    replaced: tuple[CommittedPair, ...]

    @property
    def aggregate_id(self) -> UUID:
        return self.commit_id


# --- projections ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NotificationCreated(DomainEvent):
    """A referee was notified (written by the notifications projector)."""

    aggregate_type = "Notification"
    notification_id: UUID
    referee_id: UUID
    fixture_id: UUID
    kind: str

    @property
    def aggregate_id(self) -> UUID:
        return self.notification_id
