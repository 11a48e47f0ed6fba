"""Dates of fixtures that tests stage assignments on.

Staging is refused once a fixture has started (CONFLICT / FIXTURE_PLAYED), so a
hard-coded date a year or two ahead breaks the tests the day it passes. These are
computed from today instead, at import: far enough ahead that no run gets near them,
on the weekday the tests were written for. The demo league's season moves with the day
it is seeded: `demo_season_start` is its first round for a demo seeded today.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from app.services.demo import season_start

SATURDAY = 5  # date.weekday()


def saturday_ahead(weeks: int = 52, today: date | None = None) -> date:
    """The first Saturday at least `weeks` weeks after `today` (UTC's today by default)."""
    start = (today or utc_today()) + timedelta(weeks=weeks)
    return start + timedelta(days=(SATURDAY - start.weekday()) % 7)


def utc_today() -> date:
    return datetime.now(timezone.utc).date()


def demo_season_start(today: date | None = None) -> date:
    """The first round's Saturday of the demo league seeded `today` (UTC's today by default,
    the day of a UTC league such as the tests' servers)."""
    return season_start(today or utc_today())
