from uuid import uuid4

from app.domain.commit import commit_assignments
from app.domain.errors import ValidationFailed
from app.domain.events import AssignmentsCommitted, CommittedPair, RefereesChanged
from app.domain.fixture import Assignment, AssignmentStatus
from tests.unit.factories import FIRST, SECOND, UTC, at, committed, fixture, league, refused, staged

CAL = league(UTC)
NOW = at(2026, 2, 20, 12, 0)
STAGED = AssignmentStatus.STAGED
COMMITTED = AssignmentStatus.COMMITTED


def test_commit_makes_staged_assignments_committed_and_sets_the_fixture_referees():
    f = fixture()
    first = staged(f, FIRST)
    second = staged(f, SECOND)
    commit = commit_assignments([f], uuid4(), NOW, CAL)
    assert f.assignments == {
        first: Assignment(f.id, first, FIRST, COMMITTED),
        second: Assignment(f.id, second, SECOND, COMMITTED),
    }
    assert (f.first_referee_id, f.second_referee_id) == (first, second)
    assert commit.assignments == [
        Assignment(f.id, first, FIRST, COMMITTED),
        Assignment(f.id, second, SECOND, COMMITTED),
    ]
    assert commit.replaced == []
    assert f.staged() == []


def test_commit_replaces_the_committed_first_referee():
    f = fixture()
    old = committed(f, FIRST)
    keeper = committed(f, SECOND)
    new = staged(f, FIRST)
    commit = commit_assignments([f], uuid4(), NOW, CAL)
    assert f.first_referee_id == new
    assert f.second_referee_id == keeper
    assert old not in f.assignments
    assert commit.replaced == [Assignment(f.id, old, FIRST, COMMITTED)]
    assert commit.assignments == [Assignment(f.id, new, FIRST, COMMITTED)]


def test_commit_replaces_the_committed_second_referee_and_keeps_the_first():
    f = fixture()
    first = committed(f, FIRST)
    old = committed(f, SECOND)
    new = staged(f, SECOND)
    commit = commit_assignments([f], uuid4(), NOW, CAL)
    assert (f.first_referee_id, f.second_referee_id) == (first, new)
    assert [(a.referee_id, a.role, a.status) for a in commit.replaced] == [(old, SECOND, COMMITTED)]


def test_commit_records_one_assignments_committed_event():
    f = fixture()
    old = committed(f, FIRST)
    new = staged(f, FIRST)
    commit_id = uuid4()
    commit = commit_assignments([f], commit_id, NOW, CAL)
    assert (commit.id, commit.committed_at) == (commit_id, NOW)
    assert commit.events == [
        AssignmentsCommitted(
            commit_id=commit_id,
            committed_at=NOW,
            assignments=(CommittedPair(f.id, new, "FIRST"),),
            replaced=(CommittedPair(f.id, old, "FIRST"),),
        )
    ]
    (event,) = commit.events
    assert event.aggregate_id == commit_id
    assert event.payload()["assignments"] == [{"fixture_id": str(f.id), "referee_id": str(new), "role": "FIRST"}]
    assert event.payload()["committed_at"] == "2026-02-20T12:00:00+00:00"


def test_commit_records_referees_changed_on_each_touched_fixture_only():
    a = fixture(at(2026, 3, 1))
    b = fixture(at(2026, 3, 2))
    untouched = fixture(at(2026, 3, 3))
    committed(untouched, FIRST)
    ra = staged(a, FIRST)
    rb = staged(b, SECOND)
    commit_assignments([a, b, untouched], uuid4(), NOW, CAL)
    assert a.events == [RefereesChanged(fixture_id=a.id, first_referee_id=ra, second_referee_id=None)]
    assert b.events == [RefereesChanged(fixture_id=b.id, first_referee_id=None, second_referee_id=rb)]
    assert untouched.events == []


def test_commit_lists_assignments_by_fixture_date_then_role():
    late = fixture(at(2026, 3, 9))
    early = fixture(at(2026, 3, 1))
    late_second = staged(late, SECOND)
    late_first = staged(late, FIRST)
    early_second = staged(early, SECOND)
    commit = commit_assignments([late, early], uuid4(), NOW, CAL)
    assert [(a.fixture_id, a.referee_id) for a in commit.assignments] == [
        (early.id, early_second),
        (late.id, late_first),
        (late.id, late_second),
    ]


def test_commit_with_nothing_staged_is_empty_and_records_no_event():
    f = fixture()
    committed(f, FIRST)
    commit = commit_assignments([f], uuid4(), NOW, CAL)
    assert commit.empty
    assert commit.assignments == [] and commit.replaced == []
    assert commit.events == []
    assert f.events == []


def test_commit_of_no_fixtures_is_empty_and_records_no_event():
    commit = commit_assignments([], uuid4(), NOW, CAL)
    assert commit.empty
    assert commit.events == []


def test_commit_with_any_problem_is_validation_failed_and_changes_nothing():
    good = fixture(at(2026, 3, 1))
    bad = fixture(at(2026, 3, 2))
    old = committed(good, FIRST)
    new = staged(good, FIRST)
    undeclared = staged(bad, SECOND, declared=False)
    before = {f.id: dict(f.assignments) for f in (good, bad)}
    with refused(ValidationFailed, "CONFLICT", "VALIDATION_FAILED") as info:
        commit_assignments([good, bad], uuid4(), NOW, CAL)
    assert [(p.code, p.fixture_id, p.referee_id) for p in info.value.problems] == [
        ("REFEREE_NOT_AVAILABLE", bad.id, undeclared)
    ]
    assert {f.id: dict(f.assignments) for f in (good, bad)} == before
    assert good.first_referee_id == old
    assert good.assignments[new].status is STAGED
    assert good.events == [] and bad.events == []


def test_validation_failed_lists_every_problem_in_its_extensions():
    f = fixture()
    r1 = staged(f, FIRST)
    r2 = staged(f, FIRST)
    with refused(ValidationFailed, "CONFLICT", "VALIDATION_FAILED") as info:
        commit_assignments([f], uuid4(), NOW, CAL)
    extensions = info.value.extensions()
    assert extensions["code"] == "CONFLICT"
    assert extensions["reason"] == "VALIDATION_FAILED"
    assert sorted(extensions["problems"], key=lambda p: p["refereeId"]) == sorted(
        [
            {"code": "ROLE_TAKEN", "fixtureId": str(f.id), "refereeId": str(r1)},
            {"code": "ROLE_TAKEN", "fixtureId": str(f.id), "refereeId": str(r2)},
        ],
        key=lambda p: p["refereeId"],
    )
    assert "2 staged assignment problems" in info.value.message
    assert all(a.status is STAGED for a in f.assignments.values())


def test_commit_on_a_cancelled_fixture_is_validation_failed():
    f = fixture(cancelled=True)
    referee = staged(f, FIRST)
    with refused(ValidationFailed, "CONFLICT", "VALIDATION_FAILED") as info:
        commit_assignments([f], uuid4(), NOW, CAL)
    assert [(p.code, p.referee_id) for p in info.value.problems] == [("FIXTURE_CANCELLED", referee)]
    assert f.first_referee_id is None


def test_commit_moving_a_referee_to_an_overlapping_fixture_by_replacement_passes():
    venue = uuid4()
    a = fixture(at(2026, 3, 1, 10), venue_id=venue)
    b = fixture(at(2026, 3, 1, 11), venue_id=venue)
    moving = committed(a, FIRST)
    substitute = staged(a, FIRST)
    staged(b, FIRST, moving)
    commit = commit_assignments([a, b], uuid4(), NOW, CAL)
    assert a.first_referee_id == substitute
    assert b.first_referee_id == moving
    assert commit.replaced == [Assignment(a.id, moving, FIRST, COMMITTED)]
