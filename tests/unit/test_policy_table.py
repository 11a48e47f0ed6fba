"""The authorization table (app.schema.policy) covers the whole schema, and its rules
say what API.md's "Roles" section says."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
import strawberry

from app.domain.errors import DomainError, Forbidden, InvalidInput, Unauthenticated
from app.api import build_schema
from app.security.identity import DEV_ADMIN, Identity, Role
from app.schema.policy import (
    RULES,
    MissingRule,
    Policy,
    Rule,
    authorize,
    check_coverage,
    unguarded_fields,
)

ROOTS = ("Query", "Mutation", "Subscription")


def root_fields() -> set[tuple[str, str]]:
    schema = build_schema()._schema  # the graphql-core schema
    found = set()
    for type_name in ROOTS:
        root = schema.get_type(type_name)
        assert root is not None
        found |= {(type_name, name) for name in root.fields}  # type: ignore[union-attr]
    return found


def test_every_query_mutation_and_subscription_field_has_a_rule_and_the_policy() -> None:
    schema = build_schema()
    assert unguarded_fields(schema) == []
    missing = root_fields() - set(RULES)
    assert not missing, f"root fields without an authorization rule: {sorted(missing)}"


def test_every_rule_names_a_field_that_exists() -> None:
    stale = set(RULES) - root_fields() - {("Referee", "notifications")}
    assert not stale, f"rules for fields the schema does not have: {sorted(stale)}"


def test_the_table_says_what_api_md_says() -> None:
    referee_may = {name for name, rule in RULES.items() if rule is not Rule.ADMIN}
    reads = {("Query", name) for (root, name) in root_fields() if root == "Query"} - {("Query", "validateAssignments")}
    own = {
        ("Mutation", "declareAvailability"),
        ("Mutation", "withdrawAvailability"),
        ("Mutation", "markNotificationsRead"),
        ("Subscription", "notifications"),
        ("Referee", "notifications"),
    }
    assert referee_may == reads | own
    assert all(RULES[key] in (Rule.OWN_REFEREE_ARGUMENT, Rule.OWN_REFEREE_OBJECT) for key in own)


# --- a field added without the policy, or without a rule, fails loudly ---------------------


def _schema_with(extra_query: type) -> Any:
    from app.api import WhistleSchema

    return WhistleSchema(query=extra_query)


def test_a_root_field_without_the_policy_is_refused_at_build_time() -> None:
    @strawberry.type
    class Query:
        @strawberry.field(permission_classes=[Policy])
        def referees(self) -> int:
            return 1

        @strawberry.field
        def forgotten(self) -> int:
            return 1

    schema = _schema_with(Query)
    assert unguarded_fields(schema) == ["Query.forgotten: no Policy permission"]
    with pytest.raises(MissingRule, match="Query.forgotten"):
        check_coverage(schema)


async def test_a_guarded_field_without_a_rule_is_refused_at_build_time_and_at_run_time() -> None:
    @strawberry.type
    class Query:
        @strawberry.field(permission_classes=[Policy])
        def brand_new(self) -> int:
            return 1

    schema = _schema_with(Query)
    with pytest.raises(MissingRule, match="Query.brandNew: no rule in RULES"):
        check_coverage(schema)
    result = await schema.execute("{ brandNew }", context_value=_Ctx(identity=DEV_ADMIN))
    assert result.errors and isinstance(result.errors[0].original_error, MissingRule)


def test_build_schema_checks_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.schema.policy as policy

    monkeypatch.setattr(policy, "RULES", {k: v for k, v in RULES.items() if k != ("Mutation", "createTeam")})
    with pytest.raises(MissingRule, match="Mutation.createTeam"):
        build_schema()


# --- authorize: the decision itself -----------------------------------------------------------


@dataclass
class _Ctx:
    identity: Identity | None = None
    auth_error: DomainError | None = None
    csrf_error: DomainError | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Referee:
    uid: Any


OWN, OTHER = uuid4(), uuid4()
REFEREE = Identity(role=Role.REFEREE, referee_id=OWN, subject="r")
ADMIN = Identity(role=Role.ADMIN, subject="a")


def _refusal(context: _Ctx, type_name: str, field_name: str, **kwargs: Any) -> tuple[str, str] | None:
    try:
        authorize(context, type_name, field_name, **kwargs)
    except DomainError as error:
        return error.code, error.reason
    return None


def test_anonymous_is_unauthenticated_everywhere_but_viewer() -> None:
    assert [key for key, rule in RULES.items() if rule is Rule.ANYONE] == [("Query", "viewer")]
    assert authorize(_Ctx(), "Query", "viewer") is None
    for type_name, field_name in set(RULES) - {("Query", "viewer")}:
        assert _refusal(_Ctx(), type_name, field_name) == ("UNAUTHENTICATED", "TOKEN_MISSING")


def test_viewer_still_refuses_a_bad_token() -> None:
    context = _Ctx(auth_error=Unauthenticated("TOKEN_INVALID", "bad"))
    assert _refusal(context, "Query", "viewer") == ("UNAUTHENTICATED", "TOKEN_INVALID")


def test_a_refused_credential_is_reported_for_every_field() -> None:
    context = _Ctx(auth_error=Unauthenticated("TOKEN_EXPIRED", "expired"))
    assert _refusal(context, "Query", "referees") == ("UNAUTHENTICATED", "TOKEN_EXPIRED")


def test_admin_may_do_everything() -> None:
    for type_name, field_name in RULES:
        assert _refusal(_Ctx(ADMIN), type_name, field_name, arguments={"referee_id": str(OTHER)},
                        source=_Referee(OTHER)) is None


def test_referee_reads_but_may_not_administer() -> None:
    context = _Ctx(REFEREE)
    assert _refusal(context, "Query", "fixtures") is None
    assert _refusal(context, "Query", "validateAssignments") == ("FORBIDDEN", "ADMIN_ONLY")
    assert _refusal(context, "Mutation", "commitAssignments") == ("FORBIDDEN", "ADMIN_ONLY")
    assert _refusal(context, "Subscription", "assignmentsCommitted") == ("FORBIDDEN", "ADMIN_ONLY")


def test_referee_acts_on_its_own_referee_id_only() -> None:
    context = _Ctx(REFEREE)
    for type_name, field_name in [("Mutation", "declareAvailability"), ("Subscription", "notifications")]:
        assert _refusal(context, type_name, field_name, arguments={"referee_id": str(OWN).upper()}) is None
        assert _refusal(context, type_name, field_name, arguments={"referee_id": str(OTHER)}) == (
            "FORBIDDEN",
            "NOT_OWN_REFEREE",
        )
    assert _refusal(context, "Referee", "notifications", source=_Referee(OWN)) is None
    assert _refusal(context, "Referee", "notifications", source=_Referee(OTHER)) == ("FORBIDDEN", "NOT_OWN_REFEREE")


def test_a_malformed_referee_id_is_invalid_input_for_a_referee() -> None:
    with pytest.raises(InvalidInput):
        authorize(_Ctx(REFEREE), "Mutation", "markNotificationsRead", arguments={"referee_id": "nope"})


def test_csrf_refuses_mutations_only() -> None:
    context = _Ctx(REFEREE, csrf_error=Forbidden("CSRF_ORIGIN", "cross-site"))
    args = {"referee_id": str(OWN)}
    assert _refusal(context, "Query", "referees") is None
    assert _refusal(context, "Mutation", "declareAvailability", arguments=args, mutation=True) == (
        "FORBIDDEN",
        "CSRF_ORIGIN",
    )


def test_an_expired_websocket_identity_is_refused() -> None:
    expired = Identity(
        role=Role.ADMIN, subject="a", expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)
    )
    assert _refusal(_Ctx(expired), "Subscription", "fixtureChanged") == ("UNAUTHENTICATED", "TOKEN_EXPIRED")
