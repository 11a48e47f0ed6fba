"""The DateTime scalar: strict RFC 3339 in, canonical UTC out."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import strawberry
from graphql import GraphQLError

# Date, "T", time with seconds, optional fraction, and a mandatory offset.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def _invalid(value: Any) -> GraphQLError:
    shown = repr(value) if not isinstance(value, str) else repr(value[:60])
    return GraphQLError(
        f"{shown} is not an RFC 3339 date-time with seconds and an offset, like 2026-03-01T18:30:00+01:00.",
        extensions={"code": "BAD_USER_INPUT", "reason": "INVALID_DATETIME"},
    )


def parse_datetime(value: Any) -> datetime:
    """Parse RFC 3339 (`2026-03-01T18:30:00+01:00`, `...17:30:00.250Z`) to an aware UTC datetime."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid(value)
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        offset = timedelta() if zulu else timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= timedelta(hours=24) or (off_m and int(off_m) > 59):
            raise ValueError("offset out of range")
        micros = int((fraction or "0")[:6].ljust(6, "0"))
        tz = timezone(-offset if sign == "-" else offset)
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, tz)
    except ValueError as error:
        raise _invalid(value) from error
    return moment.astimezone(timezone.utc)


def serialize_datetime(value: datetime) -> str:
    """Always UTC, `2026-03-01T17:30:00+00:00`; fractions only when not zero."""
    if value.tzinfo is not timezone.utc:  # the database's values are UTC already: no conversion
        value = value.astimezone(timezone.utc)
    return _utc_text(value)


@lru_cache(maxsize=4096)
def _utc_text(value: datetime) -> str:
    """A page repeats its kick-off times (20 fixtures a day at a few times): each is
    formatted once. Only UTC values come here, so equal values have equal texts."""
    return value.isoformat()


DateTime = strawberry.scalar(
    name="DateTime",
    description="An RFC 3339 date-time with seconds and an offset; output is always UTC.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
