"""The equivalence corpus: every query and mutation of API.md, nested across the bounded
contexts, with errors, run through the monolith and through the gateway.

Queries read the same demo league in the same database and must answer byte-for-byte the
same JSON. Mutations change the league, so the scenario runs twice, once per side, each
time on its own new referees, teams, venues and fixtures (same names, same dates, other
ids): the answers must be the same once each side's ids are replaced by the names the
scenario gave them. Errors compare by message, path, `extensions.code`, `extensions.reason`
and the rest of the extensions (the gateway adds `serviceName`, which is left out, and
rewrites `locations`, which refer to the query a subgraph received)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from tests.dates import saturday_ahead

UNKNOWN = "00000000-0000-4000-8000-000000000000"

FIXTURE_FIELDS = """id date status
  venue { id name street zip city telephone email }
  teamHome { id name club } teamAway { id name club }
  firstReferee { id name club } secondReferee { id name club }
  availableReferees { id name club }
  assignments { role status referee { id name } fixture { id date } }"""

FIXTURES_PAGE = f"""query($first: Int, $after: String) {{
  fixtures(first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ {FIXTURE_FIELDS} }} }}
  }}
}}"""

REFEREE_DEEP = """query($id: ID!) { referee(id: $id) {
  id name club
  availableFixtures { id date status venue { name } teamHome { name } }
  assignments { role status fixture { id date venue { city } firstReferee { name } } referee { name } }
  notifications(first: 20) { id kind message read createdAt fixture { id date } }
} }"""


class Side:
    """One way in (the monolith or the gateway): posts operations, keeps the ids the
    scenario created under their names."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.http = httpx.AsyncClient(base_url=url, timeout=30, trust_env=False)
        self.ids: dict[str, str] = {}

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables or {}})
        assert response.status_code < 500, f"{self.name}: HTTP {response.status_code} {response.text[:500]}"
        return response.json()

    def normalized(self, result: dict[str, Any]) -> dict[str, Any]:
        """The result with this side's scenario ids replaced by their names, and errors
        reduced to what the contract promises."""
        names = {id_: f"<{name}>" for name, id_ in self.ids.items()}

        def walk(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, str):
                for id_, name in names.items():
                    value = value.replace(id_, name)
            return value

        out: dict[str, Any] = {"data": walk(result.get("data"))}
        if "errors" in result:
            out["errors"] = [
                {
                    "message": walk(e.get("message")),
                    "path": e.get("path"),
                    "extensions": walk({k: v for k, v in (e.get("extensions") or {}).items() if k != "serviceName"}),
                }
                for e in result["errors"]
            ]
        return out

    async def close(self) -> None:
        await self.http.aclose()


@dataclass
class League:
    """Ids of the demo league, read through the monolith."""

    referee: str
    busy_referee: str  # has assignments and availabilities
    team: str
    venue: str
    fixture: str  # has committed referees
    cancelled_venue: str
    cursor: str


async def known_league(side: Side) -> League:
    data = (await side(
        """{ referees { id } teams { id } venues { id }
             fixtures(first: 60) { edges { cursor node { id venue { id }
               firstReferee { id } status } } } }"""
    ))["data"]
    edges = data["fixtures"]["edges"]
    with_referee = next(e["node"] for e in edges if e["node"]["firstReferee"])
    return League(
        referee=data["referees"][0]["id"],
        busy_referee=with_referee["firstReferee"]["id"],
        team=data["teams"][0]["id"],
        venue=data["venues"][0]["id"],
        fixture=with_referee["id"],
        cancelled_venue=with_referee["venue"]["id"],
        cursor=edges[4]["cursor"],
    )


@dataclass
class Operation:
    name: str
    query: str
    variables: Callable[[Any], dict[str, Any]] = lambda _: {}
    capture: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)


def queries() -> list[Operation]:
    """Read-only operations; `variables(league)`."""
    return [
        Operation("viewer", "{ viewer { role subject refereeId referee { id name } } }"),
        Operation("referees", "{ referees { id name club } }"),
        Operation("referee deep", REFEREE_DEEP, lambda k: {"id": k.busy_referee}),
        Operation("referee upper-case id", "query($id: ID!) { referee(id: $id) { id name } }", lambda k: {"id": k.referee.upper()}),
        Operation("referee unknown", "query($id: ID!) { referee(id: $id) { id } }", lambda k: {"id": UNKNOWN}),
        Operation("referee malformed id", "{ referee(id: \"nope\") { id } }"),
        Operation("referee available fixtures window", """query($id: ID!) { referee(id: $id) {
            availableFixtures(from: "2026-10-01T00:00:00+02:00", to: "2027-01-01T00:00:00Z") { id date } } }""",
                  lambda k: {"id": k.busy_referee}),
        Operation("referee committed assignments", """query($id: ID!) { referee(id: $id) {
            assignments(status: COMMITTED) { role fixture { date teamAway { club } } } } }""", lambda k: {"id": k.busy_referee}),
        Operation("teams", "{ teams { id name club } }"),
        Operation("team", "query($id: ID!) { team(id: $id) { id name club } }", lambda k: {"id": k.team}),
        Operation("venues", "{ venues { id name street zip city telephone email } }"),
        Operation("venue", "query($id: ID!) { venue(id: $id) { id name city email } }", lambda k: {"id": k.venue}),
        Operation("fixtures page, every nested field", FIXTURES_PAGE, lambda k: {"first": 20}),
        Operation("fixtures next page", FIXTURES_PAGE, lambda k: {"first": 5, "after": k.cursor}),
        Operation("fixtures by team", """query($t: ID) { fixtures(teamId: $t, first: 100) { totalCount
            edges { node { id date teamHome { name } teamAway { name } } } } }""", lambda k: {"t": k.team}),
        Operation("fixtures by referee", """query($r: ID) { fixtures(refereeId: $r) { totalCount
            edges { node { id assignments { role status referee { id } } } } } }""", lambda k: {"r": k.busy_referee}),
        Operation("fixtures by venue and window", """query($v: ID) { fixtures(venueId: $v,
            from: "2026-09-01T00:00:00Z", to: "2026-12-31T00:00:00+01:00", status: SCHEDULED) {
            totalCount edges { node { id date venue { name } } } } }""", lambda k: {"v": k.venue}),
        Operation("fixtures cancelled", "{ fixtures(status: CANCELLED) { totalCount edges { node { id status } } } }"),
        Operation("fixtures bad page size", "{ fixtures(first: 0) { totalCount } }"),
        Operation("fixtures bad cursor", "{ fixtures(after: \"garbage\") { totalCount } }"),
        Operation("fixtures bad datetime", "query($f: DateTime) { fixtures(from: $f) { totalCount } }",
                  lambda k: {"f": "2026-10-01"}),
        Operation("fixture deep", f"query($id: ID!) {{ fixture(id: $id) {{ {FIXTURE_FIELDS} }} }}", lambda k: {"id": k.fixture}),
        Operation("fixture's referees' other fixtures", """query($id: ID!) { fixture(id: $id) {
            availableReferees { name availableFixtures { id venue { name } } assignments { role fixture { id } } } } }""",
                  lambda k: {"id": k.fixture}),
        Operation("fixture unknown", "query($id: ID!) { fixture(id: $id) { id } }", lambda k: {"id": UNKNOWN}),
        Operation("assignments", """{ assignments { role status fixture { id date teamHome { name } }
            referee { id name club } } }"""),
        Operation("assignments committed", "{ assignments(status: COMMITTED) { role fixture { id } referee { id } } }"),
        Operation("availability lock", "{ availabilityLock { locked changedAt } }"),
        Operation("validate assignments", """{ validateAssignments { valid
            problems { code message fixture { id date venue { name } } referee { id name } } } }"""),
        Operation("every context in one request", """query($id: ID!) {
            referee(id: $id) { name assignments { fixture { venue { city } } } }
            teams { name } availabilityLock { locked } fixtures(first: 3) { totalCount } }""",
                  lambda k: {"id": k.busy_referee}),
    ]


def _id(*path: str) -> Callable[[dict[str, Any]], str]:
    def get(result: dict[str, Any]) -> str:
        value: Any = result["data"]
        for key in path:
            value = value[key]
        return value

    return get


def _v(**names: str) -> Callable[[dict[str, str]], dict[str, Any]]:
    """Variables naming scenario ids: _v(f="F1") -> {"f": ids["F1"]}."""
    return lambda ids: {var: ids[name] for var, name in names.items()}


CREATE_REFEREE = "mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id name club } }"
CREATE_TEAM = "mutation($i: CreateTeamInput!) { createTeam(input: $i) { id name club } }"
CREATE_VENUE = "mutation($i: CreateVenueInput!) { createVenue(input: $i) { id name street zip city telephone email } }"
CREATE_FIXTURE = f"""mutation($d: DateTime!, $v: ID!, $h: ID!, $a: ID!) {{
  createFixture(input: {{date: $d, venueId: $v, teamHomeId: $h, teamAwayId: $a}}) {{ {FIXTURE_FIELDS} }} }}"""
DECLARE = """mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) {
  fixture { id date venue { name } availableReferees { name } } referee { name availableFixtures { id } } } }"""
STAGE = """mutation($f: ID!, $r: ID!, $role: RefereeRole!) {
  stageAssignment(input: {fixtureId: $f, refereeId: $r, role: $role}) { role status fixture { id date } referee { name } } }"""
VALIDATE = "{ validateAssignments { valid problems { code message fixture { id date } referee { name } } } }"
# The scenario's fixtures (staged on, so ahead of any run): F1 on a Saturday evening (D1),
# F2 on the Sunday, then moved to the next Saturday (D2); "team busy" is D1's noon.
SATURDAY = saturday_ahead()
SUNDAY, NEXT_SATURDAY = SATURDAY + timedelta(days=1), SATURDAY + timedelta(weeks=1)
D1, D2 = f"{SATURDAY}T18:00:00+01:00", f"{NEXT_SATURDAY}T17:30:00.250Z"


def scenario() -> list[Operation]:
    """Mutations and the reads that check them; `variables(ids)` with this side's ids."""

    def fixture(date: str, venue: str) -> Callable[[dict[str, str]], dict[str, Any]]:
        return lambda ids: {"d": date, "v": ids[venue], "h": ids["H"], "a": ids["W"]}

    return [
        Operation("createReferee A", CREATE_REFEREE, lambda _: {"i": {"name": "  Anna Twin ", "club": "VC Twin"}},
                  {"A": _id("createReferee", "id")}),
        Operation("createReferee B", CREATE_REFEREE, lambda _: {"i": {"name": "Beat Twin", "club": "VC Twin"}},
                  {"B": _id("createReferee", "id")}),
        Operation("createReferee C", CREATE_REFEREE, lambda _: {"i": {"name": "Carla Twin", "club": "VC Twin"}},
                  {"C": _id("createReferee", "id")}),
        Operation("createReferee blank name", CREATE_REFEREE, lambda _: {"i": {"name": "  ", "club": "VC Twin"}}),
        Operation("changeRefereeClub", "mutation($r: ID!) { changeRefereeClub(refereeId: $r, club: \"VC Other\") { id name club } }",
                  _v(r="C")),
        Operation("changeRefereeClub unknown", "mutation { changeRefereeClub(refereeId: \"%s\", club: \"X\") { id } }" % UNKNOWN),
        Operation("createTeam H", CREATE_TEAM, lambda _: {"i": {"name": "Twin Home", "club": "VC Twin"}}, {"H": _id("createTeam", "id")}),
        Operation("createTeam W", CREATE_TEAM, lambda _: {"i": {"name": "Twin Away", "club": "VC Away"}}, {"W": _id("createTeam", "id")}),
        Operation("createVenue V1", CREATE_VENUE, lambda _: {"i": {"name": "Twin Hall", "street": "Seestrasse 1", "zip": "8000",
                                                                  "city": "Zürich", "telephone": "044 000 00 00", "email": "hall@twin.example"}},
                  {"V1": _id("createVenue", "id")}),
        Operation("createVenue V2", CREATE_VENUE, lambda _: {"i": {"name": "Twin Arena", "street": "Bergweg 2", "zip": "3000",
                                                                  "city": "Bern", "telephone": "", "email": None}},
                  {"V2": _id("createVenue", "id")}),
        Operation("createVenue bad email", CREATE_VENUE, lambda _: {"i": {"name": "X", "street": "Y", "zip": "1", "city": "Z",
                                                                         "email": "not-an-email"}}),
        Operation("createFixture F1", CREATE_FIXTURE, fixture(D1, "V1"), {"F1": _id("createFixture", "id")}),
        Operation("createFixture F2", CREATE_FIXTURE, fixture(f"{SUNDAY}T15:00:00+01:00", "V2"), {"F2": _id("createFixture", "id")}),
        Operation("createFixture team busy", CREATE_FIXTURE, fixture(f"{SATURDAY}T12:00:00+01:00", "V2")),
        Operation("createFixture same team", CREATE_FIXTURE, lambda ids: {"d": D1, "v": ids["V2"], "h": ids["H"], "a": ids["H"]}),
        Operation("changeFixtureDate", "mutation($f: ID!) { changeFixtureDate(fixtureId: $f, date: \"%s\") { id date status } }" % D2,
                  _v(f="F2")),
        Operation("changeFixtureVenue", "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id venue { name city } } }",
                  _v(f="F2", v="V1")),
        Operation("declare A on F1", DECLARE, _v(f="F1", r="A")),
        Operation("declare B on F1", DECLARE, _v(f="F1", r="B")),
        Operation("declare A on F1 again", DECLARE, _v(f="F1", r="A")),
        Operation("declare C on F2", DECLARE, _v(f="F2", r="C")),
        Operation("withdraw C from F2", """mutation($f: ID!, $r: ID!) { withdrawAvailability(fixtureId: $f, refereeId: $r) {
            fixture { id availableReferees { id } } referee { name } } }""", _v(f="F2", r="C")),
        Operation("withdraw C again", "mutation($f: ID!, $r: ID!) { withdrawAvailability(fixtureId: $f, refereeId: $r) { referee { id } } }",
                  _v(f="F2", r="C")),
        Operation("lockAvailabilities", "mutation { lockAvailabilities { locked } }"),
        Operation("declare while locked", DECLARE, _v(f="F2", r="C")),
        Operation("unlockAvailabilities", "mutation { unlockAvailabilities { locked } }"),
        Operation("stage A first on F1", STAGE, lambda ids: {"f": ids["F1"], "r": ids["A"], "role": "FIRST"}),
        Operation("stage C second on F1", STAGE, lambda ids: {"f": ids["F1"], "r": ids["C"], "role": "SECOND"}),
        Operation("stage on unknown fixture", STAGE, lambda ids: {"f": UNKNOWN, "r": ids["A"], "role": "FIRST"}),
        Operation("validate with a problem", VALIDATE),
        Operation("commit refused", "mutation { commitAssignments { id } }"),
        Operation("removeStagedAssignment", "mutation($f: ID!, $r: ID!) { removeStagedAssignment(fixtureId: $f, refereeId: $r) }",
                  _v(f="F1", r="C")),
        Operation("stage B second on F1", STAGE, lambda ids: {"f": ids["F1"], "r": ids["B"], "role": "SECOND"}),
        Operation("validate clean", VALIDATE),
        Operation("commitAssignments", """mutation { commitAssignments {
            assignments { role status fixture { id date venue { name } firstReferee { name } secondReferee { name } }
                          referee { name club assignments { role status } } }
            replaced { role referee { name } } } }"""),
        Operation("fixture after commit", f"query($id: ID!) {{ fixture(id: $id) {{ {FIXTURE_FIELDS} }} }}", _v(id="F1")),
        Operation("stage on committed", STAGE, lambda ids: {"f": ids["F1"], "r": ids["A"], "role": "SECOND"}),
        Operation("removeCommittedAssignment", "mutation($f: ID!, $r: ID!) { removeCommittedAssignment(fixtureId: $f, refereeId: $r) }",
                  _v(f="F1", r="B")),
        Operation("removeCommittedAssignment again", "mutation($f: ID!, $r: ID!) { removeCommittedAssignment(fixtureId: $f, refereeId: $r) }",
                  _v(f="F1", r="B")),
        Operation("cancelFixture", "mutation($f: ID!) { cancelFixture(fixtureId: $f) { id status venue { name } assignments { role } } }",
                  _v(f="F2")),
        Operation("cancelFixture again", "mutation($f: ID!) { cancelFixture(fixtureId: $f) { id } }", _v(f="F2")),
        Operation("referee A with notifications", """query($r: ID!) { referee(id: $r) { name
            assignments { role status fixture { id } }
            notifications { kind message read fixture { id date venue { name } } } } }""", _v(r="A")),
        Operation("markNotificationsRead", "mutation($r: ID!) { markNotificationsRead(refereeId: $r) }", _v(r="A")),
        Operation("markNotificationsRead bad id", "mutation { markNotificationsRead(refereeId: \"x\", ids: [\"y\"]) }"),
    ]


async def notifications_arrived(side: Side, referee: str, count: int, timeout: float = 10) -> None:
    """Notifications are written after the commit (asynchronously): wait for them."""
    query = "query($r: ID!) { referee(id: $r) { notifications { id } } }"
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await side(query, {"r": side.ids[referee]})
        if len(result["data"]["referee"]["notifications"]) >= count:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{side.name}: notifications of {referee} did not arrive"
        await asyncio.sleep(0.1)


async def run_scenario(side: Side, before: Callable[[str, Side], Awaitable[None]] | None = None) -> list[dict[str, Any]]:
    results = []
    for op in scenario():
        if before is not None:
            await before(op.name, side)
        result = await side(op.query, op.variables(side.ids))
        for name, get in op.capture.items():
            assert "errors" not in result, f"{side.name} {op.name}: {result}"
            side.ids[name] = get(result)
        results.append(side.normalized(result))
    return results
