"""The outbox table: written with the change it describes, drained by the relay."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.events import DomainEvent
from app.repos.tables import outbox

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


async def claim(conn: AsyncConnection, limit: int) -> list[Any]:
    """Unpublished rows in sequence order, locked for this transaction.

    Only the oldest unpublished row of each aggregate is eligible, and rows other
    relays hold are skipped (PostgreSQL): several relays can run at once and the
    events of one aggregate still go out in commit order.
    """
    older = outbox.alias("older")
    query = (
        select(outbox)
        .where(
            outbox.c.published_at.is_(None),
            ~exists().where(
                and_(
                    older.c.published_at.is_(None),
                    older.c.aggregate_id == outbox.c.aggregate_id,
                    older.c.seq < outbox.c.seq,
                )
            ),
        )
        .order_by(outbox.c.seq)
        .limit(limit)
        .with_for_update(skip_locked=True, of=outbox)
    )
    return list(await conn.execute(query))


async def mark_published(conn: AsyncConnection, seqs: Sequence[int], now: datetime) -> None:
    await conn.execute(update(outbox).where(outbox.c.seq.in_(list(seqs))).values(published_at=now))


async def prune(conn: AsyncConnection, published_before: datetime) -> int:
    result = await conn.execute(delete(outbox).where(outbox.c.published_at < published_before))
    return result.rowcount


async def unpublished_count(conn: AsyncConnection) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    return (await conn.execute(query)).scalar_one()
