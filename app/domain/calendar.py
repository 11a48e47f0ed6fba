"""League time: what "the same day" and "overlapping slots" mean.

A day is a local calendar date in the league's time zone; a fixture occupies
the half-open slot [start, start + match duration).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo


@dataclass(frozen=True)
class LeagueCalendar:
    zone: tzinfo
    slot_length: timedelta

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def same_day(self, a: datetime, b: datetime) -> bool:
        return self.local_day(a) == self.local_day(b)

    def day_bounds(self, moment: datetime) -> tuple[datetime, datetime]:
        """The UTC instants [start, end) of the local day containing `moment` (DST-safe)."""
        day = self.local_day(moment)
        start = datetime.combine(day, time(), self.zone)
        end = datetime.combine(day + timedelta(days=1), time(), self.zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def slots_overlap(self, a: datetime, b: datetime) -> bool:
        return a < b + self.slot_length and b < a + self.slot_length

    def describe(self, moment: datetime) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")
