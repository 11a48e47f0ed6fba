"""Committing staged assignments: validate everything, then commit everything."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from app.domain.calendar import LeagueCalendar
from app.domain.errors import ValidationFailed
from app.domain.events import AssignmentsCommitted, DomainEvent
from app.domain.fixture import Assignment, Fixture
from app.domain.validation import validate_assignments


@dataclass(eq=False)
class AssignmentCommit:
    id: UUID
    committed_at: datetime
    assignments: list[Assignment]
    replaced: list[Assignment]
    events: list[DomainEvent] = field(default_factory=list, repr=False)
    version: int = 1

    @property
    def empty(self) -> bool:
        return not self.assignments


def commit_assignments(
    fixtures: Collection[Fixture], commit_id: UUID, now: datetime, calendar: LeagueCalendar
) -> AssignmentCommit:
    """All or nothing: any validation problem refuses the whole commit.

    `fixtures` as for `validate_assignments`. Nothing staged gives an empty commit
    with no event.
    """
    problems = validate_assignments(fixtures, calendar)
    if problems:
        raise ValidationFailed(problems)
    commit = AssignmentCommit(commit_id, now, [], [])
    for fixture in sorted(fixtures, key=lambda f: (f.date, str(f.id))):
        committed, replaced = fixture.commit_staged()
        commit.assignments.extend(sorted(committed, key=lambda a: a.role.value))
        commit.replaced.extend(sorted(replaced, key=lambda a: a.role.value))
    if not commit.empty:
        commit.events.append(
            AssignmentsCommitted(
                commit_id=commit_id,
                committed_at=now,
                assignments=tuple(a.pair() for a in commit.assignments),
                replaced=tuple(a.pair() for a in commit.replaced),
            )
        )
    return commit
