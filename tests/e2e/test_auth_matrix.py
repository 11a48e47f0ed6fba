"""Authentication and authorization end to end (API.md, "Roles" and "Errors").

The role x operation matrix over HTTP: every query, mutation (and the nested
`Referee.notifications`, and federation's `_entities` / `_service`) for an anonymous
caller, a REFEREE acting on its own and on another referee's behalf, and an ADMIN; a
refused mutation changes nothing. Subscriptions over real WebSockets against a real
`whistle serve` process in jwt mode. Plus bad tokens over HTTP, the access_token cookie
and CSRF, the public endpoints, dev mode, and the start-up refusals.

The app runs in jwt mode with WHISTLE_JWT_LOCAL_KEYS (tokens minted as `whistle token`
does) on the embedded SQLite backend: authorization does not depend on the backend.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from websockets.asyncio.client import connect

from app.config import Settings
from app.security.authn import AuthConfigError, mint_local_token
from app.security.identity import Role
from app.security.local_keys import LocalKeys, token_claims
from app.server import create_app
from tests.e2e.helpers import GraphQL, League
from tests.e2e.tables import unchanged_tables
from tests.e2e.processes import LEGACY_WS, TRANSPORT_WS, Closed, ServerProcess, WsClient, whistle_env
from tests.integration.bus_fixtures import free_port

ALLOWED_ORIGIN = "https://app.example"


# --- the application in jwt mode ---------------------------------------------------------------


def jwt_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{tmp_path}/whistle.db",
        "seed_demo": False,
        "auth": "jwt",
        "jwt_local_keys": str(tmp_path / "keys"),
        "cors_origins": f"{ALLOWED_ORIGIN}, https://other.example",
        "max_cost": 1_000_000,  # League.snapshot reads the whole league in one operation
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.ASGITransport]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield httpx.ASGITransport(app=application)


def client(transport: httpx.ASGITransport, token: str | None = None, **headers: str) -> httpx.AsyncClient:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(transport=transport, base_url="http://localhost", headers=headers)


@dataclass
class Ids:
    own: str  # the REFEREE's own referee
    other: str  # another referee
    team_a: str
    team_b: str
    venue_1: str
    venue_2: str
    f1: str  # declared on / withdrawn from
    f2: str  # date and venue change, then cancelled
    f4: str  # staged on
    f5: str  # committed on (other referee)


@dataclass
class World:
    settings: Settings
    transport: httpx.ASGITransport
    ids: Ids
    admin: GraphQL
    league: League

    def token(self, role: Role, referee: str | None = None) -> str:
        return mint_local_token(self.settings, role, UUID(referee) if referee else None)

    def gql(self, token: str | None = None, **headers: str) -> GraphQL:
        return GraphQL(client(self.transport, token, **headers))


async def build_world(settings: Settings, transport: httpx.ASGITransport) -> World:
    admin = GraphQL(client(transport, mint_local_token(settings, Role.ADMIN)))
    league = League(admin)
    return World(settings, transport, await build_ids(league), admin, league)


async def build_ids(league: League) -> Ids:
    """The league every matrix row runs against, made through the API by an ADMIN."""
    own, other = await league.referee("Own Referee"), await league.referee("Other Referee")
    team_a, team_b, team_c, team_d = [await league.team() for _ in range(4)]
    venue_1, venue_2 = await league.venue(), await league.venue()
    f1 = await league.fixture("2037-05-02T18:00:00Z", venue_1, team_a, team_b)
    f2 = await league.fixture("2037-05-09T18:00:00Z", venue_1, team_c, team_d)
    f4 = await league.fixture("2037-05-23T18:00:00Z", venue_1, team_a, team_b)
    f5 = await league.fixture("2037-05-30T18:00:00Z", venue_1, team_c, team_d)
    await league.declare(f5, other)
    await league.stage(f5, other, "FIRST")
    await league.commit()  # `other` holds a committed assignment (and got a notification)
    return Ids(own, other, team_a, team_b, venue_1, venue_2, f1, f2, f4, f5)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = jwt_settings(tmp_path)
    async with running(settings) as transport:
        yield await build_world(settings, transport)


# --- the operations of API.md --------------------------------------------------------------------

ANYONE, READ, ADMIN, OWN = "ANYONE", "READ", "ADMIN", "OWN"


@dataclass(frozen=True)
class Op:
    name: str  # the root field (for Referee.notifications: "referee.notifications")
    rule: str  # what API.md allows: ANYONE (no token needed), READ (every role), ADMIN (admin only), OWN (admin, or the referee itself)
    query: str
    variables: Callable[[Ids, str], dict[str, Any]]  # (ids, the referee acted for) -> variables
    path: tuple[str, ...] = ()  # where the refusal is reported (default: the root field)

    @property
    def error_path(self) -> list[str]:
        return list(self.path or (self.name,))

    @property
    def is_mutation(self) -> bool:
        return self.query.lstrip().startswith("mutation")


def none(ids: Ids, referee: str) -> dict[str, Any]:
    return {}


OPERATIONS: list[Op] = [
    # Query
    Op("viewer", ANYONE, "{ viewer { role } }", none),
    Op("referees", READ, "{ referees { id } }", none),
    Op("referee", READ, "query($r: ID!) { referee(id: $r) { id name } }", lambda i, r: {"r": r}),
    Op("teams", READ, "{ teams { id } }", none),
    Op("team", READ, "query($t: ID!) { team(id: $t) { id } }", lambda i, r: {"t": i.team_a}),
    Op("venues", READ, "{ venues { id } }", none),
    Op("venue", READ, "query($v: ID!) { venue(id: $v) { id } }", lambda i, r: {"v": i.venue_1}),
    Op("fixtures", READ, "query($r: ID) { fixtures(refereeId: $r) { totalCount } }", lambda i, r: {"r": r}),
    Op("fixture", READ, "query($f: ID!) { fixture(id: $f) { id firstReferee { id } } }", lambda i, r: {"f": i.f5}),
    Op("assignments", READ, "{ assignments { role referee { id } } }", none),
    Op("availabilityLock", READ, "{ availabilityLock { locked } }", none),
    Op("validateAssignments", ADMIN, "{ validateAssignments { valid } }", none),
    Op(
        "referee.notifications",
        OWN,
        "query($r: ID!) { referee(id: $r) { notifications { id kind read } } }",
        lambda i, r: {"r": r},
        path=("referee", "notifications"),
    ),
    Op(
        "_entities",
        READ,
        "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Referee { id name } } }",
        lambda i, r: {"reps": [{"__typename": "Referee", "id": r}]},
    ),
    Op("_service", READ, "{ _service { sdl } }", none),
    # Mutation, in an order in which each succeeds for the roles allowed to run it
    Op(
        "createReferee",
        ADMIN,
        "mutation { createReferee(input: {name: \"New Referee\", club: \"VC Ost\"}) { id } }",
        none,
    ),
    Op(
        "changeRefereeClub",
        ADMIN,
        "mutation($r: ID!) { changeRefereeClub(refereeId: $r, club: \"VC West\") { club } }",
        lambda i, r: {"r": r},
    ),
    Op("createTeam", ADMIN, "mutation { createTeam(input: {name: \"New Team\", club: \"VC Ost\"}) { id } }", none),
    Op(
        "createVenue",
        ADMIN,
        "mutation { createVenue(input: {name: \"New Hall\", street: \"Weg 1\", zip: \"3000\", city: \"Bern\"}) { id } }",
        none,
    ),
    Op(
        "createFixture",
        ADMIN,
        "mutation($v: ID!, $h: ID!, $a: ID!) { createFixture(input: "
        "{date: \"2037-06-06T18:00:00Z\", venueId: $v, teamHomeId: $h, teamAwayId: $a}) { id } }",
        lambda i, r: {"v": i.venue_2, "h": i.team_a, "a": i.team_b},
    ),
    Op(
        "changeFixtureDate",
        ADMIN,
        "mutation($f: ID!) { changeFixtureDate(fixtureId: $f, date: \"2037-05-16T18:00:00Z\") { id } }",
        lambda i, r: {"f": i.f2},
    ),
    Op(
        "changeFixtureVenue",
        ADMIN,
        "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }",
        lambda i, r: {"f": i.f2, "v": i.venue_2},
    ),
    Op(
        "declareAvailability",
        OWN,
        "mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { referee { id } } }",
        lambda i, r: {"f": i.f1, "r": r},
    ),
    Op(
        "withdrawAvailability",
        OWN,
        "mutation($f: ID!, $r: ID!) { withdrawAvailability(fixtureId: $f, refereeId: $r) { referee { id } } }",
        lambda i, r: {"f": i.f1, "r": r},
    ),
    Op("lockAvailabilities", ADMIN, "mutation { lockAvailabilities { locked } }", none),
    Op("unlockAvailabilities", ADMIN, "mutation { unlockAvailabilities { locked } }", none),
    Op(
        "stageAssignment",
        ADMIN,
        "mutation($f: ID!, $r: ID!) { stageAssignment(input: {fixtureId: $f, refereeId: $r, role: FIRST}) { role } }",
        lambda i, r: {"f": i.f4, "r": i.own},
    ),
    Op(
        "removeStagedAssignment",
        ADMIN,
        "mutation($f: ID!, $r: ID!) { removeStagedAssignment(fixtureId: $f, refereeId: $r) }",
        lambda i, r: {"f": i.f4, "r": i.own},
    ),
    Op("commitAssignments", ADMIN, "mutation { commitAssignments { id } }", none),
    Op(
        "removeCommittedAssignment",
        ADMIN,
        "mutation($f: ID!, $r: ID!) { removeCommittedAssignment(fixtureId: $f, refereeId: $r) }",
        lambda i, r: {"f": i.f5, "r": i.other},
    ),
    Op("markNotificationsRead", OWN, "mutation($r: ID!) { markNotificationsRead(refereeId: $r) }", lambda i, r: {"r": r}),
    Op("cancelFixture", ADMIN, "mutation($f: ID!) { cancelFixture(fixtureId: $f) { status } }", lambda i, r: {"f": i.f2}),
]

SUBSCRIPTIONS = {
    "assignmentsCommitted": (ADMIN, "subscription { assignmentsCommitted { id assignments { referee { id } } } }"),
    "fixtureChanged": (ADMIN, "subscription { fixtureChanged { kind fixture { id } } }"),
    "notifications": (OWN, "subscription($r: ID!) { notifications(refereeId: $r) { id kind fixture { id } } }"),
}


def test_the_matrix_covers_every_root_field_of_the_schema() -> None:
    from app.api import build_schema

    schema = build_schema()._schema
    wanted = {f"Query.{n}" for n in schema.query_type.fields}  # type: ignore[union-attr]
    wanted |= {f"Mutation.{n}" for n in schema.mutation_type.fields}  # type: ignore[union-attr]
    wanted |= {f"Subscription.{n}" for n in schema.subscription_type.fields}  # type: ignore[union-attr]
    covered = {f"{'Mutation' if op.is_mutation else 'Query'}.{op.name}" for op in OPERATIONS if "." not in op.name}
    covered |= {f"Subscription.{name}" for name in SUBSCRIPTIONS}
    assert covered == wanted


# --- the HTTP matrix -----------------------------------------------------------------------------


def auth_errors(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in result.get("errors") or [] if e.get("extensions", {}).get("code") in ("UNAUTHENTICATED", "FORBIDDEN")]


def assert_refused(result: dict[str, Any], op: Op, code: str, reason: str) -> None:
    """Refused with this code and reason at the op's field; an anonymous caller already at
    the root field (so `referee.notifications` is refused at `referee`)."""
    errors = result.get("errors") or []
    assert len(errors) == 1, f"{op.name}: {result}"
    error = errors[0]
    assert error["extensions"] == {"code": code, "reason": reason}, f"{op.name}: {error}"
    refused_identity = code == "UNAUTHENTICATED" or reason == "NO_ROLE"  # refused at the first guarded field
    path = op.error_path[:1] if refused_identity else op.error_path
    assert error["path"] == path, f"{op.name}: {error}"
    assert len(error["message"]) > 20, error
    root = op.error_path[0]
    assert result["data"] in (None, {root: None}), result


def assert_allowed(result: dict[str, Any], op: Op) -> None:
    assert "errors" not in result, f"{op.name}: {result['errors']}"
    value: Any = result["data"]
    for step in op.error_path:
        value = value[step]
    assert value is not None, f"{op.name}: {result}"


async def run_as(world: World, gql: GraphQL, op: Op, referee: str) -> tuple[dict[str, Any], bool]:
    """Run `op`; also whether the league's state changed meanwhile (checked for mutations)."""
    before = await world.league.snapshot() if op.is_mutation else None
    response = await gql.post(op.query, op.variables(world.ids, referee))
    assert response.status_code == 200, response.text
    result = response.json()
    changed = before is not None and await world.league.snapshot() != before
    return result, changed


async def test_allowed_operations_run_for_every_role_that_may_run_them(world: World) -> None:
    """The allowed half of the matrix, in the table's order (each mutation builds on the ones
    before it); the refusals are rows of `test_role_by_root_field_matrix` below."""
    ids = world.ids
    referee = world.gql(world.token(Role.REFEREE, ids.own))
    ran: set[tuple[str, str]] = set()
    for op in OPERATIONS:
        if op.rule == ANYONE:
            assert_allowed((await run_as(world, world.gql(), op, ids.own))[0], op)
            ran.add(("anonymous", op.name))
        if op.rule == ADMIN:
            continue
        for whose, referee_id in (("own", ids.own), ("other", ids.other)):
            if op.rule == OWN and whose == "other":
                continue
            result, _ = await run_as(world, referee, op, referee_id)
            assert_allowed(result, op)
            ran.add((f"referee/{whose}", op.name))
    for op in OPERATIONS:  # the admin acts for the other referee
        result, _ = await run_as(world, world.admin, op, ids.other)
        assert_allowed(result, op)
        ran.add(("admin", op.name))
    assert ran == {(role, op.name) for op in OPERATIONS for role in MATRIX_ROLES if expected_refusal(op.rule, role) is None}


# --- the matrix, one row per root field and role, generated from the schema ------------------------

MATRIX_ROLES = ("anonymous", "viewer", "referee/own", "referee/other", "admin")
"""`viewer`: a valid token that grants no Whistle role (e.g. an identity provider's VIEWER)."""


def expected_refusal(rule: str, role: str) -> tuple[str, str] | None:
    """API.md's answer for a rule and a role: (code, reason) of the refusal, None when allowed."""
    if role == "anonymous":
        return None if rule == ANYONE else ("UNAUTHENTICATED", "TOKEN_MISSING")
    if role == "viewer":
        return ("FORBIDDEN", "NO_ROLE")  # a token must be valid and grant a role, even for `viewer`
    if role == "admin" or rule in (ANYONE, READ):
        return None
    if rule == ADMIN:
        return ("FORBIDDEN", "ADMIN_ONLY")
    return None if role == "referee/own" else ("FORBIDDEN", "NOT_OWN_REFEREE")


def schema_fields() -> list[str]:
    """`Type.field` of every root field of the schema, and the guarded nested `Referee.notifications`."""
    from app.api import build_schema

    schema = build_schema()._schema
    roots = {"Query": schema.query_type, "Mutation": schema.mutation_type, "Subscription": schema.subscription_type}
    return [f"{name}.{field}" for name, root in roots.items() if root for field in root.fields] + ["Referee.notifications"]


def _field_of(op: Op) -> str:
    if op.name == "referee.notifications":
        return "Referee.notifications"
    return f"{'Mutation' if op.is_mutation else 'Query'}.{op.name}"


OPERATION_OF = {_field_of(op): op for op in OPERATIONS}


def _rule_of(field: str) -> str | None:
    type_name, name = field.split(".")
    if type_name == "Subscription":
        return SUBSCRIPTIONS[name][0] if name in SUBSCRIPTIONS else None
    return OPERATION_OF[field].rule if field in OPERATION_OF else None


def _matrix_rows() -> list[Any]:
    """Every field for every role, except allowed mutations (they change the league, so they
    run in order in the test above); a field without an operation gets rows that fail."""
    rows = []
    for field in schema_fields():
        rule = _rule_of(field)
        for role in MATRIX_ROLES:
            allowed_mutation = rule is not None and field.startswith("Mutation.") and expected_refusal(rule, role) is None
            if not allowed_mutation:
                rows.append(pytest.param(field, role, id=f"{field}-{role}"))
    return rows


@dataclass
class Matrix:
    process: ServerProcess
    settings: Settings
    ids: Ids

    def token(self, role: str) -> str | None:
        if role == "anonymous":
            return None
        if role == "viewer":
            keys = LocalKeys.load_or_create(self.settings.jwt_local_keys or "")
            claims = token_claims(role=Role.ADMIN, referee_id=None, issuer="whistle-local", audience="whistle",
                                  roles_claim="realm_access.roles", referee_claim="referee_id")
            return keys.mint({**claims, "realm_access": {"roles": ["VIEWER"]}})
        if role.startswith("referee"):
            return mint_local_token(self.settings, Role.REFEREE, UUID(self.ids.own))
        return mint_local_token(self.settings, Role.ADMIN)

    def acting_for(self, role: str) -> str:
        """The referee id a role's operations name: a REFEREE its own or another's, the admin another's."""
        return self.ids.own if role in ("anonymous", "viewer", "referee/own") else self.ids.other

    def http(self, role: str) -> httpx.AsyncClient:
        token = self.token(role)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.process.url, headers=headers, trust_env=False, timeout=10)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """A real jwt-mode server on the matrix's league, shared by the rows (a refused row changes nothing)."""
    folder = tmp_path_factory.mktemp("matrix")
    settings = jwt_settings(folder)
    env = whistle_env(
        database_url=settings.database_url, seed_demo="false", auth="jwt", jwt_local_keys=settings.jwt_local_keys,
        rate_limit_points=0,
    )
    process = ServerProcess("matrix", free_port(), env, folder).start(timeout=60)
    try:

        async def league() -> Ids:
            headers = {"Authorization": f"Bearer {mint_local_token(settings, Role.ADMIN)}"}
            async with httpx.AsyncClient(base_url=process.url, headers=headers, trust_env=False, timeout=10) as http:
                return await build_ids(League(GraphQL(http)))

        yield Matrix(process, settings, asyncio.run(league()))
    finally:
        process.stop()


@pytest.mark.parametrize(("field", "role"), _matrix_rows())
async def test_role_by_root_field_matrix(matrix: Matrix, field: str, role: str) -> None:
    """Each row: the field as that role, allowed or refused with API.md's code and reason;
    a refused row leaves every table as it was."""
    rule = _rule_of(field)
    assert rule is not None, f"{field} has no row in OPERATIONS / SUBSCRIPTIONS (with its rule): add one"
    refusal = expected_refusal(rule, role)
    if field.startswith("Subscription."):
        await _subscription_row(matrix, field.split(".")[1], role, refusal)
        return
    op = OPERATION_OF[field]
    variables = op.variables(matrix.ids, matrix.acting_for(role))
    async with matrix.http(role) as http:
        gql = GraphQL(http)
        if refusal is None:
            assert_allowed(await gql(op.query, variables), op)
            return
        async with unchanged_tables(matrix.settings.database_url):
            result = await gql(op.query, variables)
    assert_refused(result, op, *refusal)


async def _subscription_row(matrix: Matrix, name: str, role: str, refusal: tuple[str, str] | None) -> None:
    _, query = SUBSCRIPTIONS[name]
    variables = {"r": matrix.acting_for(role)} if "$r" in query else None
    token = matrix.token(role)
    async with unchanged_tables(matrix.settings.database_url):
        if role in ("anonymous", "viewer"):  # a socket authenticates before it subscribes
            assert await refused_init(matrix.process.ws_url, {"token": token} if token else {}) == (4403, "Forbidden")
            return
        async with ws_session(matrix.process.ws_url, {"token": token}) as session:
            op_id = await session.subscribe(query, variables)
            if refusal is not None:
                error = await first_error(session, op_id)
                assert error["extensions"] == {"code": refusal[0], "reason": refusal[1]}, error
                return
            await asyncio.sleep(0.5)
            assert session.pending(op_id) == [], "an allowed subscription waits for events, no error"


async def test_referee_notifications_are_guarded_wherever_referees_appear(world: World) -> None:
    referee = world.gql(world.token(Role.REFEREE, world.ids.own))
    result = await referee("query($f: ID!) { fixture(id: $f) { firstReferee { id notifications { id } } } }", {"f": world.ids.f5})
    assert [e["extensions"]["reason"] for e in auth_errors(result)] == ["NOT_OWN_REFEREE"]
    assert result["data"] == {"fixture": {"firstReferee": None}}
    result = await referee("{ referees { id notifications { id } } }")
    assert {e["extensions"]["reason"] for e in auth_errors(result)} == {"NOT_OWN_REFEREE"}


VIEWER = "{ viewer { role subject refereeId referee { name } } }"


async def test_viewer_says_who_is_calling_and_refuses_a_bad_token(world: World) -> None:
    own = world.ids.own
    assert (await world.gql().data(VIEWER))["viewer"] == {
        "role": "ANONYMOUS", "subject": None, "refereeId": None, "referee": None
    }
    referee = (await world.gql(world.token(Role.REFEREE, own)).data(VIEWER))["viewer"]
    assert referee["role"] == "REFEREE" and referee["refereeId"] == own
    assert referee["referee"] == {"name": "Own Referee"} and referee["subject"]
    admin = (await world.admin.data(VIEWER))["viewer"]
    assert admin["role"] == "ADMIN" and admin["refereeId"] is None and admin["referee"] is None
    result = await world.gql("garbage")(VIEWER)
    assert result["data"] is None
    assert result["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "TOKEN_INVALID"}


# --- bad credentials over HTTP: per-field errors, HTTP 200 ------------------------------------------


async def test_bad_tokens_are_unauthenticated_field_errors(world: World) -> None:
    keys = LocalKeys.load_or_create(world.settings.jwt_local_keys or "")
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    expired = keys.mint(
        token_claims(role=Role.ADMIN, referee_id=None, issuer="whistle-local", audience="whistle",
                     roles_claim="realm_access.roles", referee_claim="referee_id", ttl=timedelta(hours=1), now=past)
    )
    wrong_audience = keys.mint(
        token_claims(role=Role.ADMIN, referee_id=None, issuer="whistle-local", audience="someone-else",
                     roles_claim="realm_access.roles", referee_claim="referee_id")
    )
    cases = {
        f"Bearer {expired}": "TOKEN_EXPIRED",
        f"Bearer {wrong_audience}": "TOKEN_INVALID",
        "Bearer not-a-token": "TOKEN_INVALID",
        "Basic YWRtaW46YWRtaW4=": "TOKEN_INVALID",
        "Bearer": "TOKEN_INVALID",
    }
    query = "query($r: ID!, $t: ID!) { referee(id: $r) { id } team(id: $t) { id } }"
    variables = {"r": world.ids.own, "t": world.ids.team_a}
    for header, reason in cases.items():
        async with client(world.transport, Authorization=header) as http:
            response = await http.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200
        result = response.json()
        assert result["data"] == {"referee": None, "team": None}
        assert [(e["path"], e["extensions"]) for e in result["errors"]] == [
            (["referee"], {"code": "UNAUTHENTICATED", "reason": reason}),
            (["team"], {"code": "UNAUTHENTICATED", "reason": reason}),
        ], header
        assert all(len(e["message"]) > 20 for e in result["errors"])
        async with client(world.transport, Authorization=header) as http:  # non-null root field: data null
            response = await http.post("/graphql", json={"query": "{ referees { id } }"})
        assert response.status_code == 200 and response.json()["data"] is None


async def test_a_token_expired_within_the_leeway_is_still_accepted(world: World) -> None:
    keys = LocalKeys.load_or_create(world.settings.jwt_local_keys or "")
    ten_seconds_ago = keys.mint(
        token_claims(role=Role.ADMIN, referee_id=None, issuer="whistle-local", audience="whistle",
                     roles_claim="realm_access.roles", referee_claim="referee_id", ttl=timedelta(seconds=60),
                     now=datetime.now(timezone.utc) - timedelta(seconds=70))
    )
    assert len((await world.gql(ten_seconds_ago).data("{ teams { id } }"))["teams"]) == 4


async def test_public_endpoints_need_no_token(world: World) -> None:
    async with client(world.transport) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        jwks = (await http.get("/.well-known/jwks.json")).json()
    kid = json.loads(base64.urlsafe_b64decode(world.token(Role.ADMIN).split(".")[0] + "==")).get("kid")
    assert [k["kid"] for k in jwks["keys"]] == [kid]
    assert all("d" not in k for k in jwks["keys"]), "the JWKS must not publish the private key"


# --- the access_token cookie and CSRF ---------------------------------------------------------------

MARK_READ = "mutation($r: ID!) { markNotificationsRead(refereeId: $r) }"


async def test_cookie_authentication_and_csrf(world: World) -> None:
    token = world.token(Role.REFEREE, world.ids.own)
    variables = {"r": world.ids.own}

    async def post(query: str, headers: dict[str, str]) -> dict[str, Any]:
        async with client(world.transport, **headers) as http:
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables}, headers={"Cookie": f"access_token={token}"}
            )
        assert response.status_code == 200
        return response.json()

    # Reads by cookie need no Origin.
    assert (await post("query($r: ID!) { referee(id: $r) { id } }", {}))["data"] == {"referee": {"id": world.ids.own}}
    # Mutations by cookie need an allowed (or the server's own) Origin.
    for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": "null"}):
        result = await post(MARK_READ, headers)
        assert [e["extensions"] for e in result["errors"]] == [{"code": "FORBIDDEN", "reason": "CSRF_ORIGIN"}], headers
    for origin in (ALLOWED_ORIGIN, "https://other.example", "http://localhost"):
        assert (await post(MARK_READ, {"Origin": origin}))["data"] == {"markNotificationsRead": 0}, origin
    # A bearer token is no ambient credential: no Origin rule for it.
    async with client(world.transport, token, Origin="https://evil.example") as http:
        response = await http.post("/graphql", json={"query": MARK_READ, "variables": variables})
    assert response.json()["data"] == {"markNotificationsRead": 0}
    # A bad cookie is a bad token.
    async with client(world.transport) as http:
        response = await http.post("/graphql", json={"query": "{ teams { id } }"}, headers={"Cookie": "access_token=xyz"})
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "TOKEN_INVALID"}


# --- dev mode and start-up rules ---------------------------------------------------------------------


async def test_dev_mode_is_admin_without_a_token_and_uses_a_token_when_sent(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = jwt_settings(tmp_path, auth="dev")
    with caplog.at_level(logging.WARNING, logger="whistle"):
        async with running(settings) as transport:
            anonymous = GraphQL(client(transport))
            assert (await anonymous.data("{ viewer { role subject } }"))["viewer"] == {"role": "ADMIN", "subject": "dev"}
            data = await anonymous.data("mutation { createReferee(input: {name: \"Dev\", club: \"C\"}) { id } }")
            own = data["createReferee"]["id"]
            referee = GraphQL(client(transport, mint_local_token(settings, Role.REFEREE, UUID(own))))
            result = await referee("mutation { lockAvailabilities { locked } }")
            assert result["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "ADMIN_ONLY"}
            result = await GraphQL(client(transport, "garbage"))("{ teams { id } }")
            assert result["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "TOKEN_INVALID"}
            # The implicit ADMIN does not run mutations for foreign pages (browsers send Origin).
            foreign = GraphQL(client(transport, Origin="https://evil.example"))
            result = await foreign("mutation { lockAvailabilities { locked } }")
            assert result["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "CSRF_ORIGIN"}
            assert (await foreign("{ teams { id } }"))["data"] == {"teams": []}
    assert "EVERY REQUEST WITHOUT A TOKEN ACTS AS ADMIN" in caplog.text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auth": "dev", "env": "production"}, "WHISTLE_AUTH=dev is refused with WHISTLE_ENV=production"),
        ({"env": "production", "auth": None, "jwt_local_keys": None}, "WHISTLE_AUTH=jwt needs WHISTLE_JWT_JWKS_URL"),
        ({"jwt_local_keys": None}, "WHISTLE_AUTH=jwt needs WHISTLE_JWT_JWKS_URL"),
        ({"jwt_jwks_url": "https://idp.example/certs"}, "needs WHISTLE_JWT_ISSUER and WHISTLE_JWT_AUDIENCE"),
        ({"jwt_algorithms": "RS256,HS256"}, "only asymmetric algorithms"),
        ({"jwt_algorithms": "none"}, "only asymmetric algorithms"),
    ],
)
def test_the_server_refuses_to_start_with_unsafe_or_incomplete_auth(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(AuthConfigError, match=message):
        create_app(jwt_settings(tmp_path, **overrides))


def test_production_serves_graphql_transport_ws_only(tmp_path: Path) -> None:
    from app.http import GraphQLEndpoint

    def endpoint(**overrides: Any) -> GraphQLEndpoint:
        application = create_app(jwt_settings(tmp_path, **overrides))
        return next(r.endpoint for r in application.routes if isinstance(getattr(r, "endpoint", None), GraphQLEndpoint))

    assert tuple(endpoint(env="production").websocket_subprotocols) == (TRANSPORT_WS,)
    assert set(endpoint().websocket_subprotocols) == {TRANSPORT_WS, LEGACY_WS}
    assert endpoint().connection_init_wait_timeout == timedelta(seconds=10)


# --- WebSockets: a real server process ----------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, Settings]]:
    settings = jwt_settings(tmp_path)
    LocalKeys.load_or_create(settings.jwt_local_keys or "")
    env = whistle_env(
        database_url=settings.database_url, seed_demo="false", auth="jwt", jwt_local_keys=settings.jwt_local_keys
    )
    process = ServerProcess("auth", free_port(), env, tmp_path)
    process.start()
    try:
        yield process, settings
    finally:
        process.stop()


@asynccontextmanager
async def ws_session(url: str, payload: dict[str, Any], protocol: str = TRANSPORT_WS) -> AsyncIterator[WsClient]:
    """Like WsClient.open, with this connection_init payload."""
    async with connect(url, subprotocols=[protocol], open_timeout=5, close_timeout=2, proxy=None) as socket:  # type: ignore[list-item]
        session = WsClient(protocol, socket)
        session._reader = asyncio.create_task(session._read())
        try:
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            await asyncio.wait_for(asyncio.shield(session._acked), 5)
            yield session
        finally:
            session._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await session._reader


async def refused_init(url: str, payload: dict[str, Any], protocol: str = TRANSPORT_WS) -> tuple[int | None, str]:
    with pytest.raises((Closed, RuntimeError)) as raised:
        async with ws_session(url, payload, protocol):
            pass
    if isinstance(raised.value, Closed):
        return raised.value.code, raised.value.reason
    return None, str(raised.value)


async def first_error(session: WsClient, op_id: str) -> dict[str, Any]:
    message = await session.next(op_id)
    assert message is not None and message.get("errors"), message
    return message["errors"][0]


async def test_websocket_authentication_and_subscription_matrix(server: tuple[ServerProcess, Settings]) -> None:
    process, settings = server
    admin_token = mint_local_token(settings, Role.ADMIN)
    async with httpx.AsyncClient(base_url=process.url, headers={"Authorization": f"Bearer {admin_token}"}, trust_env=False) as http:
        league = League(GraphQL(http))
        own, other = await league.referee("Own"), await league.referee("Other")
        fixture = await league.fixture("2037-05-02T18:00:00Z")
        await league.declare(fixture, own)
        await league.declare(fixture, other)
        referee_token = mint_local_token(settings, Role.REFEREE, UUID(own))

        # connection_init: a bad token, or none, closes the socket with 4403 Forbidden.
        for payload in ({"token": "garbage"}, {"authorization": "Bearer garbage"}, {}, {"token": referee_token + "x"}):
            assert await refused_init(process.ws_url, payload) == (4403, "Forbidden"), payload
        code, reason = await refused_init(process.ws_url, {"token": "garbage"}, LEGACY_WS)
        assert "connection refused" in reason and "TOKEN_INVALID" in reason

        async with ws_session(process.ws_url, {"token": referee_token}) as referee, ws_session(
            process.ws_url, {"authorization": f"Bearer {admin_token}"}
        ) as admin:
            # REFEREE: its own notifications only.
            for name, variables in (
                ("notifications", {"r": other}),
                ("assignmentsCommitted", None),
                ("fixtureChanged", None),
            ):
                op_id = await referee.subscribe(SUBSCRIPTIONS[name][1], variables)
                error = await first_error(referee, op_id)
                reason = "NOT_OWN_REFEREE" if name == "notifications" else "ADMIN_ONLY"
                assert error["extensions"] == {"code": "FORBIDDEN", "reason": reason}, (name, error)
            own_feed = await referee.subscribe(SUBSCRIPTIONS["notifications"][1], {"r": own})
            # ADMIN: everything.
            admin_feeds = {
                "assignmentsCommitted": await admin.subscribe(SUBSCRIPTIONS["assignmentsCommitted"][1]),
                "fixtureChanged": await admin.subscribe(SUBSCRIPTIONS["fixtureChanged"][1]),
                "notifications": await admin.subscribe(SUBSCRIPTIONS["notifications"][1], {"r": other}),
            }
            await asyncio.sleep(0.4)  # let the subscriptions register
            await league.stage(fixture, own, "FIRST")
            await league.stage(fixture, other, "SECOND")
            await league.commit()

            mine = await referee.next(own_feed)
            assert mine is not None and "errors" not in mine, mine
            assert mine["data"]["notifications"]["kind"] == "ASSIGNED"
            for name, op_id in admin_feeds.items():
                message = await admin.next(op_id)
                assert message is not None and "errors" not in message, (name, message)


async def test_a_socket_without_connection_init_is_closed_after_10_seconds(server: tuple[ServerProcess, Settings]) -> None:
    process, _ = server
    async with connect(process.ws_url, subprotocols=[TRANSPORT_WS], proxy=None) as socket:  # type: ignore[list-item]
        started = asyncio.get_running_loop().time()
        with pytest.raises(Exception):  # noqa: B017 - ConnectionClosed
            await asyncio.wait_for(socket.recv(), 20)
        waited = asyncio.get_running_loop().time() - started
    assert socket.close_code == 4408
    assert 9.5 <= waited <= 15
