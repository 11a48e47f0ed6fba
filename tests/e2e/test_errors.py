"""Every error of the contract's table (API.md, "Errors"), over HTTP, on each backend.

Each refusal is checked for its exact `extensions.code` and `extensions.reason`, for
`data` being null for the refused root field (with `path` for field errors), for no
5xx / stack trace / SQL text in the body (`GraphQL.__call__` checks that for every
error response), and — for mutations — that the state afterwards is unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.e2e.helpers import UNKNOWN_ID, GraphQL, League, assert_no_leak, assert_refused, only_error

DAY = "2037-05-02"  # a Saturday; fixtures below start on it unless they say otherwise


@pytest.fixture
def league(gql: GraphQL) -> League:
    return League(gql)


# --- BAD_REQUEST: malformed HTTP requests ----------------------------------------------------

MALFORMED_BODIES = {
    "body not JSON": b"{ referees { id } }",
    "truncated JSON": b'{"query": "{ referees { id } }"',
    "no query": b'{"variables": {}}',
    "query not a string": b'{"query": 42}',
    "variables a list": b'{"query": "{ referees { id } }", "variables": [1, 2]}',
    "variables a string": b'{"query": "{ referees { id } }", "variables": "{}"}',
    "a batch array": b'[{"query": "{ referees { id } }"}]',
    "a JSON number": b"3",
    "a JSON string": b'"{ referees { id } }"',
    "JSON null": b"null",
}


async def test_malformed_http_requests_get_a_json_400_bad_request(client: httpx.AsyncClient) -> None:
    for case, body in MALFORMED_BODIES.items():
        response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, (case, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/json"), (case, response.headers)
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_REQUEST", (case, error)
        assert error["message"], case
        assert_no_leak(response)


async def test_a_get_without_a_query_is_a_json_400_bad_request(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert_no_leak(response)


# --- GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED -------------------------------------


async def test_query_text_that_is_not_graphql_is_graphql_parse_failed(gql: GraphQL) -> None:
    for query in ["{ referees { id }", "query {", "mutation { createReferee(input: {name: }) { id } }", "}}}"]:
        result = await gql(query)
        assert_refused(result, "GRAPHQL_PARSE_FAILED", None)
        assert "locations" in only_error(result), query


async def test_queries_invalid_against_the_schema_are_graphql_validation_failed(gql: GraphQL) -> None:
    for query in [
        "{ referees { id shoeSize } }",  # unknown field
        "{ nothing }",  # unknown root field
        "{ referee { id } }",  # missing required argument
        "{ referees(limit: 3) { id } }",  # unknown argument
        "{ referees }",  # object without a selection
        "{ fixtures(status: POSTPONED) { totalCount } }",  # unknown enum value
        "query($x: Int) { referees { id } }",  # unused variable
    ]:
        result = await gql(query)
        error = only_error(result)
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", (query, error)
        assert result.get("data") is None, (query, result)


# --- BAD_USER_INPUT / INVALID_ID -------------------------------------------------------------


async def test_a_malformed_id_in_every_id_argument_is_invalid_id(gql: GraphQL, league: League) -> None:
    referee, venue = await league.referee(), await league.venue()
    home, away = await league.team(), await league.team()
    fixture = await league.fixture(f"{DAY}T18:00:00Z", venue, home, away)
    bad = "not-a-uuid"
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("referee", "query($id: ID!) { referee(id: $id) { id } }", {"id": bad}),
        ("team", "query($id: ID!) { team(id: $id) { id } }", {"id": bad}),
        ("venue", "query($id: ID!) { venue(id: $id) { id } }", {"id": bad}),
        ("fixture", "query($id: ID!) { fixture(id: $id) { id } }", {"id": bad}),
        ("fixtures", "query($id: ID) { fixtures(venueId: $id) { totalCount } }", {"id": bad}),
        ("fixtures", "query($id: ID) { fixtures(teamId: $id) { totalCount } }", {"id": bad}),
        ("fixtures", "query($id: ID) { fixtures(refereeId: $id) { totalCount } }", {"id": bad}),
        (
            "changeRefereeClub",
            "mutation($id: ID!) { changeRefereeClub(refereeId: $id, club: \"VC Ost\") { id } }",
            {"id": bad},
        ),
        ("changeFixtureDate", "mutation($id: ID!) { changeFixtureDate(fixtureId: $id, date: \"2037-05-09T18:00:00Z\") { id } }", {"id": bad}),
        ("changeFixtureVenue", "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }", {"f": bad, "v": venue}),
        ("changeFixtureVenue", "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }", {"f": fixture, "v": bad}),
        ("cancelFixture", "mutation($f: ID!) { cancelFixture(fixtureId: $f) { id } }", {"f": bad}),
        ("markNotificationsRead", "mutation($r: ID!) { markNotificationsRead(refereeId: $r) }", {"r": bad}),
        (
            "markNotificationsRead",
            "mutation($r: ID!, $ids: [ID!]) { markNotificationsRead(refereeId: $r, ids: $ids) }",
            {"r": referee, "ids": [UNKNOWN_ID, bad]},
        ),
    ]
    for field in ["declareAvailability", "withdrawAvailability", "removeStagedAssignment", "removeCommittedAssignment"]:
        selection = " { fixture { id } }" if field.endswith("Availability") else ""
        query = f"mutation($f: ID!, $r: ID!) {{ {field}(fixtureId: $f, refereeId: $r){selection} }}"
        cases += [(field, query, {"f": bad, "r": referee}), (field, query, {"f": fixture, "r": bad})]
    create = "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }"
    good = {"date": f"{DAY}T20:00:00Z", "venueId": await league.venue(), "teamHomeId": await league.team(),
            "teamAwayId": await league.team()}
    for key in ["venueId", "teamHomeId", "teamAwayId"]:
        cases.append(("createFixture", create, {"i": {**good, key: bad}}))
    stage = "mutation($i: StageAssignmentInput!) { stageAssignment(input: $i) { role } }"
    for key in ["fixtureId", "refereeId"]:  # the other id is real: only the malformed one can be the cause
        other = {"fixtureId": fixture, "refereeId": referee, "role": "FIRST"}
        cases.append(("stageAssignment", stage, {"i": {**other, key: bad}}))

    for field, query, variables in cases:
        error = await league.refused(query, variables, "BAD_USER_INPUT", "INVALID_ID", field=field)
        assert "not-a-uuid" in error["message"], (field, error)


async def test_an_id_is_invalid_id_in_any_malformed_spelling(gql: GraphQL) -> None:
    uuid = "3bda5555-d604-432e-829a-78c782cccc18"
    for bad in [
        "",
        " ",
        "42",
        uuid.replace("-", ""),  # no dashes
        "{" + uuid + "}",
        "urn:uuid:" + uuid,
        uuid + " ",
        uuid[:-1] + "g",
        "x" * 10_000,
    ]:
        for query in ['query($id: ID!) { referee(id: $id) { id } }', 'query($id: ID!) { fixture(id: $id) { id } }']:
            result = await gql(query, {"id": bad})
            field = "referee" if "referee" in query else "fixture"
            assert_refused(result, "BAD_USER_INPUT", "INVALID_ID", field=field)
            assert len(only_error(result)["message"]) < 300  # a long input is not echoed whole
    # As a literal too, and as an Int (IDs accept ints in GraphQL).
    assert_refused(await gql('{ referee(id: "nope") { id } }'), "BAD_USER_INPUT", "INVALID_ID", field="referee")
    assert_refused(await gql("{ team(id: 12) { id } }"), "BAD_USER_INPUT", "INVALID_ID", field="team")


# --- BAD_USER_INPUT / INVALID_DATETIME -------------------------------------------------------

BAD_DATETIMES = [
    "2037-03-01T18:30:00",  # no offset
    "2037-03-01T18:30+01:00",  # no seconds
    "2037-03-01",  # a date alone
    "2037-13-01T18:30:00Z",  # month 13
    "2037-02-30T18:30:00Z",  # 30 February
    "2037-03-01T24:00:00Z",  # hour 24
    "2037-03-01T18:30:00+25:00",  # offset out of range
    "18:30:00Z",  # a time alone
    "tomorrow",
    "",
]


async def test_bad_datetimes_are_invalid_datetime_as_variables_and_literals(gql: GraphQL, league: League) -> None:
    venue, home, away = await league.venue(), await league.team(), await league.team()
    for bad in BAD_DATETIMES:
        # as a variable: a request error, nothing executes
        result = await gql("query($d: DateTime!) { fixtures(from: $d) { totalCount } }", {"d": bad})
        assert_refused(result, "BAD_USER_INPUT", "INVALID_DATETIME")
        # as a literal argument
        result = await gql(f'{{ fixtures(to: "{bad}") {{ totalCount }} }}')
        assert_refused(result, "BAD_USER_INPUT", "INVALID_DATETIME")
        # inside an input object, as a literal and as a variable; nothing is created
        await league.refused(
            f'mutation {{ createFixture(input: {{date: "{bad}", venueId: "{venue}", teamHomeId: "{home}",'
            f' teamAwayId: "{away}"}}) {{ id }} }}',
            None,
            "BAD_USER_INPUT",
            "INVALID_DATETIME",
        )
        await league.refused(
            "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }",
            {"i": {"date": bad, "venueId": venue, "teamHomeId": home, "teamAwayId": away}},
            "BAD_USER_INPUT",
            "INVALID_DATETIME",
        )
    # A number is no date-time either.
    result = await gql("query($d: DateTime!) { fixtures(from: $d) { totalCount } }", {"d": 1767225600})
    assert_refused(result, "BAD_USER_INPUT", "INVALID_DATETIME")


# --- BAD_USER_INPUT / INVALID_TEXT, INVALID_EMAIL --------------------------------------------

CREATE_REFEREE = "mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id } }"
CREATE_TEAM = "mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }"
CREATE_VENUE = "mutation($i: CreateVenueInput!) { createVenue(input: $i) { id } }"
VENUE = {"name": "Halle", "street": "Hauptstrasse 1", "zip": "8000", "city": "Zürich"}


async def test_blank_or_too_long_text_is_invalid_text(gql: GraphQL, league: League) -> None:
    referee = await league.referee("Anna Keller", "VC Nord")
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for bad in ["", "   ", "\t\n", "x" * 201, "x" * 10_000]:
        cases += [
            ("createReferee", CREATE_REFEREE, {"i": {"name": bad, "club": "VC Nord"}}),
            ("createReferee", CREATE_REFEREE, {"i": {"name": "Anna", "club": bad}}),
            ("createTeam", CREATE_TEAM, {"i": {"name": bad, "club": "VC Nord"}}),
            ("createTeam", CREATE_TEAM, {"i": {"name": "Team", "club": bad}}),
            ("createVenue", CREATE_VENUE, {"i": {**VENUE, "name": bad}}),
            ("createVenue", CREATE_VENUE, {"i": {**VENUE, "street": bad}}),
            ("createVenue", CREATE_VENUE, {"i": {**VENUE, "city": bad}}),
            (
                "changeRefereeClub",
                "mutation($r: ID!, $c: String!) { changeRefereeClub(refereeId: $r, club: $c) { club } }",
                {"r": referee, "c": bad},
            ),
        ]
    cases += [
        ("createVenue", CREATE_VENUE, {"i": {**VENUE, "zip": "1" * 21}}),
        ("createVenue", CREATE_VENUE, {"i": {**VENUE, "zip": " "}}),
        ("createVenue", CREATE_VENUE, {"i": {**VENUE, "telephone": "1" * 51}}),
    ]
    for field, query, variables in cases:
        error = await league.refused(query, variables, "BAD_USER_INPUT", "INVALID_TEXT", field=field)
        assert len(error["message"]) < 300, error  # a 10,000-character input is not echoed
    # The limits themselves are allowed (after trimming).
    data = await gql.data(CREATE_REFEREE, {"i": {"name": "  " + "x" * 200 + "  ", "club": "c"}})
    assert data["createReferee"]["id"]
    data = await gql.data(CREATE_VENUE, {"i": {**VENUE, "zip": "1" * 20, "telephone": "1" * 50}})
    assert data["createVenue"]["id"]


async def test_malformed_emails_are_invalid_email(league: League) -> None:
    for bad in ["venue.example.org", "a@b", "a b@example.org", "a@@example.org", "a@b@example.org",
                "x" * 250 + "@example.org"]:
        await league.refused(
            CREATE_VENUE, {"i": {**VENUE, "email": bad}}, "BAD_USER_INPUT", "INVALID_EMAIL", field="createVenue"
        )


# --- BAD_USER_INPUT / SAME_TEAM ------------------------------------------------------------


async def test_a_team_against_itself_is_same_team_even_in_another_letter_case(league: League) -> None:
    venue, team = await league.venue(), await league.team()
    create = "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }"
    for home, away in [(team, team), (team, team.upper())]:
        await league.refused(
            create,
            {"i": {"date": f"{DAY}T18:00:00Z", "venueId": venue, "teamHomeId": home, "teamAwayId": away}},
            "BAD_USER_INPUT",
            "SAME_TEAM",
            field="createFixture",
        )


# --- BAD_USER_INPUT / INVALID_PAGE_SIZE, INVALID_CURSOR --------------------------------------


async def test_page_sizes_out_of_range_are_invalid_page_size(gql: GraphQL, league: League) -> None:
    for first in [0, -1, 501, 100_000]:
        result = await gql("query($n: Int) { fixtures(first: $n) { totalCount } }", {"n": first})
        assert_refused(result, "BAD_USER_INPUT", "INVALID_PAGE_SIZE", field="fixtures")
    for first in [1, 500]:
        assert (await gql.data("query($n: Int) { fixtures(first: $n) { totalCount } }", {"n": first}))

    referee = await league.referee()
    query = "query($id: ID!, $n: Int) { referee(id: $id) { name notifications(first: $n) { id } } }"
    for first in [0, -5, 201]:
        result = await gql(query, {"id": referee, "n": first})
        error = only_error(result)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "reason": "INVALID_PAGE_SIZE"}, error
        assert error["path"] == ["referee", "notifications"]
        assert result["data"] == {"referee": None}  # the non-null list nulls its referee
    for first in [1, 200]:
        data = await gql.data(query, {"id": referee, "n": first})
        assert data["referee"]["notifications"] == []


async def test_cursors_this_server_did_not_issue_are_invalid_cursor(gql: GraphQL, league: League) -> None:
    venue = await league.venue()
    for day in ["2037-05-02", "2037-05-09", "2037-05-16"]:
        await league.fixture(f"{day}T18:00:00Z", venue)
    page = await gql.data("{ fixtures(first: 1) { pageInfo { endCursor } } }")
    cursor = page["fixtures"]["pageInfo"]["endCursor"]
    body, _, signature = cursor.partition(".")
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    tampered = [
        f"{flipped}.{signature}",  # another position, the old signature
        f"{body}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # a forged signature
        body,  # no signature
        f"{body}.",
        cursor + "x",
    ]
    query = "query($after: String) { fixtures(first: 1, after: $after) { totalCount } }"
    for bad in ["garbage", "", ".", "bm90IGEgY3Vyc29y", "x" * 5000, *tampered]:
        result = await gql(query, {"after": bad})
        assert_refused(result, "BAD_USER_INPUT", "INVALID_CURSOR", field="fixtures")
    # The real one still works.
    assert (await gql.data(query, {"after": cursor}))["fixtures"]["totalCount"] == 3


# --- BAD_USER_INPUT / INVALID_VARIABLE ----------------------------------------------------------


async def test_null_missing_or_wrongly_typed_variables_are_invalid_variable(gql: GraphQL, league: League) -> None:
    referee = await league.referee()
    cases: list[tuple[str, dict[str, Any] | None]] = [
        ("query($id: ID!) { referee(id: $id) { id } }", {"id": None}),  # null for a non-null variable
        ("query($id: ID!) { referee(id: $id) { id } }", None),  # missing required variable
        ("query($id: ID!) { referee(id: $id) { id } }", {}),  # missing required variable
        ("query($id: ID!) { referee(id: $id) { id } }", {"id": {"uuid": referee}}),  # an object for an ID
        ("query($id: ID!) { referee(id: $id) { id } }", {"id": 1.5}),  # a float for an ID
        ("query($n: Int) { fixtures(first: $n) { totalCount } }", {"n": "ten"}),  # a string for an Int
        ("query($n: Int) { fixtures(first: $n) { totalCount } }", {"n": 2**40}),  # beyond 32 bits
        ("query($s: FixtureStatus) { fixtures(status: $s) { totalCount } }", {"s": "POSTPONED"}),
        ("query($s: AssignmentStatus) { assignments(status: $s) { role } }", {"s": 1}),
        ("mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id } }", {"i": {"name": "Anna"}}),
        ("mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id } }", {"i": {"name": "A", "club": None}}),
        ("mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id } }", {"i": "Anna, VC Nord"}),
        (
            "mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id } }",
            {"i": {"name": "A", "club": "B", "shoeSize": 44}},  # an unknown input field
        ),
        ("mutation($r: ID!, $ids: [ID!]) { markNotificationsRead(refereeId: $r, ids: $ids) }",
         {"r": referee, "ids": [None]}),
    ]
    for query, variables in cases:
        error = await league.refused(query, variables, "BAD_USER_INPUT", "INVALID_VARIABLE")
        assert "path" not in error, (query, error)


# --- NOT_FOUND ----------------------------------------------------------------------------


async def test_unknown_objects_are_not_found_with_their_reason(gql: GraphQL, league: League) -> None:
    referee, venue = await league.referee(), await league.venue()
    home, away = await league.team(), await league.team()
    fixture = await league.fixture(f"{DAY}T18:00:00Z", venue, home, away)
    unknown = UNKNOWN_ID
    create = "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }"
    new = {"date": "2037-05-09T18:00:00Z", "venueId": venue, "teamHomeId": home, "teamAwayId": away}

    def pair(field: str) -> str:
        selection = " { fixture { id } }" if field.endswith("Availability") else ""
        return f"mutation($f: ID!, $r: ID!) {{ {field}(fixtureId: $f, refereeId: $r){selection} }}"

    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("changeRefereeClub", 'mutation($r: ID!) { changeRefereeClub(refereeId: $r, club: "VC Ost") { id } }',
         {"r": unknown}, "REFEREE_NOT_FOUND"),
        ("markNotificationsRead", "mutation($r: ID!) { markNotificationsRead(refereeId: $r) }",
         {"r": unknown}, "REFEREE_NOT_FOUND"),
        ("createFixture", create, {"i": {**new, "teamHomeId": unknown}}, "TEAM_NOT_FOUND"),
        ("createFixture", create, {"i": {**new, "teamAwayId": unknown}}, "TEAM_NOT_FOUND"),
        ("createFixture", create, {"i": {**new, "venueId": unknown}}, "VENUE_NOT_FOUND"),
        ("changeFixtureVenue", "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }",
         {"f": fixture, "v": unknown}, "VENUE_NOT_FOUND"),
        ("changeFixtureVenue", "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }",
         {"f": unknown, "v": venue}, "FIXTURE_NOT_FOUND"),
        ("changeFixtureDate", 'mutation($f: ID!) { changeFixtureDate(fixtureId: $f, date: "2037-05-09T18:00:00Z") { id } }',
         {"f": unknown}, "FIXTURE_NOT_FOUND"),
        ("cancelFixture", "mutation($f: ID!) { cancelFixture(fixtureId: $f) { id } }", {"f": unknown},
         "FIXTURE_NOT_FOUND"),
        ("stageAssignment", "mutation($i: StageAssignmentInput!) { stageAssignment(input: $i) { role } }",
         {"i": {"fixtureId": unknown, "refereeId": referee, "role": "FIRST"}}, "FIXTURE_NOT_FOUND"),
        ("stageAssignment", "mutation($i: StageAssignmentInput!) { stageAssignment(input: $i) { role } }",
         {"i": {"fixtureId": fixture, "refereeId": unknown, "role": "FIRST"}}, "REFEREE_NOT_FOUND"),
        ("removeStagedAssignment", pair("removeStagedAssignment"), {"f": fixture, "r": referee}, "ASSIGNMENT_NOT_FOUND"),
        ("removeCommittedAssignment", pair("removeCommittedAssignment"), {"f": fixture, "r": referee},
         "ASSIGNMENT_NOT_FOUND"),
    ]
    for field in ["declareAvailability", "withdrawAvailability", "removeStagedAssignment", "removeCommittedAssignment"]:
        cases += [
            (field, pair(field), {"f": unknown, "r": referee}, "FIXTURE_NOT_FOUND"),
            (field, pair(field), {"f": fixture, "r": unknown}, "REFEREE_NOT_FOUND"),
        ]
    for field, query, variables, reason in cases:
        error = await league.refused(query, variables, "NOT_FOUND", reason, field=field)
        assert error["message"], error
    # Unknown ids in queries are null, not errors.
    result = await gql("query($id: ID!) { referee(id: $id) { id } fixture(id: $id) { id } }", {"id": unknown})
    assert result == {"data": {"referee": None, "fixture": None}}


# --- CONFLICT ----------------------------------------------------------------------------------


async def test_schedule_clashes_on_the_same_day_are_venue_busy_then_team_busy(gql: GraphQL, league: League) -> None:
    north, south, west = await league.venue("North"), await league.venue("South"), await league.venue("West")
    a, b, c, d, e, f = [await league.team() for _ in range(6)]
    await league.fixture(f"{DAY}T14:00:00Z", north, a, b)
    later = await league.fixture("2037-05-09T14:00:00Z", south, c, d)
    create = "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }"

    def new(venue: str, home: str, away: str, date: str = f"{DAY}T19:00:00+02:00") -> dict[str, Any]:
        return {"i": {"date": date, "venueId": venue, "teamHomeId": home, "teamAwayId": away}}

    await league.refused(create, new(north, c, d), "CONFLICT", "VENUE_BUSY", field="createFixture")
    await league.refused(create, new(south, a, c), "CONFLICT", "TEAM_BUSY", field="createFixture")
    await league.refused(create, new(south, e, b), "CONFLICT", "TEAM_BUSY", field="createFixture")
    # Both clash: the venue rule is reported first.
    await league.refused(create, new(north, a, e), "CONFLICT", "VENUE_BUSY", field="createFixture")
    # Moving `later` (South; teams c, d) onto DAY, where South hosts `third`: VENUE_BUSY;
    # onto 05-16, where c plays at West: TEAM_BUSY.
    change_date = "mutation($f: ID!, $d: DateTime!) { changeFixtureDate(fixtureId: $f, date: $d) { id } }"
    third = await league.fixture(f"{DAY}T16:00:00Z", south, e, f)
    await league.fixture("2037-05-16T14:00:00Z", west, c, f)
    await league.refused(change_date, {"f": later, "d": f"{DAY}T20:00:00Z"}, "CONFLICT", "VENUE_BUSY",
                         field="changeFixtureDate")
    await league.refused(change_date, {"f": later, "d": "2037-05-16T19:00:00+02:00"}, "CONFLICT", "TEAM_BUSY",
                         field="changeFixtureDate")
    change_venue = "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }"
    await league.refused(change_venue, {"f": third, "v": north}, "CONFLICT", "VENUE_BUSY", field="changeFixtureVenue")
    # Team c plays `later`; a new fixture of c on the later day at another venue is TEAM_BUSY.
    await league.refused(create, new(west, e, c, "2037-05-09T10:00:00Z"), "CONFLICT", "TEAM_BUSY",
                         field="createFixture")
    # The next day is free (same day means the same UTC calendar date by default).
    assert await league.fixture("2037-05-03T00:30:00Z", north, a, b)


async def test_cancelling_twice_is_already_cancelled_and_changing_a_cancelled_fixture_is_fixture_cancelled(
    league: League,
) -> None:
    referee, declared = await league.referee(), await league.referee()
    venue, other_venue = await league.venue(), await league.venue()
    fixture = await league.fixture(f"{DAY}T18:00:00Z", venue)
    await league.declare(fixture, declared)
    await league.cancel(fixture)
    cases = [
        ("cancelFixture", "mutation($f: ID!) { cancelFixture(fixtureId: $f) { id } }", {"f": fixture},
         "ALREADY_CANCELLED"),
        ("changeFixtureDate", "mutation($f: ID!) { changeFixtureDate(fixtureId: $f, date: \"2037-06-01T18:00:00Z\") { id } }",
         {"f": fixture}, "FIXTURE_CANCELLED"),
        ("changeFixtureVenue", "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }",
         {"f": fixture, "v": other_venue}, "FIXTURE_CANCELLED"),
        ("declareAvailability", "mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }",
         {"f": fixture, "r": referee}, "FIXTURE_CANCELLED"),
        ("withdrawAvailability", "mutation($f: ID!, $r: ID!) { withdrawAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }",
         {"f": fixture, "r": declared}, "FIXTURE_CANCELLED"),
        ("stageAssignment", "mutation($i: StageAssignmentInput!) { stageAssignment(input: $i) { role } }",
         {"i": {"fixtureId": fixture, "refereeId": declared, "role": "FIRST"}}, "FIXTURE_CANCELLED"),
    ]
    for field, query, variables, reason in cases:
        await league.refused(query, variables, "CONFLICT", reason, field=field)


DECLARE = "mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }"
WITHDRAW = "mutation($f: ID!, $r: ID!) { withdrawAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }"
STAGE = "mutation($i: StageAssignmentInput!) { stageAssignment(input: $i) { role } }"
REMOVE_STAGED = "mutation($f: ID!, $r: ID!) { removeStagedAssignment(fixtureId: $f, refereeId: $r) }"
REMOVE_COMMITTED = "mutation($f: ID!, $r: ID!) { removeCommittedAssignment(fixtureId: $f, refereeId: $r) }"


async def test_availability_conflicts_already_declared_not_declared_referee_assigned_locked(league: League) -> None:
    referee, assigned, fresh = await league.referee(), await league.referee(), await league.referee()
    fixture = await league.fixture(f"{DAY}T18:00:00Z")
    await league.declare(fixture, referee)
    await league.declare(fixture, assigned)
    await league.stage(fixture, assigned, "FIRST")
    await league.commit()

    await league.refused(DECLARE, {"f": fixture, "r": referee}, "CONFLICT", "ALREADY_DECLARED",
                         field="declareAvailability")
    await league.refused(WITHDRAW, {"f": fixture, "r": fresh}, "CONFLICT", "NOT_DECLARED",
                         field="withdrawAvailability")
    await league.refused(WITHDRAW, {"f": fixture, "r": assigned}, "CONFLICT", "REFEREE_ASSIGNED",
                         field="withdrawAvailability")
    await league.lock()
    await league.refused(DECLARE, {"f": fixture, "r": fresh}, "CONFLICT", "AVAILABILITIES_LOCKED",
                         field="declareAvailability")
    await league.refused(WITHDRAW, {"f": fixture, "r": referee}, "CONFLICT", "AVAILABILITIES_LOCKED",
                         field="withdrawAvailability")


async def test_assignment_conflicts_already_committed_and_not_committed(league: League) -> None:
    committed, staged = await league.referee(), await league.referee()
    fixture = await league.fixture(f"{DAY}T18:00:00Z")
    await league.declare(fixture, committed)
    await league.stage(fixture, committed, "FIRST")
    await league.commit()
    await league.stage(fixture, staged, "SECOND")

    for role in ["FIRST", "SECOND"]:  # a committed referee's role changes only after removal
        await league.refused(STAGE, {"i": {"fixtureId": fixture, "refereeId": committed, "role": role}},
                             "CONFLICT", "ALREADY_COMMITTED", field="stageAssignment")
    await league.refused(REMOVE_STAGED, {"f": fixture, "r": committed}, "CONFLICT", "ALREADY_COMMITTED",
                         field="removeStagedAssignment")
    await league.refused(REMOVE_COMMITTED, {"f": fixture, "r": staged}, "CONFLICT", "NOT_COMMITTED",
                         field="removeCommittedAssignment")


async def test_a_commit_with_problems_is_validation_failed_listing_them_and_commits_nothing(
    gql: GraphQL, league: League
) -> None:
    north, south = await league.venue(), await league.venue()
    ok_referee, lazy, busy = await league.referee(), await league.referee(), await league.referee()
    early = await league.fixture(f"{DAY}T14:00:00Z", north)
    late = await league.fixture(f"{DAY}T18:00:00Z", south)
    for fixture, referee in [(early, ok_referee), (early, busy), (late, busy)]:
        await league.declare(fixture, referee)
    await league.stage(early, ok_referee, "FIRST")  # fine on its own
    await league.stage(late, lazy, "FIRST")  # never declared
    await league.stage(early, busy, "SECOND")  # two halls on one day...
    await league.stage(late, busy, "SECOND")  # ...reported on each of them

    error = await league.refused("mutation { commitAssignments { id } }", None, "CONFLICT", "VALIDATION_FAILED",
                                 field="commitAssignments")
    problems = sorted((p["code"], p["fixtureId"], p["refereeId"]) for p in error["extensions"]["problems"])
    assert problems == sorted(
        [
            ("REFEREE_NOT_AVAILABLE", late, lazy),
            ("DIFFERENT_VENUE_SAME_DAY", early, busy),
            ("DIFFERENT_VENUE_SAME_DAY", late, busy),
        ]
    )
    assert all(set(p) == {"code", "fixtureId", "refereeId"} for p in error["extensions"]["problems"])
    # The same problems through validateAssignments; nothing became COMMITTED.
    validation = await gql.data("{ validateAssignments { valid problems { code fixture { id } referee { id } } } }")
    assert validation["validateAssignments"]["valid"] is False
    assert sorted(
        (p["code"], p["fixture"]["id"], p["referee"]["id"]) for p in validation["validateAssignments"]["problems"]
    ) == problems
    assert (await gql.data("{ assignments(status: COMMITTED) { role } }")) == {"assignments": []}
    assert len((await gql.data("{ assignments(status: STAGED) { role } }"))["assignments"]) == 4


async def test_staging_on_a_fixture_already_played_is_fixture_played(league: League) -> None:
    referee = await league.referee()
    played = await league.fixture("2026-05-02T18:00:00Z")  # before today: a match of the past
    await league.declare(played, referee)
    error = await league.refused(STAGE, {"i": {"fixtureId": played, "refereeId": referee, "role": "FIRST"}},
                                 "CONFLICT", "FIXTURE_PLAYED", field="stageAssignment")
    assert "already" in error["message"]


# --- precedence -------------------------------------------------------------------------------


async def test_when_several_rules_refuse_the_first_in_the_contract_order_is_reported(league: League) -> None:
    referee, other = await league.referee(), await league.referee()
    venue = await league.venue()
    fixture = await league.fixture(f"{DAY}T18:00:00Z", venue)
    cancelled = await league.fixture("2037-05-09T18:00:00Z", venue)
    await league.declare(fixture, referee)
    await league.declare(cancelled, referee)
    await league.stage(cancelled, referee, "FIRST")
    await league.commit()
    await league.cancel(cancelled)
    await league.lock()
    unknown = UNKNOWN_ID
    create = "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }"

    cases: list[tuple[str, str, dict[str, Any], str, str]] = [
        # input before existence
        ("declareAvailability", DECLARE, {"f": "bad", "r": unknown}, "BAD_USER_INPUT", "INVALID_ID"),
        ("declareAvailability", DECLARE, {"f": unknown, "r": "bad"}, "BAD_USER_INPUT", "INVALID_ID"),
        ("createFixture", create, {"i": {"date": f"{DAY}T18:00:00Z", "venueId": unknown, "teamHomeId": unknown,
                                         "teamAwayId": unknown}}, "BAD_USER_INPUT", "SAME_TEAM"),
        ("createFixture", create, {"i": {"date": f"{DAY}T18:00:00Z", "venueId": "bad", "teamHomeId": unknown,
                                         "teamAwayId": unknown}}, "BAD_USER_INPUT", "INVALID_ID"),
        ("changeRefereeClub", "mutation($r: ID!) { changeRefereeClub(refereeId: $r, club: \" \") { id } }",
         {"r": unknown}, "BAD_USER_INPUT", "INVALID_TEXT"),
        # existence before every conflict
        ("declareAvailability", DECLARE, {"f": unknown, "r": referee}, "NOT_FOUND", "FIXTURE_NOT_FOUND"),
        ("declareAvailability", DECLARE, {"f": cancelled, "r": unknown}, "NOT_FOUND", "REFEREE_NOT_FOUND"),
        ("changeFixtureVenue", "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id } }",
         {"f": cancelled, "v": unknown}, "NOT_FOUND", "VENUE_NOT_FOUND"),
        # ALREADY_CANCELLED / FIXTURE_CANCELLED before the lock and everything after it
        ("cancelFixture", "mutation($f: ID!) { cancelFixture(fixtureId: $f) { id } }", {"f": cancelled},
         "CONFLICT", "ALREADY_CANCELLED"),
        ("declareAvailability", DECLARE, {"f": cancelled, "r": referee}, "CONFLICT", "FIXTURE_CANCELLED"),
        ("withdrawAvailability", WITHDRAW, {"f": cancelled, "r": referee}, "CONFLICT", "FIXTURE_CANCELLED"),
        ("stageAssignment", STAGE, {"i": {"fixtureId": cancelled, "refereeId": referee, "role": "SECOND"}},
         "CONFLICT", "FIXTURE_CANCELLED"),
        ("changeFixtureDate", "mutation($f: ID!, $d: DateTime!) { changeFixtureDate(fixtureId: $f, date: $d) { id } }",
         {"f": cancelled, "d": f"{DAY}T20:00:00Z"}, "CONFLICT", "FIXTURE_CANCELLED"),  # also VENUE_BUSY
        # AVAILABILITIES_LOCKED before ALREADY_DECLARED / NOT_DECLARED
        ("declareAvailability", DECLARE, {"f": fixture, "r": referee}, "CONFLICT", "AVAILABILITIES_LOCKED"),
        ("withdrawAvailability", WITHDRAW, {"f": fixture, "r": other}, "CONFLICT", "AVAILABILITIES_LOCKED"),
    ]
    for field, query, variables, code, reason in cases:
        await league.refused(query, variables, code, reason, field=field)


async def test_an_invalid_datetime_literal_is_reported_before_an_unknown_fixture(league: League) -> None:
    await league.refused(
        f'mutation {{ changeFixtureDate(fixtureId: "{UNKNOWN_ID}", date: "2037-05-02") {{ id }} }}',
        None,
        "BAD_USER_INPUT",
        "INVALID_DATETIME",
    )


# --- INTERNAL_SERVER_ERROR ------------------------------------------------------------------


async def test_an_unexpected_failure_is_masked_with_a_correlation_id_that_is_in_the_log(
    gql: GraphQL, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await gql.data("{ availabilityLock { locked } }")) == {"availabilityLock": {"locked": False}}
    # Break the database under the running server: no mocks, a real failure in the driver.
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE availability_lock"))

    caplog.set_level(logging.ERROR, logger="whistle.errors")
    for query, field in [
        ("{ availabilityLock { locked changedAt } }", "availabilityLock"),
        ("mutation { lockAvailabilities { locked } }", "lockAvailabilities"),
    ]:
        caplog.clear()
        response = await gql.post(query)
        assert_no_leak(response)
        assert "availability_lock" not in response.text  # no table names either
        result = response.json()
        assert result["data"] is None
        error = only_error(result)
        assert error["path"] == [field]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        correlation_id = error["extensions"]["correlationId"]
        assert correlation_id and correlation_id in error["message"]
        logged = [r for r in caplog.records if r.name == "whistle.errors" and correlation_id in r.getMessage()]
        assert len(logged) == 1, [r.getMessage() for r in caplog.records]
        assert logged[0].levelno == logging.ERROR and logged[0].exc_info  # the log keeps the traceback
    # Other fields keep working.
    assert (await gql.data("{ referees { id } }")) == {"referees": []}
