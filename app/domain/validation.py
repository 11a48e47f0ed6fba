"""The assignment validation policy: judge the state a commit would produce.

Committed assignments that the commit replaces no longer count; cancelled fixtures
never count. Every problem that applies is reported, one per (code, staged
assignment); a clash between two staged assignments is reported on each of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from uuid import UUID

from app.domain.calendar import LeagueCalendar
from app.domain.fixture import Assignment, Fixture


@dataclass(frozen=True)
class AssignmentProblem:
    code: str
    message: str
    fixture_id: UUID
    referee_id: UUID


@dataclass(frozen=True)
class _Board:
    """The state the commit would produce, indexed for the checks."""

    fixtures: dict[UUID, Fixture]
    held: dict[UUID, list[Fixture]]  # referee id -> non-cancelled fixtures the referee would hold
    calendar: LeagueCalendar

    def others_held(self, a: Assignment) -> list[Fixture]:
        return [f for f in self.held[a.referee_id] if f.id != a.fixture_id]


Check = Callable[[Assignment, _Board], Iterator[str]]


def _fixture_cancelled(a: Assignment, board: _Board) -> Iterator[str]:
    if board.fixtures[a.fixture_id].cancelled:
        yield "The fixture is cancelled; remove this staged assignment."


def _referee_not_available(a: Assignment, board: _Board) -> Iterator[str]:
    if a.referee_id not in board.fixtures[a.fixture_id].available_referee_ids:
        yield "The referee has not declared availability for this fixture."


def _role_taken(a: Assignment, board: _Board) -> Iterator[str]:
    rivals = [
        s for s in board.fixtures[a.fixture_id].staged() if s.role is a.role and s.referee_id != a.referee_id
    ]
    if rivals:
        yield f"Another referee ({rivals[0].referee_id}) is staged as {a.role.value} referee on this fixture too."


def _double_booked(a: Assignment, board: _Board) -> Iterator[str]:
    fixture = board.fixtures[a.fixture_id]
    if fixture.cancelled:
        return
    for other in board.others_held(a):
        if board.calendar.slots_overlap(fixture.date, other.date):
            yield (
                f"The referee would also hold fixture {other.id} at "
                f"{board.calendar.describe(other.date)}, whose time slot overlaps this one."
            )
            return


def _different_venue_same_day(a: Assignment, board: _Board) -> Iterator[str]:
    fixture = board.fixtures[a.fixture_id]
    if fixture.cancelled:
        return
    for other in board.others_held(a):
        if other.venue_id != fixture.venue_id and board.calendar.same_day(fixture.date, other.date):
            yield (
                f"The referee would also hold fixture {other.id} at another venue on "
                f"{board.calendar.local_day(fixture.date).isoformat()}."
            )
            return


CHECKS: tuple[tuple[str, Check], ...] = (
    ("FIXTURE_CANCELLED", _fixture_cancelled),
    ("REFEREE_NOT_AVAILABLE", _referee_not_available),
    ("ROLE_TAKEN", _role_taken),
    ("DOUBLE_BOOKED", _double_booked),
    ("DIFFERENT_VENUE_SAME_DAY", _different_venue_same_day),
)


def validate_assignments(fixtures: Collection[Fixture], calendar: LeagueCalendar) -> list[AssignmentProblem]:
    """Check every staged assignment among `fixtures`.

    `fixtures` must hold every fixture with a staged assignment and every fixture on
    which a staged referee holds a committed assignment. Problems come ordered by
    fixture date, fixture id, role, then code.
    """
    board = _board(fixtures, calendar)
    staged = sorted(
        (a for f in fixtures for a in f.staged()),
        key=lambda a: (board.fixtures[a.fixture_id].date, str(a.fixture_id), a.role.value, str(a.referee_id)),
    )
    return [
        AssignmentProblem(code, message, a.fixture_id, a.referee_id)
        for a in staged
        for code, check in CHECKS
        for message in check(a, board)
    ]


def _board(fixtures: Collection[Fixture], calendar: LeagueCalendar) -> _Board:
    held: dict[UUID, list[Fixture]] = defaultdict(list)
    for fixture in fixtures:
        if fixture.cancelled:
            continue
        replaced = {a.referee_id for a in fixture.replaced_by_commit()}
        for a in fixture.assignments.values():
            if a.referee_id not in replaced:
                held[a.referee_id].append(fixture)
    return _Board({f.id: f for f in fixtures}, held, calendar)
