"""Subscription root fields: live events, after the change that caused them committed.

Every event carries `eventId`, its position in the outbox (gap-free, increasing). A
client that reconnects passes the last one it saw as `after`: the events after it come
first (from the outbox, as far back as its retention), then the live ones, once each.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from enum import Enum
from typing import Annotated
from uuid import UUID

import strawberry
from graphql import GraphQLError

from app.domain.errors import NotFound
from app.domain.fixture import AssignmentStatus, RefereeRole
from app.domain.errors import InvalidInput
from app.events.broker import CursorExpired, CursorNotIssued, SubscriberOverflow, Wants
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
    event_id: str = strawberry.field(description="This event's id, to resume after (`after`) on reconnect.")


AFTER = "The `eventId` of the last event received: the events after it are sent first, then the live ones."
_MAX_POSITION = 2**63 - 1


def event_position(after: str | None) -> int | None:
    """The position an `after` names; a malformed one is INVALID_CURSOR."""
    if after is None:
        return None
    if not (after.isascii() and after.isdigit() and 0 < len(after) <= 19 and int(after) <= _MAX_POSITION):
        raise InvalidInput("INVALID_CURSOR", "`after` must be the eventId of an event this server sent.")
    return int(after)


def _event_id(event: Envelope) -> str:
    return str(event.position)


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
        event_id=_event_id(event),
    )


async def _live(info: Info, wants: Wants, after: str | None) -> AsyncIterator[Envelope]:
    position = event_position(given(after))
    try:
        async for event in info.context.events(wants, position):
            yield event
    except CursorNotIssued:
        raise InvalidInput("INVALID_CURSOR", "`after` is not the eventId of an event this server sent.") from None
    except CursorExpired:
        raise InvalidInput(
            "CURSOR_EXPIRED",
            "The events after `after` are no longer kept; reload the current state, then subscribe without `after`.",
        ) from None
    except SubscriberOverflow:
        raise GraphQLError(
            "This subscription fell too far behind and was closed; subscribe again.",
            extensions={"code": "SUBSCRIPTION_OVERFLOW"},
        ) from None


@strawberry.type
class Subscription:
    @strawberry.subscription(permission_classes=[Policy], description="Every commit of staged assignments.")
    async def assignments_committed(
        self, info: Info, after: Annotated[str | None, strawberry.argument(description=AFTER)] = strawberry.UNSET
    ) -> AsyncGenerator[AssignmentCommit, None]:
        async for event in _live(info, lambda e: e.type == "AssignmentsCommitted", after):
            yield _commit(event)

    @strawberry.subscription(permission_classes=[Policy], description="Changes to one fixture, or to every fixture without an id.")
    async def fixture_changed(
        self,
        info: Info,
        fixture_id: strawberry.ID | None = strawberry.UNSET,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = strawberry.UNSET,
    ) -> AsyncGenerator[FixtureChange, None]:
        wanted = given(fixture_id)
        only = None if wanted is None else parse_id(wanted, "fixtureId")
        if only is not None and await load_fixture(info, only) is None:
            raise NotFound("FIXTURE_NOT_FOUND", f"No fixture with id {only} exists.")

        def wants(e: Envelope) -> bool:
            return e.type in _CHANGE_KINDS and (only is None or e.aggregate_id == only)

        async for event in _live(info, wants, after):
            fixture = await load_fixture(info, event.aggregate_id)
            if fixture is not None:
                yield FixtureChange(
                    kind=_CHANGE_KINDS[event.type], fixture=fixture, at=event.created_at, event_id=_event_id(event)
                )

    @strawberry.subscription(permission_classes=[Policy], description="The referee's new notifications, live.")
    async def notifications(
        self,
        info: Info,
        referee_id: strawberry.ID,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = strawberry.UNSET,
    ) -> AsyncGenerator[Notification, None]:
        referee = parse_id(referee_id, "refereeId")
        if await load_referee(info, referee) is None:
            raise NotFound("REFEREE_NOT_FOUND", f"No referee with id {referee} exists.")
        key = str(referee)

        def wants(e: Envelope) -> bool:
            return e.type == "NotificationCreated" and e.payload["referee_id"] == key

        async for event in _live(info, wants, after):
            record = await info.context.loaders.read(reads.notification_by_id, UUID(event.payload["notification_id"]))
            if record is not None:
                notification = Notification.from_record(record)
                notification.event_id = _event_id(event)
                yield notification
