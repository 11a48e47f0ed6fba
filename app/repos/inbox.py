"""The inbox: which events a consumer has already applied."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.repos.tables import inbox


async def first_delivery(conn: AsyncConnection, consumer: str, event_id: UUID, now: datetime) -> bool:
    """Record the event as applied by `consumer`; False when it already was (a duplicate).

    Call inside the transaction that applies the event, so both commit or neither.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(inbox)
        .values(consumer=consumer, event_id=event_id, processed_at=now)
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
    )
    return (await conn.execute(statement)).rowcount == 1
