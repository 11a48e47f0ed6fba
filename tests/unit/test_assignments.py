from uuid import uuid4

from app.domain.events import AssignmentStaged, CommittedAssignmentRemoved, RefereesChanged, StagedAssignmentRemoved
from app.domain.fixture import Assignment, AssignmentStatus
from tests.unit.factories import BEFORE_KICK_OFF, FIRST, SECOND, at, committed, conflict, fixture, not_found, staged

STAGED = AssignmentStatus.STAGED
COMMITTED = AssignmentStatus.COMMITTED


# --- staging --------------------------------------------------------------------


def test_stage_records_a_staged_assignment_with_its_role():
    f = fixture()
    referee = uuid4()
    returned = f.stage(referee, FIRST, BEFORE_KICK_OFF)
    assert returned == Assignment(f.id, referee, FIRST, STAGED)
    assert f.assignments == {referee: returned}
    assert f.events == [AssignmentStaged(fixture_id=f.id, referee_id=referee, role="FIRST")]


def test_stage_does_not_set_the_committed_referees():
    f = fixture()
    f.stage(uuid4(), FIRST, BEFORE_KICK_OFF)
    assert f.first_referee_id is None
    assert f.second_referee_id is None


def test_restaging_with_another_role_changes_the_role():
    f = fixture()
    referee = uuid4()
    f.stage(referee, FIRST, BEFORE_KICK_OFF)
    f.stage(referee, SECOND, BEFORE_KICK_OFF)
    assert f.assignments == {referee: Assignment(f.id, referee, SECOND, STAGED)}
    assert [e.role for e in f.events] == ["FIRST", "SECOND"]
    assert f.events[-1] == AssignmentStaged(fixture_id=f.id, referee_id=referee, role="SECOND")


def test_restaging_with_the_same_role_records_no_new_event():
    f = fixture()
    referee = uuid4()
    f.stage(referee, SECOND, BEFORE_KICK_OFF)
    again = f.stage(referee, SECOND, BEFORE_KICK_OFF)
    assert again == Assignment(f.id, referee, SECOND, STAGED)
    assert len(f.events) == 1


def test_stage_a_second_referee_in_a_committed_role_keeps_the_committed_one_until_commit():
    f = fixture()
    holder = committed(f, FIRST)
    newcomer = uuid4()
    f.stage(newcomer, FIRST, BEFORE_KICK_OFF)
    assert f.first_referee_id == holder
    assert f.assignments[holder].status is COMMITTED
    assert f.assignments[newcomer].status is STAGED


def test_staging_on_a_cancelled_fixture_is_fixture_cancelled():
    f = fixture(cancelled=True)
    with conflict("FIXTURE_CANCELLED"):
        f.stage(uuid4(), FIRST, BEFORE_KICK_OFF)
    assert f.assignments == {}
    assert f.events == []


def test_staging_over_a_committed_assignment_is_already_committed():
    f = fixture()
    referee = committed(f, FIRST)
    with conflict("ALREADY_COMMITTED"):
        f.stage(referee, SECOND, BEFORE_KICK_OFF)
    assert f.assignments[referee] == Assignment(f.id, referee, FIRST, COMMITTED)
    assert f.events == []


def test_staging_over_a_committed_assignment_in_the_same_role_is_already_committed():
    f = fixture()
    referee = committed(f, SECOND)
    with conflict("ALREADY_COMMITTED"):
        f.stage(referee, SECOND, BEFORE_KICK_OFF)
    assert f.assignments[referee].status is COMMITTED


def test_fixture_cancelled_is_reported_before_already_committed_on_stage():
    f = fixture(cancelled=True)
    referee = committed(f, FIRST)
    with conflict("FIXTURE_CANCELLED"):
        f.stage(referee, SECOND, BEFORE_KICK_OFF)


def test_staging_once_the_fixture_has_kicked_off_is_fixture_played():
    f = fixture(at(2026, 3, 1, 18))
    for now in (at(2026, 3, 1, 18), at(2026, 3, 1, 19), at(2026, 9, 1)):
        with conflict("FIXTURE_PLAYED"):
            f.stage(uuid4(), FIRST, now)
    assert f.assignments == {}
    assert f.events == []
    assert f.stage(uuid4(), FIRST, at(2026, 3, 1, 17, 59)).status is STAGED  # a minute before: still fine


def test_fixture_cancelled_is_reported_before_fixture_played():
    f = fixture(at(2026, 3, 1), cancelled=True)
    with conflict("FIXTURE_CANCELLED"):
        f.stage(uuid4(), FIRST, at(2026, 9, 1))


# --- removing staged ------------------------------------------------------------


def test_remove_staged_deletes_the_assignment_and_records_staged_assignment_removed():
    f = fixture()
    referee = staged(f, SECOND)
    f.remove_staged(referee)
    assert f.assignments == {}
    assert f.events == [StagedAssignmentRemoved(fixture_id=f.id, referee_id=referee, role="SECOND")]


def test_remove_staged_works_on_a_cancelled_fixture():
    f = fixture(cancelled=True)
    referee = staged(f, FIRST)
    f.remove_staged(referee)
    assert referee not in f.assignments


def test_remove_staged_without_an_assignment_is_assignment_not_found():
    f = fixture()
    staged(f, FIRST)
    with not_found("ASSIGNMENT_NOT_FOUND"):
        f.remove_staged(uuid4())
    assert len(f.assignments) == 1
    assert f.events == []


def test_remove_staged_of_a_committed_assignment_is_already_committed():
    f = fixture()
    referee = committed(f, FIRST)
    with conflict("ALREADY_COMMITTED"):
        f.remove_staged(referee)
    assert f.first_referee_id == referee
    assert f.events == []


# --- removing committed ---------------------------------------------------------


def test_remove_committed_deletes_it_and_records_removal_and_referees_changed():
    f = fixture()
    first = committed(f, FIRST)
    second = committed(f, SECOND)
    f.remove_committed(first)
    assert f.first_referee_id is None
    assert f.second_referee_id == second
    assert f.events == [
        CommittedAssignmentRemoved(fixture_id=f.id, referee_id=first, role="FIRST"),
        RefereesChanged(fixture_id=f.id, first_referee_id=None, second_referee_id=second),
    ]


def test_remove_committed_keeps_the_referees_availability():
    f = fixture()
    referee = committed(f, SECOND)
    f.remove_committed(referee)
    assert referee in f.available_referee_ids


def test_remove_committed_of_a_staged_assignment_is_not_committed():
    f = fixture()
    referee = staged(f, FIRST)
    with conflict("NOT_COMMITTED"):
        f.remove_committed(referee)
    assert f.assignments[referee].status is STAGED
    assert f.events == []


def test_remove_committed_without_an_assignment_is_assignment_not_found():
    f = fixture()
    with not_found("ASSIGNMENT_NOT_FOUND"):
        f.remove_committed(uuid4())


def test_committed_referee_ids_come_from_committed_assignments_only():
    f = fixture()
    first = committed(f, FIRST)
    staged(f, SECOND)
    assert (f.first_referee_id, f.second_referee_id) == (first, None)
