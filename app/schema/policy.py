"""THE one place that decides who may run which field (API.md, "Roles").

`RULES` maps every root field (and `Referee.notifications`) to a rule; `Policy` is
the one permission class attached to each of them. A guarded field without a rule
is an error (INTERNAL_SERVER_ERROR and a log line), and `check_coverage` refuses to
build a schema with a root field that lacks the permission or a rule.

- ADMIN may do everything.
- REFEREE reads (every query but `validateAssignments`), declares and withdraws its
  own availability, reads and marks its own notifications and subscribes to them.
- Anonymous: UNAUTHENTICATED everywhere (the health endpoints are no GraphQL fields),
  except `viewer`, which tells a client who it is before it signs in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Any
from uuid import UUID

from graphql import OperationType
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.field import StrawberryField

from app.domain.errors import Forbidden, Unauthenticated
from app.schema.ids import parse_id
from app.security.identity import Identity


class Rule(Enum):
    ANYONE = "anyone, signed in or not (a token that was sent must still be valid)"
    SIGNED_IN = "any authenticated role (ADMIN, REFEREE)"
    ADMIN = "ADMIN only"
    OWN_REFEREE_ARGUMENT = "ADMIN, or the REFEREE whose id is the `refereeId` argument"
    OWN_REFEREE_OBJECT = "ADMIN, or the REFEREE this Referee object is"


RULES: Mapping[tuple[str, str], Rule] = {
    # Who am I: the web app asks before it knows whether to show a sign-in form.
    ("Query", "viewer"): Rule.ANYONE,
    # Query: reads are for every role, the admin board's dry run is not.
    ("Query", "referees"): Rule.SIGNED_IN,
    ("Query", "referee"): Rule.SIGNED_IN,
    ("Query", "teams"): Rule.SIGNED_IN,
    ("Query", "team"): Rule.SIGNED_IN,
    ("Query", "venues"): Rule.SIGNED_IN,
    ("Query", "venue"): Rule.SIGNED_IN,
    ("Query", "fixtures"): Rule.SIGNED_IN,
    ("Query", "fixture"): Rule.SIGNED_IN,
    ("Query", "assignments"): Rule.SIGNED_IN,
    ("Query", "availabilityLock"): Rule.SIGNED_IN,
    ("Query", "validateAssignments"): Rule.ADMIN,
    ("Query", "_entities"): Rule.SIGNED_IN,  # federation: the gateway forwards the caller's token
    ("Query", "_service"): Rule.SIGNED_IN,  # federation: the SDL
    # Mutation: the admin's, except a referee's own availability and notifications.
    ("Mutation", "createReferee"): Rule.ADMIN,
    ("Mutation", "changeRefereeClub"): Rule.ADMIN,
    ("Mutation", "createTeam"): Rule.ADMIN,
    ("Mutation", "createVenue"): Rule.ADMIN,
    ("Mutation", "createFixture"): Rule.ADMIN,
    ("Mutation", "changeFixtureDate"): Rule.ADMIN,
    ("Mutation", "changeFixtureVenue"): Rule.ADMIN,
    ("Mutation", "cancelFixture"): Rule.ADMIN,
    ("Mutation", "declareAvailability"): Rule.OWN_REFEREE_ARGUMENT,
    ("Mutation", "withdrawAvailability"): Rule.OWN_REFEREE_ARGUMENT,
    ("Mutation", "lockAvailabilities"): Rule.ADMIN,
    ("Mutation", "unlockAvailabilities"): Rule.ADMIN,
    ("Mutation", "stageAssignment"): Rule.ADMIN,
    ("Mutation", "removeStagedAssignment"): Rule.ADMIN,
    ("Mutation", "removeCommittedAssignment"): Rule.ADMIN,
    ("Mutation", "commitAssignments"): Rule.ADMIN,
    ("Mutation", "markNotificationsRead"): Rule.OWN_REFEREE_ARGUMENT,
    # Subscription: a referee follows its own notifications only.
    ("Subscription", "assignmentsCommitted"): Rule.ADMIN,
    ("Subscription", "fixtureChanged"): Rule.ADMIN,
    ("Subscription", "notifications"): Rule.OWN_REFEREE_ARGUMENT,
    # Nested: a referee's notifications are for that referee (and the admin).
    ("Referee", "notifications"): Rule.OWN_REFEREE_OBJECT,
}

ROOT_TYPES = ("Query", "Mutation", "Subscription")


class MissingRule(RuntimeError):
    """A guarded field has no rule in RULES: add one (a bug, never the caller's fault)."""


def rule_for(type_name: str, field_name: str) -> Rule:
    try:
        return RULES[(type_name, field_name)]
    except KeyError:
        raise MissingRule(
            f"{type_name}.{field_name} has no authorization rule: add it to app.schema.policy.RULES"
        ) from None


def authorize(
    context: Any,
    type_name: str,
    field_name: str,
    *,
    source: Any = None,
    arguments: Mapping[str, Any] | None = None,
    mutation: bool = False,
    now: datetime | None = None,
) -> Identity | None:
    """The caller's identity (None: anonymous, for Rule.ANYONE only) when it may run
    `type_name.field_name`; raises Unauthenticated / Forbidden (domain errors: the
    contract's error shape) otherwise."""
    rule = rule_for(type_name, field_name)
    if context.auth_error is not None:
        raise context.auth_error
    identity: Identity | None = context.identity
    if rule is Rule.ANYONE:
        return identity
    if identity is None:
        raise Unauthenticated(
            "TOKEN_MISSING", "Sign in: send `Authorization: Bearer <access token>` (or the access_token cookie)."
        )
    if identity.expires_at is not None and identity.expires_at <= (now or datetime.now(timezone.utc)):
        # Only a long-lived WebSocket outlives its token: HTTP verifies each request.
        raise Unauthenticated("TOKEN_EXPIRED", "The access token has expired; reconnect with a new one.")
    if mutation and context.csrf_error is not None:
        raise context.csrf_error
    if identity.is_admin or rule is Rule.SIGNED_IN:
        return identity
    if rule is Rule.ADMIN:
        raise Forbidden("ADMIN_ONLY", f"Only an ADMIN may use {field_name}; your role is {identity.role.value}.")
    if rule is Rule.OWN_REFEREE_ARGUMENT:
        referee_id = parse_id((arguments or {}).get("referee_id", ""), "refereeId")
    else:  # Rule.OWN_REFEREE_OBJECT
        referee_id = getattr(source, "uid", None)
    if not isinstance(referee_id, UUID) or not identity.owns(referee_id):
        raise Forbidden(
            "NOT_OWN_REFEREE",
            f"A REFEREE may use {field_name} only for its own referee id ({identity.referee_id}), not {referee_id}.",
        )
    return identity


class Policy(BasePermission):
    """The one permission of every root field and of Referee.notifications: it looks up the
    field's rule in RULES and raises the contract's UNAUTHENTICATED / FORBIDDEN errors."""

    message = "Not allowed."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        authorize(
            info.context,
            info.path.typename,
            info.field_name,
            source=source,
            arguments=kwargs,
            mutation=info.operation.operation is OperationType.MUTATION,
        )
        return True


def guard(fields: Iterable[StrawberryField]) -> None:
    """Attach the Policy to fields that are not declared in our code (federation's
    `_entities` and `_service`), as `permission_classes=[Policy]` would."""
    for field in fields:
        if not _guarded(field):
            field.extensions = [*(field.extensions or []), PermissionExtension([Policy()], use_directives=False)]


def _guarded(field: StrawberryField) -> bool:
    return any(
        isinstance(extension, PermissionExtension) and any(isinstance(p, Policy) for p in extension.permissions)
        for extension in field.extensions or []
    )


def unguarded_fields(schema: Any) -> list[str]:
    """`Type.field` of every root field without the Policy or without a rule, plus
    `Referee.notifications` when it lacks either (empty: all is covered)."""
    problems: list[str] = []
    targets = [(name, None) for name in ROOT_TYPES] + [("Referee", "notifications")]
    for type_name, only in targets:
        definition = schema.get_type_by_name(type_name)
        if definition is None:
            continue
        for field in definition.fields:
            name = schema.config.name_converter.get_graphql_name(field)
            if only is not None and name != only:
                continue
            if not _guarded(field):
                problems.append(f"{type_name}.{name}: no Policy permission")
            elif (type_name, name) not in RULES:
                problems.append(f"{type_name}.{name}: no rule in RULES")
    return problems


def check_coverage(schema: Any) -> None:
    problems = unguarded_fields(schema)
    if problems:
        raise MissingRule("fields without authorization: " + "; ".join(problems))
