"""Query root fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import strawberry

from app.domain.errors import InvalidInput
from app.repos import reads
from app.repos.reads import FixtureFilter
from app.schema.connection import FixtureConnection
from app.schema.context import Info
from app.schema.enums import AssignmentStatusEnum, FixtureStatusEnum
from app.schema.ids import given, parse_id
from app.schema.types import (
    Assignment,
    AssignmentProblem,
    AssignmentValidation,
    AvailabilityLock,
    Fixture,
    FixtureEdge,
    PageInfo,
    Referee,
    Team,
    Venue,
    load_fixture,
    load_referee,
    load_team,
    load_venue,
)
from app.schema.policy import Policy
from app.schema.viewer import Viewer
from app.services.assignments import validate_staged_assignments

PAGE_MAX = 500


def _optional_id(value: strawberry.ID | None, argument: str) -> UUID | None:
    return None if value is None else parse_id(value, argument)


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=[Policy],
        description="Who is calling: the role, the token's subject and its referee. Readable without a token.",
    )
    def viewer(self, info: Info) -> Viewer:
        return Viewer.from_identity(info.context.identity)

    @strawberry.field(permission_classes=[Policy], description="All referees, by name (case-insensitive), then id.")
    async def referees(self, info: Info) -> list[Referee]:
        found = await info.context.loaders.read(reads.all_referees)
        info.context.loaders.prime_referees(found)
        return [Referee.from_domain(r) for r in found]

    @strawberry.field(permission_classes=[Policy], description="The referee with this id; null when unknown.")
    async def referee(self, info: Info, id: strawberry.ID) -> Referee | None:
        return await load_referee(info, parse_id(id))

    @strawberry.field(permission_classes=[Policy], description="All teams, by name, then id.")
    async def teams(self, info: Info) -> list[Team]:
        return [Team.from_domain(t) for t in await info.context.loaders.read(reads.all_teams)]

    @strawberry.field(permission_classes=[Policy], description="The team with this id; null when unknown.")
    async def team(self, info: Info, id: strawberry.ID) -> Team | None:
        return await load_team(info, parse_id(id))

    @strawberry.field(permission_classes=[Policy], description="All venues, by name, then id.")
    async def venues(self, info: Info) -> list[Venue]:
        return [Venue.from_domain(v) for v in await info.context.loaders.read(reads.all_venues)]

    @strawberry.field(permission_classes=[Policy], description="The venue with this id; null when unknown.")
    async def venue(self, info: Info, id: strawberry.ID) -> Venue | None:
        return await load_venue(info, parse_id(id))

    @strawberry.field(
        permission_classes=[Policy],
        description=(
            "Fixtures ordered by (date, id); `from` inclusive, `to` exclusive; first 1..500. "
            "teamId: the team plays home or away; refereeId: the referee holds a staged or committed assignment."
        )
    )
    async def fixtures(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = strawberry.UNSET,
        to: datetime | None = strawberry.UNSET,
        status: FixtureStatusEnum | None = strawberry.UNSET,
        venue_id: strawberry.ID | None = strawberry.UNSET,
        team_id: strawberry.ID | None = strawberry.UNSET,
        referee_id: strawberry.ID | None = strawberry.UNSET,
        first: int | None = 50,
        after: str | None = strawberry.UNSET,
    ) -> FixtureConnection:
        where = FixtureFilter(
            start=given(from_),
            end=given(to),
            status=given(status),
            venue_id=_optional_id(given(venue_id), "venueId"),
            team_id=_optional_id(given(team_id), "teamId"),
            referee_id=_optional_id(given(referee_id), "refereeId"),
        )
        limit = 50 if first is None else first
        if not 1 <= limit <= PAGE_MAX:
            raise InvalidInput("INVALID_PAGE_SIZE", f"first must be between 1 and {PAGE_MAX} (got {limit}).")
        cursors = info.context.cursors
        key = None if given(after) is None else cursors.decode(after)
        records = await info.context.loaders.read(reads.fixtures_page, where, limit + 1, key)
        page = records[:limit]
        info.context.loaders.remember_fixtures(page)
        edges = [FixtureEdge(node=Fixture.from_record(r), codec=cursors) for r in page]
        return FixtureConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=len(records) > limit, last=edges[-1] if edges else None),
            filter=where,
        )

    @strawberry.field(permission_classes=[Policy], description="The fixture with this id; null when unknown.")
    async def fixture(self, info: Info, id: strawberry.ID) -> Fixture | None:
        return await load_fixture(info, parse_id(id))

    @strawberry.field(permission_classes=[Policy], description="All assignments, by fixture date, then role.")
    async def assignments(
        self, info: Info, status: AssignmentStatusEnum | None = strawberry.UNSET
    ) -> list[Assignment]:
        records = await info.context.loaders.read(reads.all_assignments, given(status))
        return [Assignment.from_record(r) for r in records]

    @strawberry.field(permission_classes=[Policy], description="Whether referees may declare and withdraw availability now.")
    async def availability_lock(self, info: Info) -> AvailabilityLock:
        return AvailabilityLock.from_domain(await info.context.loaders.read(reads.current_lock))

    @strawberry.field(permission_classes=[Policy], description="Checks every STAGED assignment as a commit would; changes nothing.")
    async def validate_assignments(self, info: Info) -> AssignmentValidation:
        problems = await validate_staged_assignments(info.context.deps)
        return AssignmentValidation(
            valid=not problems, problems=[AssignmentProblem.from_domain(p) for p in problems]
        )
