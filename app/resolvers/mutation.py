"""Mutation root fields: parse, call one application service, return a type."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.fixture import RefereeRole
from app.schema.context import Info
from app.schema.ids import given, parse_id
from app.schema.inputs import (
    CreateFixtureInput,
    CreateRefereeInput,
    CreateTeamInput,
    CreateVenueInput,
    StageAssignmentInput,
)
from app.schema.types import (
    Assignment,
    AssignmentCommit,
    Availability,
    AvailabilityLock,
    Fixture,
    Referee,
    Team,
    Venue,
)
from app.schema.policy import Policy
from app.services import assignments, availability, directory, fixtures, notifications


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=[Policy], description="Register a referee.")
    async def create_referee(self, info: Info, input: CreateRefereeInput) -> Referee:
        return Referee.from_domain(await directory.create_referee(info.context.deps, input.name, input.club))

    @strawberry.mutation(permission_classes=[Policy], description="Move a referee to another club.")
    async def change_referee_club(self, info: Info, referee_id: strawberry.ID, club: str) -> Referee:
        referee_uid = parse_id(referee_id, "refereeId")
        return Referee.from_domain(await directory.change_referee_club(info.context.deps, referee_uid, club))

    @strawberry.mutation(permission_classes=[Policy], description="Register a team.")
    async def create_team(self, info: Info, input: CreateTeamInput) -> Team:
        return Team.from_domain(await directory.create_team(info.context.deps, input.name, input.club))

    @strawberry.mutation(permission_classes=[Policy], description="Register a venue; telephone and email are optional.")
    async def create_venue(self, info: Info, input: CreateVenueInput) -> Venue:
        telephone, email = input.telephone or None, input.email or None  # unset, null and "" all mean absent
        venue = await directory.create_venue(
            info.context.deps, input.name, input.street, input.zip, input.city, telephone, email
        )
        return Venue.from_domain(venue)

    @strawberry.mutation(permission_classes=[Policy], description="Schedule a fixture: no other fixture at the venue or for either team that day.")
    async def create_fixture(self, info: Info, input: CreateFixtureInput) -> Fixture:
        venue_id = parse_id(input.venue_id, "venueId")
        home_id = parse_id(input.team_home_id, "teamHomeId")
        away_id = parse_id(input.team_away_id, "teamAwayId")
        fixture = await fixtures.create_fixture(info.context.deps, input.date, venue_id, home_id, away_id)
        return Fixture.from_record(fixture)

    @strawberry.mutation(permission_classes=[Policy], description="Move a fixture; its committed and available referees are notified.")
    async def change_fixture_date(self, info: Info, fixture_id: strawberry.ID, date: datetime) -> Fixture:
        fixture_uid = parse_id(fixture_id, "fixtureId")
        return Fixture.from_record(await fixtures.change_fixture_date(info.context.deps, fixture_uid, date))

    @strawberry.mutation(permission_classes=[Policy], description="Play a fixture at another venue; its referees are notified.")
    async def change_fixture_venue(self, info: Info, fixture_id: strawberry.ID, venue_id: strawberry.ID) -> Fixture:
        fixture_uid, venue_uid = parse_id(fixture_id, "fixtureId"), parse_id(venue_id, "venueId")
        return Fixture.from_record(await fixtures.change_fixture_venue(info.context.deps, fixture_uid, venue_uid))

    @strawberry.mutation(permission_classes=[Policy], description="Cancel a fixture: staged assignments go, committed referees stay on record.")
    async def cancel_fixture(self, info: Info, fixture_id: strawberry.ID) -> Fixture:
        fixture_uid = parse_id(fixture_id, "fixtureId")
        return Fixture.from_record(await fixtures.cancel_fixture(info.context.deps, fixture_uid))

    @strawberry.mutation(permission_classes=[Policy], description="A referee declares being available for a fixture.")
    async def declare_availability(
        self, info: Info, fixture_id: strawberry.ID, referee_id: strawberry.ID
    ) -> Availability:
        fixture_uid, referee_uid = parse_id(fixture_id, "fixtureId"), parse_id(referee_id, "refereeId")
        await availability.declare_availability(info.context.deps, fixture_uid, referee_uid)
        return Availability(fixture_id=fixture_uid, referee_id=referee_uid)

    @strawberry.mutation(permission_classes=[Policy], description="A referee withdraws a declared availability.")
    async def withdraw_availability(
        self, info: Info, fixture_id: strawberry.ID, referee_id: strawberry.ID
    ) -> Availability:
        fixture_uid, referee_uid = parse_id(fixture_id, "fixtureId"), parse_id(referee_id, "refereeId")
        await availability.withdraw_availability(info.context.deps, fixture_uid, referee_uid)
        return Availability(fixture_id=fixture_uid, referee_id=referee_uid)

    @strawberry.mutation(permission_classes=[Policy], description="Stop referees from declaring or withdrawing; idempotent.")
    async def lock_availabilities(self, info: Info) -> AvailabilityLock:
        return AvailabilityLock.from_domain(await availability.lock_availabilities(info.context.deps))

    @strawberry.mutation(permission_classes=[Policy], description="Let referees declare and withdraw again; idempotent.")
    async def unlock_availabilities(self, info: Info) -> AvailabilityLock:
        return AvailabilityLock.from_domain(await availability.unlock_availabilities(info.context.deps))

    @strawberry.mutation(permission_classes=[Policy], description="Stage (upsert) a referee in a role on a fixture.")
    async def stage_assignment(self, info: Info, input: StageAssignmentInput) -> Assignment:
        fixture_uid = parse_id(input.fixture_id, "fixtureId")
        referee_uid = parse_id(input.referee_id, "refereeId")
        assignment = await assignments.stage_assignment(
            info.context.deps, fixture_uid, referee_uid, RefereeRole(input.role)
        )
        return Assignment.from_record(assignment)

    @strawberry.mutation(permission_classes=[Policy], description="Remove a STAGED assignment (any fixture, cancelled ones too).")
    async def remove_staged_assignment(self, info: Info, fixture_id: strawberry.ID, referee_id: strawberry.ID) -> bool:
        fixture_uid, referee_uid = parse_id(fixture_id, "fixtureId"), parse_id(referee_id, "refereeId")
        await assignments.remove_staged_assignment(info.context.deps, fixture_uid, referee_uid)
        return True

    @strawberry.mutation(permission_classes=[Policy], description="Remove a COMMITTED assignment; the referee is notified.")
    async def remove_committed_assignment(
        self, info: Info, fixture_id: strawberry.ID, referee_id: strawberry.ID
    ) -> bool:
        fixture_uid, referee_uid = parse_id(fixture_id, "fixtureId"), parse_id(referee_id, "refereeId")
        await assignments.remove_committed_assignment(info.context.deps, fixture_uid, referee_uid)
        return True

    @strawberry.mutation(permission_classes=[Policy], description="Validate and commit every staged assignment in one transaction, or nothing.")
    async def commit_assignments(self, info: Info) -> AssignmentCommit:
        return AssignmentCommit.from_domain(await assignments.commit_staged_assignments(info.context.deps))

    @strawberry.mutation(permission_classes=[Policy], description="Mark a referee's notifications read (all without ids); returns how many changed.")
    async def mark_notifications_read(
        self, info: Info, referee_id: strawberry.ID, ids: list[strawberry.ID] | None = strawberry.UNSET
    ) -> int:
        referee_uid = parse_id(referee_id, "refereeId")
        wanted = given(ids)
        notification_ids = None if wanted is None else [parse_id(i, "ids") for i in wanted]
        return await notifications.mark_notifications_read(info.context.deps, referee_uid, notification_ids)
