from datetime import date, timedelta

from tests.unit.factories import BERLIN, UTC, at, league


def test_local_day_is_the_calendar_date_in_the_league_zone():
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin (UTC+1 in winter).
    assert league(BERLIN).local_day(at(2026, 3, 1, 23, 30)) == date(2026, 3, 2)
    assert league(UTC).local_day(at(2026, 3, 1, 23, 30)) == date(2026, 3, 1)


def test_late_evening_and_early_next_local_day_are_not_the_same_day_though_the_utc_date_agrees():
    late = at(2026, 1, 10, 23, 30, tz=BERLIN)  # 22:30Z on 10 Jan
    early_next = at(2026, 1, 11, 0, 30, tz=BERLIN)  # 23:30Z on 10 Jan
    assert late.astimezone(UTC).date() == early_next.astimezone(UTC).date()
    assert not league(BERLIN).same_day(late, early_next)


def test_same_local_day_is_the_same_day_though_the_utc_dates_differ():
    just_after_midnight = at(2026, 1, 11, 0, 30, tz=BERLIN)  # 23:30Z on 10 Jan
    evening = at(2026, 1, 11, 22, 0, tz=BERLIN)  # 21:00Z on 11 Jan
    assert just_after_midnight.astimezone(UTC).date() != evening.astimezone(UTC).date()
    assert league(BERLIN).same_day(just_after_midnight, evening)


def test_same_day_in_summer_time_uses_the_summer_offset():
    # 01:30 CEST on 2 July is 23:30Z on 1 July.
    assert league(BERLIN).same_day(at(2026, 7, 1, 23, 30), at(2026, 7, 2, 12, 0))
    assert not league(UTC).same_day(at(2026, 7, 1, 23, 30), at(2026, 7, 2, 12, 0))


def test_same_day_in_utc_league_uses_utc_dates():
    cal = league(UTC)
    assert cal.same_day(at(2026, 3, 1, 0, 0), at(2026, 3, 1, 23, 59))
    assert not cal.same_day(at(2026, 3, 1, 23, 59), at(2026, 3, 2, 0, 0))


def test_same_day_does_not_depend_on_the_offset_the_instants_are_given_in():
    cal = league(BERLIN)
    a = at(2026, 1, 10, 23, 30, tz=BERLIN)
    assert cal.same_day(a.astimezone(UTC), at(2026, 1, 10, 9, 0, tz=BERLIN))


def test_slot_starting_exactly_at_the_end_of_another_does_not_overlap():
    cal = league(UTC, minutes=150)
    start = at(2026, 3, 1, 10, 0)
    assert not cal.slots_overlap(start, start + timedelta(minutes=150))
    assert not cal.slots_overlap(start + timedelta(minutes=150), start)


def test_slot_starting_a_minute_before_the_end_of_another_overlaps():
    cal = league(UTC, minutes=150)
    start = at(2026, 3, 1, 10, 0)
    assert cal.slots_overlap(start, start + timedelta(minutes=149))
    assert cal.slots_overlap(start + timedelta(minutes=149), start)


def test_slots_with_the_same_start_overlap():
    start = at(2026, 3, 1, 10, 0)
    assert league().slots_overlap(start, start)


def test_slot_length_follows_the_configured_match_duration():
    cal = league(UTC, minutes=90)
    start = at(2026, 3, 1, 10, 0)
    assert cal.slots_overlap(start, start + timedelta(minutes=89))
    assert not cal.slots_overlap(start, start + timedelta(minutes=90))


def test_day_bounds_are_local_midnights_as_utc_instants():
    start, end = league(BERLIN).day_bounds(at(2026, 1, 10, 23, 30))  # 00:30 on 11 Jan in Berlin
    assert start == at(2026, 1, 10, 23, 0)
    assert end == at(2026, 1, 11, 23, 0)
    assert start.utcoffset() == timedelta(0)


def test_day_bounds_of_the_spring_forward_day_span_23_hours():
    start, end = league(BERLIN).day_bounds(at(2026, 3, 29, 12, 0))
    assert (start, end) == (at(2026, 3, 28, 23, 0), at(2026, 3, 29, 22, 0))


def test_day_bounds_of_the_fall_back_day_span_25_hours():
    start, end = league(BERLIN).day_bounds(at(2026, 10, 25, 12, 0))
    assert (start, end) == (at(2026, 10, 24, 22, 0), at(2026, 10, 25, 23, 0))


def test_describe_shows_league_local_time():
    assert league(BERLIN).describe(at(2026, 1, 10, 17, 30)) == "2026-01-10 18:30"
