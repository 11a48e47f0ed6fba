"""Which referees hear about which change, and what they are told.

Derived from the domain events after the change commits (the notifications
projector applies this to each event once).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any
from uuid import UUID


class NotificationKind(str, Enum):
    ASSIGNED = "ASSIGNED"
    UNASSIGNED = "UNASSIGNED"
    FIXTURE_DATE_CHANGED = "FIXTURE_DATE_CHANGED"
    FIXTURE_VENUE_CHANGED = "FIXTURE_VENUE_CHANGED"
    FIXTURE_CANCELLED = "FIXTURE_CANCELLED"


@dataclass(frozen=True)
class NotificationDue:
    referee_id: UUID
    fixture_id: UUID
    kind: NotificationKind
    role: str | None = None


@dataclass(frozen=True)
class FixtureDescription:
    """How a person recognises a fixture: the teams, when and where."""

    home: str
    away: str
    when: str  # local date and time, e.g. "2026-03-01 18:30"
    venue: str

    def __str__(self) -> str:
        return f"{self.home} vs {self.away} on {self.when} at {self.venue}"


_FIXTURE_CHANGES = {
    "FixtureDateChanged": NotificationKind.FIXTURE_DATE_CHANGED,
    "FixtureVenueChanged": NotificationKind.FIXTURE_VENUE_CHANGED,
    "FixtureCancelled": NotificationKind.FIXTURE_CANCELLED,
}


def notifications_due(event_type: str, payload: dict[str, Any]) -> list[NotificationDue]:
    """The notifications one event calls for; each referee once per change."""
    if event_type == "AssignmentsCommitted":
        return [
            NotificationDue(UUID(a["referee_id"]), UUID(a["fixture_id"]), NotificationKind.ASSIGNED, a["role"])
            for a in payload["assignments"]
        ] + [
            NotificationDue(UUID(a["referee_id"]), UUID(a["fixture_id"]), NotificationKind.UNASSIGNED, a["role"])
            for a in payload["replaced"]
        ]
    if event_type == "CommittedAssignmentRemoved":
        return [
            NotificationDue(
                UUID(payload["referee_id"]), UUID(payload["fixture_id"]), NotificationKind.UNASSIGNED, payload["role"]
            )
        ]
    if (kind := _FIXTURE_CHANGES.get(event_type)) is not None:
        fixture_id = UUID(payload["fixture_id"])
        return [NotificationDue(UUID(r), fixture_id, kind) for r in sorted(set(payload["concerned_referee_ids"]))]
    return []


def message(due: NotificationDue, fixture: FixtureDescription) -> str:
    role = (due.role or "").lower()
    match due.kind:
        case NotificationKind.ASSIGNED:
            return f"You are the {role} referee of {fixture}."
        case NotificationKind.UNASSIGNED:
            return f"You are no longer the {role} referee of {fixture}."
        case NotificationKind.FIXTURE_DATE_CHANGED:
            return f"New date: {fixture}. Check that you can still make it."
        case NotificationKind.FIXTURE_VENUE_CHANGED:
            return f"New venue: {fixture}."
        case NotificationKind.FIXTURE_CANCELLED:
            return f"Cancelled: {fixture}. No need to come."
