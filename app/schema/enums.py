"""GraphQL enums: the domain's enums, exposed under the contract's names."""

from __future__ import annotations

from enum import Enum

import strawberry

from app.domain.fixture import AssignmentStatus, FixtureStatus, RefereeRole

FixtureStatusEnum = strawberry.enum(FixtureStatus, name="FixtureStatus", description="Whether a fixture will be played.")
RefereeRoleEnum = strawberry.enum(RefereeRole, name="RefereeRole", description="First or second referee.")
AssignmentStatusEnum = strawberry.enum(
    AssignmentStatus,
    name="AssignmentStatus",
    description="STAGED: planned by the admin, not yet visible as the fixture's referee; COMMITTED: official.",
)


@strawberry.enum(description="What a notification tells a referee.")
class NotificationKind(Enum):
    ASSIGNED = "ASSIGNED"
    UNASSIGNED = "UNASSIGNED"
    FIXTURE_DATE_CHANGED = "FIXTURE_DATE_CHANGED"
    FIXTURE_VENUE_CHANGED = "FIXTURE_VENUE_CHANGED"
    FIXTURE_CANCELLED = "FIXTURE_CANCELLED"
