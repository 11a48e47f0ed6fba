"""Dates of fixtures that tests stage assignments on.

Staging is refused once a fixture has started (CONFLICT / FIXTURE_PLAYED), so a
hard-coded date a year or two ahead breaks the tests the day it passes. These are
computed from today instead, at import: far enough ahead that no run gets near them,
on the weekday the tests were written for.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

SATURDAY = 5  # date.weekday()


def saturday_ahead(weeks: int = 52, today: date | None = None) -> date:
    """The first Saturday at least `weeks` weeks after `today` (UTC's today by default)."""
    start = (today or datetime.now(timezone.utc).date()) + timedelta(weeks=weeks)
    return start + timedelta(days=(SATURDAY - start.weekday()) % 7)
