"""Which referees hear about which change (app.domain.notifications)."""

import uuid

from app.domain.notifications import FixtureDescription, NotificationDue, NotificationKind, message, notifications_due

FIXTURE = FixtureDescription(home="VBC Uster", away="Volley Adliswil", when="2026-10-04 15:00", venue="Buchholz")


def _pair(fixture: uuid.UUID, referee: uuid.UUID, role: str) -> dict[str, str]:
    return {"fixture_id": str(fixture), "referee_id": str(referee), "role": role}


def test_a_commit_notifies_the_assigned_and_the_replaced_referees() -> None:
    fixture, new, old = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    due = notifications_due(
        "AssignmentsCommitted",
        {"assignments": [_pair(fixture, new, "FIRST")], "replaced": [_pair(fixture, old, "FIRST")]},
    )
    assert due == [
        NotificationDue(new, fixture, NotificationKind.ASSIGNED, "FIRST"),
        NotificationDue(old, fixture, NotificationKind.UNASSIGNED, "FIRST"),
    ]


def test_removing_a_committed_assignment_notifies_its_referee() -> None:
    fixture, referee = uuid.uuid4(), uuid.uuid4()
    payload = {"fixture_id": str(fixture), "referee_id": str(referee), "role": "SECOND"}
    assert notifications_due("CommittedAssignmentRemoved", payload) == [
        NotificationDue(referee, fixture, NotificationKind.UNASSIGNED, "SECOND")
    ]


def test_fixture_changes_notify_each_concerned_referee_once() -> None:
    fixture, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for event, kind in [
        ("FixtureDateChanged", NotificationKind.FIXTURE_DATE_CHANGED),
        ("FixtureVenueChanged", NotificationKind.FIXTURE_VENUE_CHANGED),
        ("FixtureCancelled", NotificationKind.FIXTURE_CANCELLED),
    ]:
        payload = {"fixture_id": str(fixture), "concerned_referee_ids": [str(a), str(b), str(a)]}
        due = notifications_due(event, payload)
        assert sorted(d.referee_id for d in due) == sorted([a, b])
        assert {d.kind for d in due} == {kind}


def test_events_that_concern_nobody_notify_nobody() -> None:
    payload = {"fixture_id": str(uuid.uuid4()), "referee_id": str(uuid.uuid4())}
    assert notifications_due("AvailabilityDeclared", payload) == []
    assert notifications_due("RefereesChanged", {"fixture_id": str(uuid.uuid4())}) == []


def test_messages_name_the_fixture_and_the_role() -> None:
    due = NotificationDue(uuid.uuid4(), uuid.uuid4(), NotificationKind.ASSIGNED, "FIRST")
    text = message(due, FIXTURE)
    assert "first referee" in text and "VBC Uster vs Volley Adliswil" in text and "Buchholz" in text
    cancelled = NotificationDue(uuid.uuid4(), uuid.uuid4(), NotificationKind.FIXTURE_CANCELLED)
    assert message(cancelled, FIXTURE).startswith("Cancelled: VBC Uster vs Volley Adliswil on 2026-10-04 15:00")
