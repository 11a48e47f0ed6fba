from app.domain.availability_lock import LOCK_ID, AvailabilityLock
from app.domain.events import AvailabilityLockChanged
from tests.unit.factories import at

T1 = at(2026, 2, 1, 9, 0)
T2 = at(2026, 2, 2, 9, 0)
T3 = at(2026, 2, 3, 9, 0)


def test_new_lock_is_unlocked_and_never_changed():
    lock = AvailabilityLock()
    assert lock.locked is False
    assert lock.changed_at is None


def test_lock_locks_sets_changed_at_and_records_lock_changed():
    lock = AvailabilityLock()
    lock.lock(T1)
    assert lock.locked is True
    assert lock.changed_at == T1
    assert lock.events == [AvailabilityLockChanged(lock_id=LOCK_ID, locked=True, changed_at=T1)]
    assert lock.events[0].aggregate_id == LOCK_ID
    assert lock.events[0].aggregate_type == "AvailabilityLock"


def test_locking_a_locked_lock_changes_nothing_changed_at_included():
    lock = AvailabilityLock()
    lock.lock(T1)
    lock.lock(T2)
    assert lock.locked is True
    assert lock.changed_at == T1
    assert len(lock.events) == 1


def test_unlocking_an_unlocked_lock_changes_nothing():
    lock = AvailabilityLock()
    lock.unlock(T1)
    assert lock.locked is False
    assert lock.changed_at is None
    assert lock.events == []


def test_unlock_after_lock_unlocks_and_records_lock_changed():
    lock = AvailabilityLock()
    lock.lock(T1)
    lock.unlock(T2)
    assert lock.locked is False
    assert lock.changed_at == T2
    assert lock.events[-1] == AvailabilityLockChanged(lock_id=LOCK_ID, locked=False, changed_at=T2)


def test_unlocking_twice_keeps_the_first_unlock_time():
    lock = AvailabilityLock(locked=True, changed_at=T1)
    lock.unlock(T2)
    lock.unlock(T3)
    assert lock.changed_at == T2
    assert [e.locked for e in lock.events] == [False]


def test_lock_unlock_lock_records_three_changes():
    lock = AvailabilityLock()
    lock.lock(T1)
    lock.unlock(T2)
    lock.lock(T3)
    assert [(e.locked, e.changed_at) for e in lock.events] == [(True, T1), (False, T2), (True, T3)]
    assert lock.changed_at == T3
