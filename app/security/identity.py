"""The caller of an operation: a role, the referee a REFEREE token is bound to, the subject."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from uuid import UUID


class Role(str, Enum):
    ADMIN = "ADMIN"
    REFEREE = "REFEREE"


@dataclass(frozen=True)
class Identity:
    role: Role
    referee_id: UUID | None = None  # required for REFEREE; an ADMIN may carry one too
    subject: str = ""  # the token's `sub` ("dev" in dev mode without a token)
    expires_at: datetime | None = None  # the token's `exp` plus the leeway; None in dev mode without a token
    via_cookie: bool = False  # the token came from the access_token cookie (CSRF rules apply)
    # The sign-in session (WHISTLE_AUTH=oidc) this caller came with: it ends when the session does.
    session_id: str | None = field(default=None, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def owns(self, referee_id: UUID) -> bool:
        return self.referee_id is not None and self.referee_id == referee_id

    def __post_init__(self) -> None:
        if self.role is Role.REFEREE and self.referee_id is None:
            raise ValueError("a REFEREE identity is bound to a referee id")


DEV_ADMIN = Identity(role=Role.ADMIN, subject="dev")
