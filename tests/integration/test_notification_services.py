"""markNotificationsRead marks a referee's own unread notifications read and counts them.

The notifications projector does not exist yet: the rows are inserted directly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from sqlalchemy import insert

from app.domain.errors import NotFound
from app.repos.tables import notifications, outbox
from app.services.notifications import mark_notifications_read

KICK_OFF = datetime(2026, 3, 1, 18, 0, tzinfo=timezone.utc)


async def _notify(world, referee_id: UUID, fixture_id: UUID, *, read: bool = False) -> UUID:
    notification_id = uuid4()
    await world.execute(
        insert(notifications).values(
            id=notification_id,
            referee_id=referee_id,
            fixture_id=fixture_id,
            kind="ASSIGNED",
            message="You are the first referee of this fixture.",
            created_at=KICK_OFF - timedelta(days=1),
            read=read,
        )
    )
    return notification_id


async def _unread(world, referee_id: UUID) -> set[UUID]:
    rows = await world.rows(notifications, notifications.c.referee_id == referee_id)
    return {row["id"] for row in rows if not row["read"]}


async def test_mark_given_notifications_read_counts_only_those_that_changed(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee, other = await world.referee(), await world.referee()
    one, two, three = [await _notify(world, referee.id, fixture.id) for _ in range(3)]
    already = await _notify(world, referee.id, fixture.id, read=True)
    others = await _notify(world, other.id, fixture.id)
    outbox_before = await world.rows(outbox)

    changed = await mark_notifications_read(deps, referee.id, [one, already, others, uuid4()])

    assert changed == 1  # `already` was read, `others` belongs to another referee, one id is unknown
    assert await _unread(world, referee.id) == {two, three}
    assert await _unread(world, other.id) == {others}
    assert await world.rows(outbox) == outbox_before  # reading notifications is no domain event


async def test_mark_all_notifications_read_then_again_changes_none(deps, world) -> None:
    fixture = await world.fixture(KICK_OFF)
    referee, other = await world.referee(), await world.referee()
    for _ in range(3):
        await _notify(world, referee.id, fixture.id)
    await _notify(world, referee.id, fixture.id, read=True)
    others = await _notify(world, other.id, fixture.id)

    assert await mark_notifications_read(deps, referee.id, None) == 3
    assert await mark_notifications_read(deps, referee.id, None) == 0
    assert await mark_notifications_read(deps, referee.id, []) == 0
    assert await _unread(world, referee.id) == set()
    assert await _unread(world, other.id) == {others}


async def test_marking_notifications_of_an_unknown_referee_is_refused(deps, world) -> None:
    with pytest.raises(NotFound) as refused:
        await mark_notifications_read(deps, uuid4(), None)

    assert refused.value.reason == "REFEREE_NOT_FOUND"
