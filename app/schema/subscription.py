"""Subscription root fields: live events, after the change that caused them committed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from enum import Enum
from uuid import UUID

import strawberry
from graphql import GraphQLError

from app.domain.errors import NotFound
from app.domain.fixture import AssignmentStatus, RefereeRole
from app.events.broker import SubscriberOverflow, Wants
from app.events.envelope import Envelope
from app.repos import reads
from app.schema.context import Info
from app.schema.ids import given, parse_id
from app.schema.types import Assignment, AssignmentCommit, Fixture, Notification, load_fixture, load_referee
from app.schema.policy import Policy


@strawberry.enum(description="What happened to a fixture.")
class FixtureChangeKind(Enum):
    CREATED = "CREATED"
    DATE_CHANGED = "DATE_CHANGED"
    VENUE_CHANGED = "VENUE_CHANGED"
    CANCELLED = "CANCELLED"
    REFEREES_CHANGED = "REFEREES_CHANGED"


_CHANGE_KINDS = {
    "FixtureCreated": FixtureChangeKind.CREATED,
    "FixtureDateChanged": FixtureChangeKind.DATE_CHANGED,
    "FixtureVenueChanged": FixtureChangeKind.VENUE_CHANGED,
    "FixtureCancelled": FixtureChangeKind.CANCELLED,
    "RefereesChanged": FixtureChangeKind.REFEREES_CHANGED,
}


@strawberry.type(description="A change to a fixture, live.")
class FixtureChange:
    kind: FixtureChangeKind
    fixture: Fixture
    at: datetime


def _commit(event: Envelope) -> AssignmentCommit:
    def assignments(key: str) -> list[Assignment]:
        return [
            Assignment(
                role=RefereeRole(a["role"]),
                status=AssignmentStatus.COMMITTED,
                fixture_id=UUID(a["fixture_id"]),
                referee_id=UUID(a["referee_id"]),
            )
            for a in event.payload[key]
        ]

    return AssignmentCommit(
        id=strawberry.ID(event.payload["commit_id"]),
        committed_at=datetime.fromisoformat(event.payload["committed_at"]),
        assignments=assignments("assignments"),
        replaced=assignments("replaced"),
    )


async def _live(info: Info, wants: Wants) -> AsyncIterator[Envelope]:
    try:
        async for event in info.context.events(wants):
            yield event
    except SubscriberOverflow:
        raise GraphQLError(
            "This subscription fell too far behind and was closed; subscribe again.",
            extensions={"code": "SUBSCRIPTION_OVERFLOW"},
        ) from None


@strawberry.type
class Subscription:
    @strawberry.subscription(permission_classes=[Policy], description="Every commit of staged assignments.")
    async def assignments_committed(self, info: Info) -> AsyncGenerator[AssignmentCommit, None]:
        async for event in _live(info, lambda e: e.type == "AssignmentsCommitted"):
            yield _commit(event)

    @strawberry.subscription(permission_classes=[Policy], description="Changes to one fixture, or to every fixture without an id.")
    async def fixture_changed(
        self, info: Info, fixture_id: strawberry.ID | None = strawberry.UNSET
    ) -> AsyncGenerator[FixtureChange, None]:
        wanted = given(fixture_id)
        only = None if wanted is None else parse_id(wanted, "fixtureId")
        if only is not None and await load_fixture(info, only) is None:
            raise NotFound("FIXTURE_NOT_FOUND", f"No fixture with id {only} exists.")

        def wants(e: Envelope) -> bool:
            return e.type in _CHANGE_KINDS and (only is None or e.aggregate_id == only)

        async for event in _live(info, wants):
            fixture = await load_fixture(info, event.aggregate_id)
            if fixture is not None:
                yield FixtureChange(kind=_CHANGE_KINDS[event.type], fixture=fixture, at=event.created_at)

    @strawberry.subscription(permission_classes=[Policy], description="The referee's new notifications, live.")
    async def notifications(self, info: Info, referee_id: strawberry.ID) -> AsyncGenerator[Notification, None]:
        referee = parse_id(referee_id, "refereeId")
        if await load_referee(info, referee) is None:
            raise NotFound("REFEREE_NOT_FOUND", f"No referee with id {referee} exists.")
        key = str(referee)

        def wants(e: Envelope) -> bool:
            return e.type == "NotificationCreated" and e.payload["referee_id"] == key

        async for event in _live(info, wants):
            record = await info.context.loaders.read(reads.notification_by_id, UUID(event.payload["notification_id"]))
            if record is not None:
                yield Notification.from_record(record)
