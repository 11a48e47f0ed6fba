"""GraphQL input types of the contract."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.schema.enums import RefereeRoleEnum


@strawberry.input
class CreateRefereeInput:
    name: str
    club: str


@strawberry.input
class CreateTeamInput:
    name: str
    club: str


@strawberry.input
class CreateVenueInput:
    name: str
    street: str
    zip: str
    city: str
    telephone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET


@strawberry.input
class CreateFixtureInput:
    date: datetime
    venue_id: strawberry.ID
    team_home_id: strawberry.ID
    team_away_id: strawberry.ID


@strawberry.input
class StageAssignmentInput:
    fixture_id: strawberry.ID
    referee_id: strawberry.ID
    role: RefereeRoleEnum
