"""`viewer`: who the caller is, so that a client (the web app) shows only what the role may do."""

from __future__ import annotations

from enum import Enum
from uuid import UUID

import strawberry

from app.schema.context import Info
from app.schema.types import Referee, load_referee
from app.security.identity import Identity


@strawberry.enum(name="ViewerRole", description="The caller's role; ANONYMOUS: no token was sent (jwt mode).")
class ViewerRole(Enum):
    ADMIN = "ADMIN"
    REFEREE = "REFEREE"
    ANONYMOUS = "ANONYMOUS"


@strawberry.type(description="The caller of this request, as its credentials say.")
class Viewer:
    role: ViewerRole
    subject: str | None = strawberry.field(description="The token's subject (`dev` in dev mode without a token).")
    referee_id: strawberry.ID | None = strawberry.field(
        description="The referee a REFEREE token is bound to (an ADMIN token may carry one too)."
    )
    referee_uid: strawberry.Private[UUID | None] = None

    @classmethod
    def from_identity(cls, identity: Identity | None) -> Viewer:
        if identity is None:
            return cls(role=ViewerRole.ANONYMOUS, subject=None, referee_id=None)
        referee_id = identity.referee_id
        return cls(
            role=ViewerRole(identity.role.value),
            subject=identity.subject or None,
            referee_id=None if referee_id is None else strawberry.ID(str(referee_id)),
            referee_uid=referee_id,
        )

    @strawberry.field(description="The referee of `refereeId`; null when there is none (or it is unknown).")
    async def referee(self, info: Info) -> Referee | None:
        return await load_referee(info, self.referee_uid)
