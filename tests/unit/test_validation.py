from datetime import timedelta
from uuid import uuid4

from app.domain.validation import AssignmentProblem, validate_assignments
from tests.unit.factories import BERLIN, FIRST, SECOND, UTC, at, committed, fixture, league, staged

CAL = league(UTC, minutes=150)


def _found(problems):
    return {(p.code, p.fixture_id, p.referee_id) for p in problems}


def test_valid_board_has_no_problems():
    a = fixture(at(2026, 3, 1, 18))
    b = fixture(at(2026, 3, 2, 18))
    r1, r2 = uuid4(), uuid4()
    staged(a, FIRST, r1)
    staged(a, SECOND, r2)
    staged(b, FIRST, r1)
    committed(b, SECOND)
    assert validate_assignments([a, b], CAL) == []


def test_nothing_staged_has_no_problems():
    f = fixture()
    committed(f, FIRST)
    assert validate_assignments([f], CAL) == []


def test_validation_changes_nothing():
    f = fixture()
    referee = staged(f, FIRST, declared=False)
    before = dict(f.assignments)
    validate_assignments([f], CAL)
    assert f.assignments == before
    assert f.events == []
    assert f.assignments[referee].status.value == "STAGED"


# --- single rules ---------------------------------------------------------------


def test_staged_on_a_cancelled_fixture_is_fixture_cancelled():
    f = fixture(cancelled=True)
    referee = staged(f, FIRST)
    problems = validate_assignments([f], CAL)
    assert [(p.code, p.fixture_id, p.referee_id) for p in problems] == [("FIXTURE_CANCELLED", f.id, referee)]
    assert isinstance(problems[0], AssignmentProblem)
    assert problems[0].message


def test_staged_referee_without_declared_availability_is_referee_not_available():
    f = fixture()
    referee = staged(f, SECOND, declared=False)
    problems = validate_assignments([f], CAL)
    assert _found(problems) == {("REFEREE_NOT_AVAILABLE", f.id, referee)}
    assert problems[0].message


def test_two_staged_referees_for_one_role_is_role_taken_on_each():
    f = fixture()
    r1 = staged(f, FIRST)
    r2 = staged(f, FIRST)
    problems = validate_assignments([f], CAL)
    assert _found(problems) == {("ROLE_TAKEN", f.id, r1), ("ROLE_TAKEN", f.id, r2)}
    by_referee = {p.referee_id: p.message for p in problems}
    assert str(r2) in by_referee[r1]
    assert str(r1) in by_referee[r2]


def test_staged_referee_in_the_role_of_a_committed_one_is_a_replacement_not_role_taken():
    f = fixture()
    committed(f, FIRST)
    staged(f, FIRST)
    assert validate_assignments([f], CAL) == []


def test_staged_first_and_second_on_one_fixture_is_not_role_taken():
    f = fixture()
    staged(f, FIRST)
    staged(f, SECOND)
    assert validate_assignments([f], CAL) == []


def test_staged_on_a_fixture_overlapping_a_committed_one_is_double_booked_naming_it():
    venue = uuid4()
    held = fixture(at(2026, 3, 1, 10), venue_id=venue)
    new = fixture(at(2026, 3, 1, 12), venue_id=venue)
    referee = committed(held, FIRST)
    staged(new, SECOND, referee)
    problems = validate_assignments([held, new], CAL)
    assert _found(problems) == {("DOUBLE_BOOKED", new.id, referee)}
    assert str(held.id) in problems[0].message


def test_overlap_across_midnight_at_different_venues_is_double_booked_only():
    held = fixture(at(2026, 3, 1, 23, 0))
    new = fixture(at(2026, 3, 2, 0, 30))
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    assert _found(validate_assignments([held, new], CAL)) == {("DOUBLE_BOOKED", new.id, referee)}


def test_fixture_starting_exactly_at_the_end_of_the_other_slot_is_not_double_booked():
    venue = uuid4()
    held = fixture(at(2026, 3, 1, 10), venue_id=venue)
    new = fixture(held.date + timedelta(minutes=150), venue_id=venue)
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    assert validate_assignments([held, new], CAL) == []


def test_fixture_starting_a_minute_before_the_end_of_the_other_slot_is_double_booked():
    venue = uuid4()
    held = fixture(at(2026, 3, 1, 10), venue_id=venue)
    new = fixture(held.date + timedelta(minutes=149), venue_id=venue)
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    assert _found(validate_assignments([held, new], CAL)) == {("DOUBLE_BOOKED", new.id, referee)}


def test_fixture_ending_exactly_when_the_other_starts_is_not_double_booked():
    venue = uuid4()
    held = fixture(at(2026, 3, 1, 15), venue_id=venue)
    new = fixture(held.date - timedelta(minutes=150), venue_id=venue)
    referee = committed(held, SECOND)
    staged(new, FIRST, referee)
    assert validate_assignments([held, new], CAL) == []


def test_slot_length_follows_the_league_match_duration():
    venue = uuid4()
    held = fixture(at(2026, 3, 1, 10), venue_id=venue)
    new = fixture(at(2026, 3, 1, 11, 30), venue_id=venue)
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    assert validate_assignments([held, new], league(UTC, minutes=90)) == []
    assert _found(validate_assignments([held, new], league(UTC, minutes=91))) == {("DOUBLE_BOOKED", new.id, referee)}


def test_different_venue_same_day_is_reported_naming_the_other_fixture():
    held = fixture(at(2026, 3, 1, 10))
    new = fixture(at(2026, 3, 1, 18))
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    problems = validate_assignments([held, new], CAL)
    assert _found(problems) == {("DIFFERENT_VENUE_SAME_DAY", new.id, referee)}
    assert str(held.id) in problems[0].message


def test_same_venue_same_day_without_overlap_is_valid():
    venue = uuid4()
    held = fixture(at(2026, 3, 1, 10), venue_id=venue)
    new = fixture(at(2026, 3, 1, 18), venue_id=venue)
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    assert validate_assignments([held, new], CAL) == []


def test_different_venues_on_different_days_are_valid():
    held = fixture(at(2026, 3, 1, 10))
    new = fixture(at(2026, 3, 2, 10))
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    assert validate_assignments([held, new], CAL) == []


def test_different_venue_same_local_day_in_berlin_though_the_utc_dates_differ():
    held = fixture(at(2026, 1, 11, 0, 30, tz=BERLIN))  # 23:30Z on 10 Jan
    new = fixture(at(2026, 1, 11, 20, 0, tz=BERLIN))
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    assert _found(validate_assignments([held, new], league(BERLIN))) == {
        ("DIFFERENT_VENUE_SAME_DAY", new.id, referee)
    }
    assert validate_assignments([held, new], league(UTC)) == []


def test_different_venue_on_the_next_local_day_in_berlin_is_valid_though_the_utc_date_agrees():
    held = fixture(at(2026, 1, 10, 20, 0, tz=BERLIN))  # 19:00Z on 10 Jan
    new = fixture(at(2026, 1, 11, 0, 30, tz=BERLIN))  # 23:30Z on 10 Jan
    referee = committed(held, FIRST)
    staged(new, FIRST, referee)
    assert validate_assignments([held, new], league(BERLIN)) == []
    assert _found(validate_assignments([held, new], league(UTC))) == {("DIFFERENT_VENUE_SAME_DAY", new.id, referee)}


# --- clashes between staged assignments -----------------------------------------


def test_two_overlapping_staged_assignments_are_double_booked_on_each_naming_the_other():
    venue = uuid4()
    a = fixture(at(2026, 3, 1, 10), venue_id=venue)
    b = fixture(at(2026, 3, 1, 11), venue_id=venue)
    referee = uuid4()
    staged(a, FIRST, referee)
    staged(b, SECOND, referee)
    problems = validate_assignments([a, b], CAL)
    assert _found(problems) == {("DOUBLE_BOOKED", a.id, referee), ("DOUBLE_BOOKED", b.id, referee)}
    by_fixture = {p.fixture_id: p.message for p in problems}
    assert str(b.id) in by_fixture[a.id]
    assert str(a.id) in by_fixture[b.id]


def test_two_staged_assignments_at_different_venues_same_day_are_reported_on_each():
    a = fixture(at(2026, 3, 1, 10))
    b = fixture(at(2026, 3, 1, 18))
    referee = uuid4()
    staged(a, FIRST, referee)
    staged(b, FIRST, referee)
    problems = validate_assignments([a, b], CAL)
    assert _found(problems) == {
        ("DIFFERENT_VENUE_SAME_DAY", a.id, referee),
        ("DIFFERENT_VENUE_SAME_DAY", b.id, referee),
    }
    by_fixture = {p.fixture_id: p.message for p in problems}
    assert str(b.id) in by_fixture[a.id]
    assert str(a.id) in by_fixture[b.id]


def test_each_problem_code_is_reported_once_per_staged_assignment():
    venue = uuid4()
    held1 = fixture(at(2026, 3, 1, 10), venue_id=venue)
    held2 = fixture(at(2026, 3, 1, 11), venue_id=venue)
    new = fixture(at(2026, 3, 1, 10, 30), venue_id=venue)
    referee = committed(held1, FIRST)
    committed(held2, SECOND, referee)
    staged(new, FIRST, referee)
    problems = validate_assignments([held1, held2, new], CAL)
    assert [(p.code, p.fixture_id) for p in problems] == [("DOUBLE_BOOKED", new.id)]


# --- what the commit would produce ----------------------------------------------


def test_committed_assignment_replaced_by_the_commit_no_longer_counts():
    venue = uuid4()
    a = fixture(at(2026, 3, 1, 10), venue_id=venue)
    b = fixture(at(2026, 3, 1, 11), venue_id=venue)
    moving = committed(a, FIRST)
    staged(a, FIRST)  # replaces `moving` on a
    staged(b, FIRST, moving)
    assert validate_assignments([a, b], CAL) == []


def test_committed_assignment_in_the_other_role_still_counts():
    venue = uuid4()
    a = fixture(at(2026, 3, 1, 10), venue_id=venue)
    b = fixture(at(2026, 3, 1, 11), venue_id=venue)
    moving = committed(a, FIRST)
    staged(a, SECOND)  # does not replace the FIRST referee
    staged(b, FIRST, moving)
    assert _found(validate_assignments([a, b], CAL)) == {("DOUBLE_BOOKED", b.id, moving)}


def test_committed_assignment_on_a_cancelled_fixture_does_not_count():
    venue = uuid4()
    gone = fixture(at(2026, 3, 1, 10), venue_id=venue, cancelled=True)
    new = fixture(at(2026, 3, 1, 11))
    referee = committed(gone, FIRST)
    staged(new, FIRST, referee)
    assert validate_assignments([gone, new], CAL) == []


def test_staged_assignment_on_a_cancelled_fixture_reports_only_fixture_cancelled_and_does_not_count_elsewhere():
    gone = fixture(at(2026, 3, 1, 10), cancelled=True)
    new = fixture(at(2026, 3, 1, 11))
    referee = uuid4()
    staged(gone, FIRST, referee)
    staged(new, FIRST, referee)
    assert _found(validate_assignments([gone, new], CAL)) == {("FIXTURE_CANCELLED", gone.id, referee)}


# --- several problems -----------------------------------------------------------


def test_every_problem_of_one_staged_assignment_is_reported():
    venue = uuid4()
    held = fixture(at(2026, 3, 1, 10), venue_id=venue)
    new = fixture(at(2026, 3, 1, 11))
    referee = committed(held, FIRST)
    staged(new, FIRST, referee, declared=False)
    rival = staged(new, FIRST)
    problems = validate_assignments([held, new], CAL)
    assert _found(problems) == {
        ("REFEREE_NOT_AVAILABLE", new.id, referee),
        ("ROLE_TAKEN", new.id, referee),
        ("DOUBLE_BOOKED", new.id, referee),
        ("DIFFERENT_VENUE_SAME_DAY", new.id, referee),
        ("ROLE_TAKEN", new.id, rival),
    }
    mine = [p.code for p in problems if p.referee_id == referee]
    assert mine == ["REFEREE_NOT_AVAILABLE", "ROLE_TAKEN", "DOUBLE_BOOKED", "DIFFERENT_VENUE_SAME_DAY"]


def test_cancelled_undeclared_and_role_taken_are_all_reported_on_a_cancelled_fixture():
    f = fixture(cancelled=True)
    referee = staged(f, SECOND, declared=False)
    rival = staged(f, SECOND)
    problems = validate_assignments([f], CAL)
    assert [p.code for p in problems if p.referee_id == referee] == [
        "FIXTURE_CANCELLED",
        "REFEREE_NOT_AVAILABLE",
        "ROLE_TAKEN",
    ]
    assert [p.code for p in problems if p.referee_id == rival] == ["FIXTURE_CANCELLED", "ROLE_TAKEN"]


def test_problems_are_ordered_by_fixture_date():
    late = fixture(at(2026, 3, 5))
    early = fixture(at(2026, 3, 1))
    r_late = staged(late, FIRST, declared=False)
    r_early = staged(early, FIRST, declared=False)
    problems = validate_assignments([late, early], CAL)
    assert [(p.fixture_id, p.referee_id) for p in problems] == [(early.id, r_early), (late.id, r_late)]
