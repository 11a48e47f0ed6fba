"""Ids: UUIDs accepted in any letter case, printed in canonical lowercase."""

from __future__ import annotations

import re
from typing import TypeVar
from uuid import UUID

from strawberry.types.unset import UNSET, UnsetType

from app.domain.errors import InvalidInput

T = TypeVar("T")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_id(value: str, argument: str = "id") -> UUID:
    """The UUID of an id argument, or BAD_USER_INPUT / INVALID_ID."""
    parsed = parse_id_or_none(value)
    if parsed is None:
        raise InvalidInput("INVALID_ID", f"{argument} {str(value)[:60]!r} is not a valid id (a UUID).")
    return parsed


def parse_id_or_none(value: object) -> UUID | None:
    if isinstance(value, str) and _UUID.fullmatch(value):
        return UUID(value)
    return None


def given(value: T | None | UnsetType) -> T | None:
    """An optional argument's value; omitted (UNSET) and null both mean None."""
    return None if value is UNSET else value  # type: ignore[return-value]
