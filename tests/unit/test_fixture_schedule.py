from datetime import timedelta
from uuid import uuid4

from app.domain.events import FixtureCancelled, FixtureCreated, FixtureDateChanged, FixtureVenueChanged
from app.domain.fixture import AssignmentStatus, Fixture, FixtureStatus
from tests.unit.factories import (
    BERLIN,
    FIRST,
    SECOND,
    UTC,
    at,
    bad_input,
    committed,
    conflict,
    declare,
    fixture,
    league,
    staged,
)

CAL = league(UTC)


def _schedule(date=None, *, venue_id=None, home=None, away=None, others=(), calendar=CAL):
    return Fixture.schedule(
        uuid4(), date or at(2026, 3, 1), venue_id or uuid4(), home or uuid4(), away or uuid4(), others, calendar
    )


# --- scheduling -----------------------------------------------------------------


def test_schedule_creates_a_scheduled_fixture_and_records_fixture_created():
    fid, venue, home, away = uuid4(), uuid4(), uuid4(), uuid4()
    date = at(2026, 3, 1, 18, 30)
    f = Fixture.schedule(fid, date, venue, home, away, [], CAL)
    assert f.status is FixtureStatus.SCHEDULED
    assert (f.id, f.date, f.venue_id, f.team_home_id, f.team_away_id) == (fid, date, venue, home, away)
    assert f.assignments == {} and f.available_referee_ids == set()
    assert f.events == [FixtureCreated(fixture_id=fid, date=date, venue_id=venue, team_home_id=home, team_away_id=away)]


def test_schedule_with_the_same_team_twice_is_same_team():
    team = uuid4()
    with bad_input("SAME_TEAM"):
        _schedule(home=team, away=team)


def test_same_team_is_reported_before_a_busy_venue():
    team, venue = uuid4(), uuid4()
    busy = fixture(at(2026, 3, 1, 10), venue_id=venue).as_scheduled()
    with bad_input("SAME_TEAM"):
        _schedule(at(2026, 3, 1, 18), venue_id=venue, home=team, away=team, others=[busy])


def test_schedule_at_a_venue_hosting_another_fixture_that_day_is_venue_busy():
    venue = uuid4()
    other = fixture(at(2026, 3, 1, 10), venue_id=venue)
    with conflict("VENUE_BUSY") as info:
        _schedule(at(2026, 3, 1, 20), venue_id=venue, others=[other.as_scheduled()])
    assert str(other.id) in info.value.message


def test_schedule_at_a_venue_busy_on_another_day_passes():
    venue = uuid4()
    other = fixture(at(2026, 3, 1, 10), venue_id=venue)
    f = _schedule(at(2026, 3, 2, 10), venue_id=venue, others=[other.as_scheduled()])
    assert f.venue_id == venue


def test_schedule_when_the_home_team_plays_elsewhere_that_day_is_team_busy():
    team = uuid4()
    other = fixture(at(2026, 3, 1, 10), home=team)
    with conflict("TEAM_BUSY") as info:
        _schedule(at(2026, 3, 1, 20), home=team, others=[other.as_scheduled()])
    assert str(other.id) in info.value.message


def test_schedule_when_the_away_team_plays_at_home_elsewhere_that_day_is_team_busy():
    team = uuid4()
    other = fixture(at(2026, 3, 1, 10), home=team)
    with conflict("TEAM_BUSY"):
        _schedule(at(2026, 3, 1, 20), away=team, others=[other.as_scheduled()])


def test_schedule_when_the_away_team_plays_away_elsewhere_that_day_is_team_busy():
    team = uuid4()
    other = fixture(at(2026, 3, 1, 10), away=team)
    with conflict("TEAM_BUSY"):
        _schedule(at(2026, 3, 1, 20), away=team, others=[other.as_scheduled()])


def test_schedule_when_a_team_plays_another_day_passes():
    team = uuid4()
    other = fixture(at(2026, 3, 1, 10), home=team)
    assert _schedule(at(2026, 3, 2, 10), home=team, others=[other.as_scheduled()]).team_home_id == team


def test_venue_rule_is_checked_before_team_rule_on_the_same_other_fixture():
    venue, team = uuid4(), uuid4()
    other = fixture(at(2026, 3, 1, 10), venue_id=venue, home=team)
    with conflict("VENUE_BUSY"):
        _schedule(at(2026, 3, 1, 20), venue_id=venue, home=team, others=[other.as_scheduled()])


def test_venue_rule_is_checked_before_team_rule_whatever_the_order_of_others():
    venue, team = uuid4(), uuid4()
    team_clash = fixture(at(2026, 3, 1, 9), home=team).as_scheduled()
    venue_clash = fixture(at(2026, 3, 1, 12), venue_id=venue).as_scheduled()
    with conflict("VENUE_BUSY"):
        _schedule(at(2026, 3, 1, 20), venue_id=venue, home=team, others=[team_clash, venue_clash])


def test_venue_late_evening_and_early_next_local_day_are_different_days_in_berlin():
    # Both are on 10 Jan in UTC, yet on 10 and 11 Jan in Berlin.
    venue, team = uuid4(), uuid4()
    other = fixture(at(2026, 1, 10, 23, 30, tz=BERLIN), venue_id=venue, home=team)
    f = _schedule(
        at(2026, 1, 11, 0, 30, tz=BERLIN), venue_id=venue, away=team, others=[other.as_scheduled()], calendar=league(BERLIN)
    )
    assert f.status is FixtureStatus.SCHEDULED


def test_venue_same_local_day_is_busy_in_berlin_though_the_utc_dates_differ():
    venue = uuid4()
    other = fixture(at(2026, 1, 11, 0, 30, tz=BERLIN), venue_id=venue)  # 23:30Z on 10 Jan
    with conflict("VENUE_BUSY"):
        _schedule(
            at(2026, 1, 11, 22, 0, tz=BERLIN), venue_id=venue, others=[other.as_scheduled()], calendar=league(BERLIN)
        )


def test_team_same_local_day_is_busy_in_berlin_though_the_utc_dates_differ():
    team = uuid4()
    other = fixture(at(2026, 1, 11, 0, 30, tz=BERLIN), home=team)
    with conflict("TEAM_BUSY"):
        _schedule(at(2026, 1, 11, 22, 0, tz=BERLIN), away=team, others=[other.as_scheduled()], calendar=league(BERLIN))


def test_same_utc_day_is_busy_in_a_utc_league():
    venue = uuid4()
    other = fixture(at(2026, 1, 10, 22, 30), venue_id=venue)
    with conflict("VENUE_BUSY"):
        _schedule(at(2026, 1, 10, 23, 30), venue_id=venue, others=[other.as_scheduled()])


# --- changing the date ----------------------------------------------------------


def test_change_date_moves_the_fixture_and_records_fixture_date_changed():
    f = fixture(at(2026, 3, 1, 18))
    previous = f.date
    f.change_date(at(2026, 3, 8, 18), [], CAL)
    assert f.date == at(2026, 3, 8, 18)
    assert f.events == [FixtureDateChanged(fixture_id=f.id, previous_date=previous, date=at(2026, 3, 8, 18))]


def test_change_date_to_the_same_instant_records_no_event():
    f = fixture(at(2026, 3, 1, 18))
    f.change_date(at(2026, 3, 1, 19, tz=BERLIN), [], CAL)  # 18:00Z
    assert f.events == []


def test_fixture_is_not_busy_with_itself_when_its_date_changes_within_the_day():
    f = fixture(at(2026, 3, 1, 14))
    f.change_date(at(2026, 3, 1, 18), [f.as_scheduled()], CAL)
    assert f.date == at(2026, 3, 1, 18)
    assert len(f.events) == 1


def test_change_date_to_a_day_the_venue_is_busy_is_venue_busy_and_changes_nothing():
    f = fixture(at(2026, 3, 1, 18))
    other = fixture(at(2026, 3, 8, 10), venue_id=f.venue_id)
    with conflict("VENUE_BUSY"):
        f.change_date(at(2026, 3, 8, 18), [other.as_scheduled()], CAL)
    assert f.date == at(2026, 3, 1, 18)
    assert f.events == []


def test_change_date_to_a_day_a_team_plays_is_team_busy():
    f = fixture(at(2026, 3, 1, 18))
    other = fixture(at(2026, 3, 8, 10), away=f.team_home_id)
    with conflict("TEAM_BUSY"):
        f.change_date(at(2026, 3, 8, 18), [other.as_scheduled()], CAL)
    assert f.date == at(2026, 3, 1, 18)


def test_change_date_uses_the_league_day_in_berlin():
    f = fixture(at(2026, 1, 9, 18, tz=BERLIN))
    other = fixture(at(2026, 1, 10, 23, 30, tz=BERLIN), venue_id=f.venue_id)  # 22:30Z on 10 Jan
    f.change_date(at(2026, 1, 11, 0, 30, tz=BERLIN), [other.as_scheduled()], league(BERLIN))  # 23:30Z on 10 Jan
    assert f.date == at(2026, 1, 10, 23, 30)
    with conflict("VENUE_BUSY"):
        f.change_date(at(2026, 1, 10, 12, 0, tz=BERLIN), [other.as_scheduled()], league(BERLIN))


def test_change_date_of_a_cancelled_fixture_is_fixture_cancelled():
    f = fixture(cancelled=True)
    with conflict("FIXTURE_CANCELLED"):
        f.change_date(f.date + timedelta(days=7), [], CAL)
    assert f.events == []


def test_fixture_cancelled_is_reported_before_venue_busy_on_change_date():
    f = fixture(at(2026, 3, 1, 18), cancelled=True)
    other = fixture(at(2026, 3, 8, 10), venue_id=f.venue_id)
    with conflict("FIXTURE_CANCELLED"):
        f.change_date(at(2026, 3, 8, 18), [other.as_scheduled()], CAL)


def test_fixture_date_changed_concerns_committed_and_declared_referees_each_once():
    f = fixture(at(2026, 3, 1, 18))
    first = committed(f, FIRST)  # committed and declared
    second = committed(f, SECOND, declared=False)
    declared_only = declare(f)
    staged(f, FIRST, declared=False)  # staged only: not concerned
    f.change_date(at(2026, 3, 2, 18), [], CAL)
    (event,) = f.events
    assert event.concerned_referee_ids == frozenset({first, second, declared_only})
    payload = event.payload()
    assert payload["concerned_referee_ids"] == sorted(str(r) for r in (first, second, declared_only))
    assert payload["previous_date"] == "2026-03-01T18:00:00+00:00"
    assert payload["date"] == "2026-03-02T18:00:00+00:00"
    assert payload["fixture_id"] == str(f.id)


def test_change_date_does_not_revalidate_committed_assignments():
    f = fixture(at(2026, 3, 1, 18))
    referee = committed(f, FIRST)
    f.change_date(at(2026, 3, 2, 18), [], CAL)
    assert f.first_referee_id == referee


# --- changing the venue ---------------------------------------------------------


def test_change_venue_records_fixture_venue_changed_with_concerned_referees():
    f = fixture()
    previous, new = f.venue_id, uuid4()
    referee = committed(f, FIRST)
    declared_only = declare(f)
    f.change_venue(new, [], CAL)
    assert f.venue_id == new
    assert f.events == [
        FixtureVenueChanged(
            fixture_id=f.id,
            previous_venue_id=previous,
            venue_id=new,
            concerned_referee_ids=frozenset({referee, declared_only}),
        )
    ]


def test_change_venue_to_the_same_venue_records_no_event():
    f = fixture()
    f.change_venue(f.venue_id, [], CAL)
    assert f.events == []


def test_change_venue_to_a_venue_busy_that_day_is_venue_busy_and_changes_nothing():
    f = fixture(at(2026, 3, 1, 18))
    previous = f.venue_id
    other = fixture(at(2026, 3, 1, 10))
    with conflict("VENUE_BUSY") as info:
        f.change_venue(other.venue_id, [other.as_scheduled()], CAL)
    assert str(other.id) in info.value.message
    assert f.venue_id == previous
    assert f.events == []


def test_change_venue_is_not_busy_with_the_fixture_itself():
    f = fixture(at(2026, 3, 1, 18))
    new = uuid4()
    f.change_venue(new, [f.as_scheduled()], CAL)
    assert f.venue_id == new


def test_change_venue_to_a_venue_busy_on_another_day_passes():
    f = fixture(at(2026, 3, 1, 18))
    other = fixture(at(2026, 3, 2, 10))
    f.change_venue(other.venue_id, [other.as_scheduled()], CAL)
    assert f.venue_id == other.venue_id


def test_change_venue_of_a_cancelled_fixture_is_fixture_cancelled():
    f = fixture(cancelled=True)
    previous = f.venue_id
    with conflict("FIXTURE_CANCELLED"):
        f.change_venue(uuid4(), [], CAL)
    assert f.venue_id == previous


# --- cancelling -----------------------------------------------------------------


def test_cancel_marks_the_fixture_cancelled():
    f = fixture()
    f.cancel()
    assert f.status is FixtureStatus.CANCELLED
    assert f.cancelled


def test_cancel_removes_staged_assignments_and_keeps_committed_referees():
    f = fixture()
    first = committed(f, FIRST)
    second_staged = staged(f, SECOND)
    f.cancel()
    assert set(f.assignments) == {first}
    assert f.assignments[first].status is AssignmentStatus.COMMITTED
    assert f.first_referee_id == first
    assert f.staged() == []
    assert second_staged in f.available_referee_ids


def test_fixture_cancelled_concerns_committed_and_declared_referees_each_once():
    f = fixture()
    first = committed(f, FIRST)  # committed and declared: once
    second = committed(f, SECOND, declared=False)
    declared_only = declare(f)
    staged_declared = staged(f, FIRST)
    staged_undeclared = staged(f, SECOND, declared=False)
    f.cancel()
    assert f.events == [
        FixtureCancelled(
            fixture_id=f.id,
            concerned_referee_ids=frozenset({first, second, declared_only, staged_declared}),
            removed_staged_referee_ids=frozenset({staged_declared, staged_undeclared}),
        )
    ]
    assert staged_undeclared not in f.events[0].concerned_referee_ids


def test_cancel_without_referees_records_an_empty_concerned_set():
    f = fixture()
    f.cancel()
    (event,) = f.events
    assert event.concerned_referee_ids == frozenset()
    assert event.removed_staged_referee_ids == frozenset()
    assert event.payload() == {
        "fixture_id": str(f.id),
        "concerned_referee_ids": [],
        "removed_staged_referee_ids": [],
    }


def test_cancelling_a_cancelled_fixture_is_already_cancelled():
    f = fixture()
    f.cancel()
    with conflict("ALREADY_CANCELLED"):
        f.cancel()
    assert len(f.events) == 1
