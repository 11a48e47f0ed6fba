"""Typed domain errors. One place (app.schema.errors) maps them to GraphQL errors.

`code` is the coarse class a client can switch on, `reason` the exact rule that
refused, `message` a sentence a person can act on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "DOMAIN_ERROR"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason}


class InvalidInput(DomainError):
    code = "BAD_USER_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class Unauthenticated(DomainError):
    """No credentials, or credentials that do not prove who is calling (reasons TOKEN_*)."""

    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    """Known caller, but its role may not do this (reasons ADMIN_ONLY, NOT_OWN_REFEREE, ...)."""

    code = "FORBIDDEN"


class ConcurrentUpdate(Conflict):
    def __init__(self, what: str) -> None:
        super().__init__("CONCURRENT_UPDATE", f"The {what} was changed by someone else meanwhile; reload and retry.")


class ValidationFailed(Conflict):
    """Commit refused: carries every problem so the client can show them all."""

    def __init__(self, problems: Sequence[Any]) -> None:
        count = len(problems)
        super().__init__(
            "VALIDATION_FAILED",
            f"Nothing was committed: {count} staged assignment problem{'s' if count != 1 else ''} must be fixed first.",
        )
        self.problems = tuple(problems)

    def extensions(self) -> dict[str, Any]:
        return {
            **super().extensions(),
            "problems": [
                {"code": p.code, "fixtureId": str(p.fixture_id), "refereeId": str(p.referee_id)}
                for p in self.problems
            ],
        }
