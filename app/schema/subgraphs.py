"""The bounded contexts as federation subgraphs: which context owns which field.

The three subgraphs are views of the ONE schema (the same Strawberry classes and
resolvers): a subgraph shows its own root fields, the entities it owns with all their
fields, the fields it contributes to another context's entity, and only the key (`id`)
of the other contexts' entities it refers to. Value types (Assignment, Notification,
the connection, ...) belong wholly to the one context that reaches them.

- directory: Referee, Team, Venue and their root fields and mutations.
- fixtures: Fixture (date, status, venue, teams, committed referees), the fixtures
  connection, fixture mutations and `fixtureChanged`.
- assignments: availability, the lock, assignments, validation, commit, notifications,
  and the fields it contributes: `Referee.availableFixtures/assignments/notifications`,
  `Fixture.availableReferees/assignments`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class Subgraph(str, Enum):
    DIRECTORY = "directory"
    FIXTURES = "fixtures"
    ASSIGNMENTS = "assignments"


DIRECTORY, FIXTURES, ASSIGNMENTS = Subgraph.DIRECTORY, Subgraph.FIXTURES, Subgraph.ASSIGNMENTS

KEY_FIELD = "id"  # every entity is @key(fields: "id")

# The context that owns each entity: it defines every field not listed in CONTRIBUTED.
ENTITY_OWNERS: Mapping[str, Subgraph] = {
    "Referee": DIRECTORY,
    "Team": DIRECTORY,
    "Venue": DIRECTORY,
    "Fixture": FIXTURES,
}

# Fields a context adds to another context's entity.
CONTRIBUTED: Mapping[tuple[str, str], Subgraph] = {
    ("Referee", "availableFixtures"): ASSIGNMENTS,
    ("Referee", "assignments"): ASSIGNMENTS,
    ("Referee", "notifications"): ASSIGNMENTS,
    ("Fixture", "availableReferees"): ASSIGNMENTS,
    ("Fixture", "assignments"): ASSIGNMENTS,
}

# Every root field of the monolith, in exactly one context.
ROOT_FIELDS: Mapping[tuple[str, str], Subgraph] = {
    ("Query", "viewer"): DIRECTORY,
    ("Query", "referees"): DIRECTORY,
    ("Query", "referee"): DIRECTORY,
    ("Query", "teams"): DIRECTORY,
    ("Query", "team"): DIRECTORY,
    ("Query", "venues"): DIRECTORY,
    ("Query", "venue"): DIRECTORY,
    ("Query", "fixtures"): FIXTURES,
    ("Query", "fixture"): FIXTURES,
    ("Query", "assignments"): ASSIGNMENTS,
    ("Query", "availabilityLock"): ASSIGNMENTS,
    ("Query", "validateAssignments"): ASSIGNMENTS,
    ("Mutation", "createReferee"): DIRECTORY,
    ("Mutation", "changeRefereeClub"): DIRECTORY,
    ("Mutation", "createTeam"): DIRECTORY,
    ("Mutation", "createVenue"): DIRECTORY,
    ("Mutation", "createFixture"): FIXTURES,
    ("Mutation", "changeFixtureDate"): FIXTURES,
    ("Mutation", "changeFixtureVenue"): FIXTURES,
    ("Mutation", "cancelFixture"): FIXTURES,
    ("Mutation", "declareAvailability"): ASSIGNMENTS,
    ("Mutation", "withdrawAvailability"): ASSIGNMENTS,
    ("Mutation", "lockAvailabilities"): ASSIGNMENTS,
    ("Mutation", "unlockAvailabilities"): ASSIGNMENTS,
    ("Mutation", "stageAssignment"): ASSIGNMENTS,
    ("Mutation", "removeStagedAssignment"): ASSIGNMENTS,
    ("Mutation", "removeCommittedAssignment"): ASSIGNMENTS,
    ("Mutation", "commitAssignments"): ASSIGNMENTS,
    ("Mutation", "markNotificationsRead"): ASSIGNMENTS,
    ("Subscription", "assignmentsCommitted"): ASSIGNMENTS,
    ("Subscription", "fixtureChanged"): FIXTURES,
    ("Subscription", "notifications"): ASSIGNMENTS,
}

ROOT_TYPES = ("Query", "Mutation", "Subscription")


def shows(subgraph: Subgraph, type_name: str, field_name: str) -> bool:
    """Whether `type_name.field_name` is part of `subgraph`'s schema (when the type is)."""
    if type_name in ROOT_TYPES:
        # Federation's own `_entities` and `_service` are in every subgraph.
        return field_name.startswith("_") or ROOT_FIELDS.get((type_name, field_name)) is subgraph
    owner = ENTITY_OWNERS.get(type_name)
    if owner is None:
        return True  # a value type: whole, wherever it is reached
    if field_name == KEY_FIELD:
        return True
    return CONTRIBUTED.get((type_name, field_name), owner) is subgraph


def resolves(subgraph: Subgraph, type_name: str) -> bool:
    """Whether `subgraph` resolves `type_name` entities (`_entities`): it owns the type or
    contributes fields to it. Elsewhere the type is a stub: `@key(..., resolvable: false)`."""
    return ENTITY_OWNERS.get(type_name) is subgraph or any(
        owner is subgraph and typ == type_name for (typ, _), owner in CONTRIBUTED.items()
    )


def has_root_fields(subgraph: Subgraph, root: str) -> bool:
    return any(typ == root and owner is subgraph for (typ, _), owner in ROOT_FIELDS.items())
