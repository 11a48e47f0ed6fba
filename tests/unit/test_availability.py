from uuid import uuid4

from app.domain.events import AvailabilityDeclared, AvailabilityWithdrawn
from tests.unit.factories import FIRST, committed, conflict, declare, fixture, locked, staged, unlocked


def test_declare_availability_adds_the_referee_and_records_availability_declared():
    f = fixture()
    referee = uuid4()
    f.declare_availability(referee, unlocked())
    assert f.available_referee_ids == {referee}
    assert f.events == [AvailabilityDeclared(fixture_id=f.id, referee_id=referee)]


def test_declaring_twice_is_already_declared():
    f = fixture()
    referee = declare(f)
    with conflict("ALREADY_DECLARED"):
        f.declare_availability(referee, unlocked())
    assert f.events == []


def test_declaring_on_a_cancelled_fixture_is_fixture_cancelled():
    f = fixture(cancelled=True)
    with conflict("FIXTURE_CANCELLED"):
        f.declare_availability(uuid4(), unlocked())
    assert f.available_referee_ids == set()


def test_declaring_while_locked_is_availabilities_locked():
    f = fixture()
    with conflict("AVAILABILITIES_LOCKED"):
        f.declare_availability(uuid4(), locked())
    assert f.available_referee_ids == set()
    assert f.events == []


def test_declaring_on_a_cancelled_fixture_while_locked_is_fixture_cancelled():
    f = fixture(cancelled=True)
    with conflict("FIXTURE_CANCELLED"):
        f.declare_availability(uuid4(), locked())


def test_declaring_again_while_locked_is_availabilities_locked():
    f = fixture()
    referee = declare(f)
    with conflict("AVAILABILITIES_LOCKED"):
        f.declare_availability(referee, locked())


def test_declaring_again_on_a_cancelled_fixture_is_fixture_cancelled():
    f = fixture(cancelled=True)
    referee = declare(f)
    with conflict("FIXTURE_CANCELLED"):
        f.declare_availability(referee, unlocked())


def test_withdraw_availability_removes_the_referee_and_records_availability_withdrawn():
    f = fixture()
    referee = declare(f)
    other = declare(f)
    f.withdraw_availability(referee, unlocked())
    assert f.available_referee_ids == {other}
    assert f.events == [AvailabilityWithdrawn(fixture_id=f.id, referee_id=referee)]


def test_withdrawing_without_declaring_is_not_declared():
    f = fixture()
    declare(f)
    with conflict("NOT_DECLARED"):
        f.withdraw_availability(uuid4(), unlocked())
    assert f.events == []


def test_withdrawing_on_a_cancelled_fixture_is_fixture_cancelled():
    f = fixture(cancelled=True)
    referee = declare(f)
    with conflict("FIXTURE_CANCELLED"):
        f.withdraw_availability(referee, unlocked())
    assert referee in f.available_referee_ids


def test_withdrawing_while_locked_is_availabilities_locked():
    f = fixture()
    referee = declare(f)
    with conflict("AVAILABILITIES_LOCKED"):
        f.withdraw_availability(referee, locked())
    assert referee in f.available_referee_ids
    assert f.events == []


def test_withdrawing_on_a_cancelled_fixture_while_locked_is_fixture_cancelled():
    f = fixture(cancelled=True)
    referee = declare(f)
    with conflict("FIXTURE_CANCELLED"):
        f.withdraw_availability(referee, locked())


def test_withdrawing_undeclared_while_locked_is_availabilities_locked():
    f = fixture()
    with conflict("AVAILABILITIES_LOCKED"):
        f.withdraw_availability(uuid4(), locked())


def test_withdrawing_while_holding_a_committed_assignment_is_referee_assigned():
    f = fixture()
    referee = committed(f, FIRST)
    with conflict("REFEREE_ASSIGNED"):
        f.withdraw_availability(referee, unlocked())
    assert referee in f.available_referee_ids
    assert f.events == []


def test_withdrawing_while_holding_a_staged_assignment_passes():
    f = fixture()
    referee = staged(f, FIRST)
    f.withdraw_availability(referee, unlocked())
    assert referee not in f.available_referee_ids
    assert referee in f.assignments


def test_not_declared_is_reported_before_referee_assigned():
    f = fixture()
    referee = committed(f, FIRST, declared=False)
    with conflict("NOT_DECLARED"):
        f.withdraw_availability(referee, unlocked())


def test_availabilities_locked_is_reported_before_referee_assigned():
    f = fixture()
    referee = committed(f, FIRST)
    with conflict("AVAILABILITIES_LOCKED"):
        f.withdraw_availability(referee, locked())


def test_fixture_cancelled_is_reported_before_referee_assigned():
    f = fixture(cancelled=True)
    referee = committed(f, FIRST)
    with conflict("FIXTURE_CANCELLED"):
        f.withdraw_availability(referee, unlocked())
