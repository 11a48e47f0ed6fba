"""The outbox table: written with the change it describes, drained by the relay."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.events import DomainEvent
from app.repos.tables import event_positions, outbox

# PostgreSQL channel on which a committed outbox write wakes the relays.
CHANNEL = "whistle_outbox"


def outbox_row(event: DomainEvent, version: int, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "type": event.type,
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "aggregate_version": version,
        "payload": event.payload(),
        "created_at": now,
    }


async def append(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows; on PostgreSQL, relays everywhere are woken once this commits."""
    if not rows:
        return
    await conn.execute(insert(outbox), list(rows))
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


async def sequence(conn: AsyncConnection, limit: int) -> int:
    """Give the committed rows without a position the next positions, in `seq` order; how many.

    The counter row is locked for the transaction, so sequencing is one at a time across
    relays and positions commit in order, without gaps (a rollback returns them). Within
    one aggregate `seq` order is commit order (a writer reads the version the previous
    one committed), so positions keep each aggregate's events in order.
    """
    counter = select(event_positions.c.last).where(event_positions.c.id == 1).with_for_update()
    last = (await conn.execute(counter)).scalar_one()
    # Unpublished only: rows published before positions existed (an upgraded database) keep
    # none, and the partial index on unpublished rows finds the waiting ones.
    waiting = (
        select(outbox.c.seq)
        .where(outbox.c.published_at.is_(None), outbox.c.position.is_(None))
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    seqs = list((await conn.execute(waiting)).scalars())
    if not seqs:
        return 0
    await conn.execute(
        update(outbox).where(outbox.c.seq == bindparam("s")).values(position=bindparam("p")),
        [{"s": seq, "p": last + n} for n, seq in enumerate(seqs, 1)],
    )
    await conn.execute(update(event_positions).where(event_positions.c.id == 1).values(last=last + len(seqs)))
    return len(seqs)


async def last_position(conn: AsyncConnection) -> int:
    """The newest position handed out (0 before the first)."""
    return (await conn.execute(select(event_positions.c.last).where(event_positions.c.id == 1))).scalar_one()


async def after_position(conn: AsyncConnection, position: int, limit: int) -> list[Any]:
    """Sequenced rows after `position`, in position order (published or about to be)."""
    query = select(outbox).where(outbox.c.position > position).order_by(outbox.c.position).limit(limit)
    return list(await conn.execute(query))


async def claim(conn: AsyncConnection, limit: int) -> list[Any]:
    """Unpublished sequenced rows in position order, locked for this transaction.

    Only the oldest unpublished row of each aggregate is eligible, and rows other
    relays hold are skipped (PostgreSQL): several relays can run at once and the
    events of one aggregate still go out in commit order.
    """
    older = outbox.alias("older")
    query = (
        select(outbox)
        .where(
            outbox.c.published_at.is_(None),
            outbox.c.position.is_not(None),
            ~exists().where(
                and_(
                    older.c.published_at.is_(None),
                    older.c.aggregate_id == outbox.c.aggregate_id,
                    older.c.seq < outbox.c.seq,
                )
            ),
        )
        .order_by(outbox.c.position)
        .limit(limit)
        .with_for_update(skip_locked=True, of=outbox)
    )
    return list(await conn.execute(query))


async def mark_published(conn: AsyncConnection, seqs: Sequence[int], now: datetime) -> None:
    await conn.execute(update(outbox).where(outbox.c.seq.in_(list(seqs))).values(published_at=now))


async def prune(conn: AsyncConnection, published_before: datetime) -> int:
    """Delete rows published before `published_before`, but only a prefix of the positions:
    a resuming subscriber finds every position after its own or none (CURSOR_EXPIRED)."""
    kept = select(func.min(outbox.c.position)).where(
        or_(outbox.c.published_at.is_(None), outbox.c.published_at >= published_before)
    ).scalar_subquery()
    result = await conn.execute(
        delete(outbox).where(
            outbox.c.published_at < published_before,
            or_(outbox.c.position.is_(None), kept.is_(None), outbox.c.position < kept),
        )
    )
    return result.rowcount


async def unpublished_count(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    return (await conn.execute(query)).scalar_one()
