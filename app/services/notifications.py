"""Use cases of a referee's notifications."""

from __future__ import annotations

from collections.abc import Collection
from uuid import UUID

from app.services.deps import ServiceDeps, found, retried_once_on_connection_loss


@retried_once_on_connection_loss
async def mark_notifications_read(deps: ServiceDeps, referee_id: UUID, ids: Collection[UUID] | None) -> int:
    """Mark the referee's notifications read (all when `ids` is None); how many changed."""
    async with deps.uow() as uow:
        found(await uow.referees.get(referee_id), "referee", referee_id)
        changed = await uow.notifications.mark_read(referee_id, ids)
        await uow.commit()
    return changed
