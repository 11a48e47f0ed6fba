"""GraphQL enums: the domain's enums, exposed under the contract's names."""

from __future__ import annotations

import strawberry

from app.domain.fixture import AssignmentStatus, FixtureStatus, RefereeRole
from app.domain.notifications import NotificationKind

FixtureStatusEnum = strawberry.enum(FixtureStatus, name="FixtureStatus", description="Whether a fixture will be played.")
RefereeRoleEnum = strawberry.enum(RefereeRole, name="RefereeRole", description="First or second referee.")
AssignmentStatusEnum = strawberry.enum(
    AssignmentStatus,
    name="AssignmentStatus",
    description="STAGED: planned by the admin, not yet visible as the fixture's referee; COMMITTED: official.",
)


NotificationKindEnum = strawberry.enum(NotificationKind, name="NotificationKind", description="What a notification tells a referee.")
