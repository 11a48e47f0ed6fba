"""The GraphQL output types of the contract (../API.md), resolved through DataLoaders.

Each type keeps the foreign ids it needs as `strawberry.Private` fields; relation
fields load through the per-request loaders, so a list of N objects costs a
constant number of statements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import strawberry

from app.domain import directory
from app.domain.availability_lock import AvailabilityLock as LockState
from app.domain.commit import AssignmentCommit as CommitResult
from app.domain.errors import InvalidInput
from app.domain.fixture import Assignment as DomainAssignment
from app.domain.fixture import Fixture as DomainFixture
from app.domain.notifications import NotificationKind
from app.domain.validation import AssignmentProblem as Problem
from app.repos.reads import AssignmentRecord, FixtureRecord, NotificationRecord
from app.schema.context import Info
from app.schema.cursors import CursorCodec
from app.schema.enums import (
    AssignmentStatusEnum,
    FixtureStatusEnum,
    NotificationKindEnum,
    RefereeRoleEnum,
)
from app.schema.ids import given, parse_id_or_none
from app.schema.policy import Policy
from app.schema.relations import relation

NOTIFICATIONS_MAX = 200


def _in_window(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or moment >= start) and (end is None or moment < end)


@strawberry.federation.type(keys=["id"], description="A referee who officiates fixtures.")
class Referee:
    id: strawberry.ID
    name: str
    club: str
    uid: strawberry.Private[UUID]

    @classmethod
    def from_domain(cls, referee: directory.Referee) -> Referee:
        return cls(id=strawberry.ID(str(referee.id)), name=referee.name, club=referee.club, uid=referee.id)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Referee | None:
        return await load_referee(info, parse_id_or_none(id))

    @strawberry.field(description="Fixtures this referee declared availability for, by date; `from` inclusive, `to` exclusive.")
    async def available_fixtures(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = strawberry.UNSET,
        to: datetime | None = strawberry.UNSET,
    ) -> list[Fixture]:
        records = await info.context.loaders.available_fixtures.load(self.uid)
        start, end = given(from_), given(to)
        return [Fixture.from_record(r) for r in records if _in_window(r.date, start, end)]

    @strawberry.field(description="This referee's assignments, by fixture date, then role.")
    async def assignments(
        self, info: Info, status: AssignmentStatusEnum | None = strawberry.UNSET
    ) -> list[Assignment]:
        wanted = given(status)
        records = await info.context.loaders.referee_assignments.load(self.uid)
        return [Assignment.from_record(r) for r in records if wanted is None or r.status is wanted]

    @strawberry.field(permission_classes=[Policy], description="Newest first; `first` is 1..200.")
    async def notifications(
        self, info: Info, unread_only: bool | None = False, first: int | None = 50
    ) -> list[Notification]:
        limit = 50 if first is None else first
        if not 1 <= limit <= NOTIFICATIONS_MAX:
            raise InvalidInput("INVALID_PAGE_SIZE", f"first must be between 1 and {NOTIFICATIONS_MAX} (got {limit}).")
        loader = info.context.loaders.notifications(bool(unread_only), limit)
        return [Notification.from_record(r) for r in await loader.load(self.uid)]


@strawberry.federation.type(keys=["id"], description="A team that plays fixtures.")
class Team:
    id: strawberry.ID
    name: str
    club: str

    @classmethod
    def from_domain(cls, team: directory.Team) -> Team:
        return cls(id=strawberry.ID(str(team.id)), name=team.name, club=team.club)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Team | None:
        return await load_team(info, parse_id_or_none(id))


@strawberry.federation.type(keys=["id"], description="A hall where fixtures are played.")
class Venue:
    id: strawberry.ID
    name: str
    street: str
    zip: str
    city: str
    telephone: str | None
    email: str | None

    @classmethod
    def from_domain(cls, venue: directory.Venue) -> Venue:
        return cls(
            id=strawberry.ID(str(venue.id)),
            name=venue.name,
            street=venue.street,
            zip=venue.zip,
            city=venue.city,
            telephone=venue.telephone,
            email=venue.email,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Venue | None:
        return await load_venue(info, parse_id_or_none(id))


@strawberry.federation.type(keys=["id"], description="A match between two teams at a venue.")
class Fixture:
    id: strawberry.ID
    date: datetime
    status: FixtureStatusEnum
    uid: strawberry.Private[UUID]
    venue_id: strawberry.Private[UUID]
    team_home_id: strawberry.Private[UUID]
    team_away_id: strawberry.Private[UUID]
    first_referee_id: strawberry.Private[UUID | None]
    second_referee_id: strawberry.Private[UUID | None]

    @classmethod
    def from_record(cls, r: FixtureRecord | DomainFixture) -> Fixture:
        return cls(
            id=strawberry.ID(str(r.id)),
            date=r.date,
            status=r.status,
            uid=r.id,
            venue_id=r.venue_id,
            team_home_id=r.team_home_id,
            team_away_id=r.team_away_id,
            first_referee_id=r.first_referee_id,
            second_referee_id=r.second_referee_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Fixture | None:
        return await load_fixture(info, parse_id_or_none(id))

    venue = relation(Venue, Venue.from_domain, key="venue_id", loader="venue")
    team_home = relation(Team, Team.from_domain, key="team_home_id", loader="team")
    team_away = relation(Team, Team.from_domain, key="team_away_id", loader="team")
    first_referee = relation(
        Referee,
        Referee.from_domain,
        key="first_referee_id",
        loader="referee",
        required=False,
        description="The COMMITTED first referee, if any.",
    )
    second_referee = relation(
        Referee,
        Referee.from_domain,
        key="second_referee_id",
        loader="referee",
        required=False,
        description="The COMMITTED second referee, if any.",
    )

    @strawberry.field(description="Referees who declared availability, by name.")
    async def available_referees(self, info: Info) -> list[Referee]:
        loaders = info.context.loaders
        found = await loaders.referee.load_many(await loaders.available_referee_ids.load(self.uid))
        referees = sorted((r for r in found if r is not None), key=lambda r: (r.name.casefold(), str(r.id)))
        return [Referee.from_domain(r) for r in referees]

    @strawberry.field(description="Staged and committed assignments, FIRST before SECOND.")
    async def assignments(self, info: Info) -> list[Assignment]:
        return [Assignment.from_record(r) for r in await info.context.loaders.fixture_assignments.load(self.uid)]


@strawberry.type(description="A referee in a role on a fixture, staged or committed.")
class Assignment:
    role: RefereeRoleEnum
    status: AssignmentStatusEnum
    fixture_id: strawberry.Private[UUID]
    referee_id: strawberry.Private[UUID]

    @classmethod
    def from_record(cls, r: AssignmentRecord | DomainAssignment) -> Assignment:
        return cls(role=r.role, status=r.status, fixture_id=r.fixture_id, referee_id=r.referee_id)

    fixture = relation(Fixture, Fixture.from_record, key="fixture_id", loader="fixture")
    referee = relation(Referee, Referee.from_domain, key="referee_id", loader="referee")


@strawberry.type(description="A referee's declared availability for a fixture.")
class Availability:
    fixture_id: strawberry.Private[UUID]
    referee_id: strawberry.Private[UUID]

    fixture = relation(Fixture, Fixture.from_record, key="fixture_id", loader="fixture")
    referee = relation(Referee, Referee.from_domain, key="referee_id", loader="referee")


@strawberry.type(description="While locked, referees cannot declare or withdraw availability.")
class AvailabilityLock:
    locked: bool
    changed_at: datetime | None

    @classmethod
    def from_domain(cls, lock: LockState) -> AvailabilityLock:
        return cls(locked=lock.locked, changed_at=lock.changed_at)


@strawberry.type(description="One problem of one staged assignment that keeps the commit from happening.")
class AssignmentProblem:
    code: str
    message: str
    fixture_id: strawberry.Private[UUID]
    referee_id: strawberry.Private[UUID]

    @classmethod
    def from_domain(cls, p: Problem) -> AssignmentProblem:
        return cls(code=p.code, message=p.message, fixture_id=p.fixture_id, referee_id=p.referee_id)

    fixture = relation(Fixture, Fixture.from_record, key="fixture_id", loader="fixture")
    referee = relation(Referee, Referee.from_domain, key="referee_id", loader="referee")


@strawberry.type(description="The verdict on every STAGED assignment.")
class AssignmentValidation:
    valid: bool
    problems: list[AssignmentProblem]


@strawberry.type(description="One commit of staged assignments.")
class AssignmentCommit:
    id: strawberry.ID
    committed_at: datetime
    assignments: list[Assignment] = strawberry.field(description="The assignments this commit made COMMITTED.")
    replaced: list[Assignment] = strawberry.field(
        description="Committed assignments this commit replaced (status as they were)."
    )
    event_id: str | None = strawberry.field(
        default=None,
        description="On a subscription event: its event id, to resume after (`after`) on reconnect. Null elsewhere.",
    )

    @classmethod
    def from_domain(cls, commit: CommitResult) -> AssignmentCommit:
        return cls(
            id=strawberry.ID(str(commit.id)),
            committed_at=commit.committed_at,
            assignments=[Assignment.from_record(a) for a in commit.assignments],
            replaced=[Assignment.from_record(a) for a in commit.replaced],
        )


@strawberry.type(description="A message to a referee about a change that concerns them.")
class Notification:
    id: strawberry.ID
    kind: NotificationKindEnum
    message: str
    created_at: datetime
    read: bool
    fixture_id: strawberry.Private[UUID]
    event_id: str | None = strawberry.field(
        default=None,
        description="On a subscription event: its event id, to resume after (`after`) on reconnect. Null elsewhere.",
    )

    @classmethod
    def from_record(cls, r: NotificationRecord) -> Notification:
        return cls(
            id=strawberry.ID(str(r.id)),
            kind=NotificationKind(r.kind),
            message=r.message,
            created_at=r.created_at,
            read=r.read,
            fixture_id=r.fixture_id,
        )

    fixture = relation(Fixture, Fixture.from_record, key="fixture_id", loader="fixture")


@strawberry.type
class FixtureEdge:
    node: Fixture
    codec: strawberry.Private[CursorCodec]

    # Signed only when selected: a page of 100 costs 100 HMACs, and most queries never
    # ask for the cursors.
    @strawberry.field
    def cursor(self) -> str:
        return self.signed_cursor()

    def signed_cursor(self) -> str:
        return self.codec.encode(self.node.date, self.node.uid)


@strawberry.type
class PageInfo:
    has_next_page: bool
    last: strawberry.Private[FixtureEdge | None]

    @strawberry.field
    def end_cursor(self) -> str | None:
        return None if self.last is None else self.last.signed_cursor()


# --- loading helpers ------------------------------------------------------------------


async def load_referee(info: Info, id: UUID | None) -> Referee | None:
    found = None if id is None else await info.context.loaders.referee.load(id)
    return None if found is None else Referee.from_domain(found)


async def load_team(info: Info, id: UUID | None) -> Team | None:
    found = None if id is None else await info.context.loaders.team.load(id)
    return None if found is None else Team.from_domain(found)


async def load_venue(info: Info, id: UUID | None) -> Venue | None:
    found = None if id is None else await info.context.loaders.venue.load(id)
    return None if found is None else Venue.from_domain(found)


async def load_fixture(info: Info, id: UUID | None) -> Fixture | None:
    found = None if id is None else await info.context.loaders.fixture.load(id)
    return None if found is None else Fixture.from_record(found)
