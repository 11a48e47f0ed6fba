"""tests/dates.py: the staged fixtures' dates stay ahead of today."""

from datetime import date, timedelta

from tests.dates import saturday_ahead


def test_saturday_ahead_is_the_first_saturday_a_year_on() -> None:
    assert saturday_ahead(today=date(2026, 12, 4)) == date(2027, 12, 4)  # a Friday + 52 weeks: the next day
    assert saturday_ahead(today=date(2027, 3, 6)) == date(2028, 3, 4)  # a Saturday + 52 weeks: that day


def test_saturday_ahead_is_a_saturday_after_any_today() -> None:
    for offset in range(14):
        today = date(2030, 1, 1) + timedelta(days=offset)
        ahead = saturday_ahead(today=today)
        assert ahead.weekday() == 5
        assert timedelta(weeks=52) <= ahead - today < timedelta(weeks=53)
