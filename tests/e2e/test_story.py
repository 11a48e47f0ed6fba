"""The whole story of the original tool, told once over HTTP on each backend.

Directory -> fixtures -> availability (declare, withdraw, lock, unlock) -> staging and
validation -> commits (with a replacement) -> removal -> schedule changes ->
cancellation, then every Query field of the contract, nested fields included.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.e2e.helpers import GraphQL, assert_refused

REFEREE_FIELDS = "id name club"
FIXTURE_FIELDS = "id date status venue { id name } teamHome { id name } teamAway { id name }"
ASSIGNMENT_FIELDS = "role status fixture { id } referee { id name }"


async def create_referee(gql: GraphQL, name: str, club: str) -> dict[str, Any]:
    data = await gql.data(
        f"mutation($input: CreateRefereeInput!) {{ createReferee(input: $input) {{ {REFEREE_FIELDS} }} }}",
        {"input": {"name": name, "club": club}},
    )
    return data["createReferee"]


async def create_team(gql: GraphQL, name: str, club: str) -> dict[str, Any]:
    data = await gql.data(
        "mutation($input: CreateTeamInput!) { createTeam(input: $input) { id name club } }",
        {"input": {"name": name, "club": club}},
    )
    return data["createTeam"]


async def create_venue(gql: GraphQL, **fields: Any) -> dict[str, Any]:
    data = await gql.data(
        "mutation($input: CreateVenueInput!) { createVenue(input: $input) {"
        " id name street zip city telephone email } }",
        {"input": {"street": "Hauptstrasse 1", "zip": "8000", "city": "Zürich", **fields}},
    )
    return data["createVenue"]


async def create_fixture(gql: GraphQL, date: str, venue: str, home: str, away: str) -> dict[str, Any]:
    data = await gql.data(
        f"mutation($input: CreateFixtureInput!) {{ createFixture(input: $input) {{ {FIXTURE_FIELDS} }} }}",
        {"input": {"date": date, "venueId": venue, "teamHomeId": home, "teamAwayId": away}},
    )
    return data["createFixture"]


async def declare(gql: GraphQL, fixture: str, referee: str) -> dict[str, Any]:
    return await gql(
        "mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) {"
        " fixture { id } referee { id } } }",
        {"f": fixture, "r": referee},
    )


async def withdraw(gql: GraphQL, fixture: str, referee: str) -> dict[str, Any]:
    return await gql.data(
        "mutation($f: ID!, $r: ID!) { withdrawAvailability(fixtureId: $f, refereeId: $r) {"
        " fixture { id } referee { id } } }",
        {"f": fixture, "r": referee},
    )


async def stage(gql: GraphQL, fixture: str, referee: str, role: str) -> dict[str, Any]:
    data = await gql.data(
        f"mutation($input: StageAssignmentInput!) {{ stageAssignment(input: $input) {{ {ASSIGNMENT_FIELDS} }} }}",
        {"input": {"fixtureId": fixture, "refereeId": referee, "role": role}},
    )
    return data["stageAssignment"]


async def commit(gql: GraphQL) -> dict[str, Any]:
    data = await gql.data(
        "mutation { commitAssignments { id committedAt"
        f" assignments {{ {ASSIGNMENT_FIELDS} }} replaced {{ {ASSIGNMENT_FIELDS} }} }} }}"
    )
    return data["commitAssignments"]


async def fixture_state(gql: GraphQL, fixture: str) -> dict[str, Any]:
    data = await gql.data(
        "query($id: ID!) { fixture(id: $id) {"
        f" {FIXTURE_FIELDS} firstReferee {{ id name }} secondReferee {{ id name }}"
        f" availableReferees {{ id name }} assignments {{ {ASSIGNMENT_FIELDS} }} }} }}",
        {"id": fixture},
    )
    return data["fixture"]


def triples(assignments: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(fixture id, referee name, role, status) of each assignment, in the given order."""
    return [(a["fixture"]["id"], a["referee"]["name"], a["role"], a["status"]) for a in assignments]


async def notifications_when_settled(
    gql: GraphQL, expected: dict[str, list[Any]], timeout: float = 5.0
) -> dict[str, list[dict[str, Any]]]:
    """Each referee's notifications once there are as many as expected (or at the
    timeout), read again a moment later so that a late duplicate would show too."""

    async def read() -> dict[str, list[dict[str, Any]]]:
        found = {}
        for referee_id in expected:
            data = await gql.data(
                "query($id: ID!) { referee(id: $id) { notifications(first: 200) {"
                " id kind message createdAt read fixture { id } } } }",
                {"id": referee_id},
            )
            found[referee_id] = data["referee"]["notifications"]
        return found

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await read()
        if all(len(found[r]) >= len(e) for r, e in expected.items()):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    return await read()


def ids(nodes: list[dict[str, Any]]) -> list[str]:
    return [n["id"] for n in nodes]


async def test_the_whole_story_of_a_season_over_http(gql: GraphQL) -> None:
    # --- the directory -----------------------------------------------------------------
    carla = await create_referee(gql, "Carla Conti", "VC Süd")
    anna = await create_referee(gql, "anna Amrein", "VC Nord")
    bruno = await create_referee(gql, "Bruno Baumann", "VC West")
    dora = await create_referee(gql, "  Dora Dietrich  ", "VC Ost")
    assert dora["name"] == "Dora Dietrich"  # trimmed
    assert anna["id"] == anna["id"].lower()

    delta = await create_team(gql, "Team Delta", "VC Ost")
    alpha = await create_team(gql, "Team Alpha", "VC Nord")
    bravo = await create_team(gql, "Team Bravo", "VC West")
    charlie = await create_team(gql, "Team Charlie", "VC Süd")

    nord = await create_venue(
        gql, name="Sporthalle Nord", telephone="+41 44 000 00 00", email="nord@example.org"
    )
    sued = await create_venue(gql, name="Halle Süd", telephone="")
    assert (nord["telephone"], nord["email"]) == ("+41 44 000 00 00", "nord@example.org")
    assert (sued["telephone"], sued["email"]) == (None, None)  # "" and omitted both mean absent

    # --- fixtures: input with any offset, output in UTC -------------------------------
    f1 = await create_fixture(gql, "2037-03-07T17:30:00+01:00", sued["id"], charlie["id"], delta["id"])
    f2 = await create_fixture(gql, "2037-03-07T18:30:00+01:00", nord["id"], alpha["id"], bravo["id"])
    f3 = await create_fixture(gql, "2037-03-14T15:00:00Z", nord["id"], bravo["id"], charlie["id"])
    f4 = await create_fixture(gql, "2037-03-21T09:00:00-05:00", sued["id"], delta["id"], alpha["id"])
    f5 = await create_fixture(gql, "2037-03-28T19:00:00.250Z", nord["id"], alpha["id"], charlie["id"])
    assert f1["date"] == "2037-03-07T16:30:00+00:00"
    assert f2["date"] == "2037-03-07T17:30:00+00:00"
    assert f3["date"] == "2037-03-14T15:00:00+00:00"
    assert f4["date"] == "2037-03-21T14:00:00+00:00"
    assert f5["date"].startswith("2037-03-28T19:00:00.25") and f5["date"].endswith("+00:00")
    assert f1["status"] == "SCHEDULED"
    assert (f2["venue"]["name"], f2["teamHome"]["name"], f2["teamAway"]["name"]) == (
        "Sporthalle Nord",
        "Team Alpha",
        "Team Bravo",
    )

    # --- availability: declare and withdraw -------------------------------------------
    for fixture, referee in [(f2, anna), (f3, anna), (f5, anna), (f2, bruno), (f4, bruno), (f2, carla), (f3, carla)]:
        result = await declare(gql, fixture["id"], referee["id"])
        assert "errors" not in result, result
        assert result["data"]["declareAvailability"] == {
            "fixture": {"id": fixture["id"]},
            "referee": {"id": referee["id"]},
        }
    withdrawn = await withdraw(gql, f3["id"], carla["id"])
    assert withdrawn["withdrawAvailability"]["referee"]["id"] == carla["id"]

    state = await fixture_state(gql, f2["id"])
    assert [r["name"] for r in state["availableReferees"]] == ["anna Amrein", "Bruno Baumann", "Carla Conti"]
    state = await fixture_state(gql, f3["id"])
    assert [r["name"] for r in state["availableReferees"]] == ["anna Amrein"]  # Carla withdrew

    data = await gql.data(
        "query($id: ID!, $from: DateTime, $to: DateTime) { referee(id: $id) {"
        " all: availableFixtures { id date }"
        " window: availableFixtures(from: $from, to: $to) { id }"
        " fromExact: availableFixtures(from: \"2037-03-14T16:00:00+01:00\") { id } } }",
        # from inclusive (f2 is before it), to exclusive (f5 starts exactly then)
        {"id": anna["id"], "from": "2037-03-10T00:00:00Z", "to": "2037-03-28T19:00:00.250Z"},
    )
    assert ids(data["referee"]["all"]) == [f2["id"], f3["id"], f5["id"]]  # by date
    assert ids(data["referee"]["window"]) == [f3["id"]]
    assert ids(data["referee"]["fromExact"]) == [f3["id"], f5["id"]]  # from is inclusive

    # --- the lock: idempotent, and it refuses declarations -------------------------------
    lock_query = "mutation { lockAvailabilities { locked changedAt } }"
    first_lock = (await gql.data(lock_query))["lockAvailabilities"]
    assert first_lock["locked"] is True and first_lock["changedAt"].endswith("+00:00")
    second_lock = (await gql.data(lock_query))["lockAvailabilities"]
    assert second_lock == first_lock  # changedAt unchanged: locking a locked lock changes nothing
    assert (await gql.data("{ availabilityLock { locked changedAt } }"))["availabilityLock"] == first_lock

    refused = await declare(gql, f3["id"], dora["id"])
    assert_refused(refused, "CONFLICT", "AVAILABILITIES_LOCKED")
    assert ids((await fixture_state(gql, f3["id"]))["availableReferees"]) == [anna["id"]]  # nothing changed

    unlock_query = "mutation { unlockAvailabilities { locked changedAt } }"
    unlocked = (await gql.data(unlock_query))["unlockAvailabilities"]
    assert unlocked["locked"] is False and unlocked["changedAt"] >= first_lock["changedAt"]
    assert (await gql.data(unlock_query))["unlockAvailabilities"] == unlocked  # idempotent too

    # --- staging and validation -----------------------------------------------------------
    # SECOND is staged before FIRST: Fixture.assignments still lists FIRST first.
    staged = await stage(gql, f2["id"], bruno["id"], "SECOND")
    assert (staged["role"], staged["status"], staged["referee"]["id"]) == ("SECOND", "STAGED", bruno["id"])
    await stage(gql, f2["id"], anna["id"], "FIRST")
    await stage(gql, f3["id"], dora["id"], "FIRST")  # Dora has not declared availability
    await stage(gql, f4["id"], bruno["id"], "FIRST")

    validation_query = (
        "{ validateAssignments { valid problems { code message fixture { id } referee { id } } } }"
    )
    validation = (await gql.data(validation_query))["validateAssignments"]
    assert validation["valid"] is False
    assert [(p["code"], p["fixture"]["id"], p["referee"]["id"]) for p in validation["problems"]] == [
        ("REFEREE_NOT_AVAILABLE", f3["id"], dora["id"])
    ]
    assert validation["problems"][0]["message"]

    state = await fixture_state(gql, f2["id"])
    assert triples(state["assignments"]) == [
        (f2["id"], "anna Amrein", "FIRST", "STAGED"),
        (f2["id"], "Bruno Baumann", "SECOND", "STAGED"),
    ]
    assert state["firstReferee"] is None and state["secondReferee"] is None  # staged is not official

    assert "errors" not in await declare(gql, f3["id"], dora["id"])
    validation = (await gql.data(validation_query))["validateAssignments"]
    assert validation == {"valid": True, "problems": []}

    # --- the first commit ---------------------------------------------------------------
    first_commit = await commit(gql)
    assert first_commit["committedAt"].endswith("+00:00")
    assert first_commit["replaced"] == []
    assert sorted(triples(first_commit["assignments"])) == sorted(
        [
            (f2["id"], "anna Amrein", "FIRST", "COMMITTED"),
            (f2["id"], "Bruno Baumann", "SECOND", "COMMITTED"),
            (f3["id"], "Dora Dietrich", "FIRST", "COMMITTED"),
            (f4["id"], "Bruno Baumann", "FIRST", "COMMITTED"),
        ]
    )
    state = await fixture_state(gql, f2["id"])
    assert state["firstReferee"] == {"id": anna["id"], "name": "anna Amrein"}
    assert state["secondReferee"] == {"id": bruno["id"], "name": "Bruno Baumann"}
    assert (await fixture_state(gql, f3["id"]))["firstReferee"]["id"] == dora["id"]
    assert (await fixture_state(gql, f4["id"]))["firstReferee"]["id"] == bruno["id"]

    # --- a replacement through a second commit --------------------------------------------
    await stage(gql, f2["id"], carla["id"], "SECOND")
    data = await gql.data(
        "query($id: ID!) { referee(id: $id) {"
        f" staged: assignments(status: STAGED) {{ {ASSIGNMENT_FIELDS} }}"
        f" committed: assignments(status: COMMITTED) {{ {ASSIGNMENT_FIELDS} }} }} }}",
        {"id": carla["id"]},
    )
    assert triples(data["referee"]["staged"]) == [(f2["id"], "Carla Conti", "SECOND", "STAGED")]
    assert data["referee"]["committed"] == []
    roles = [(a["role"], a["status"]) for a in (await fixture_state(gql, f2["id"]))["assignments"]]
    assert roles[0] == ("FIRST", "COMMITTED")
    assert sorted(roles[1:]) == [("SECOND", "COMMITTED"), ("SECOND", "STAGED")]

    second_commit = await commit(gql)
    assert second_commit["id"] != first_commit["id"]
    assert triples(second_commit["assignments"]) == [(f2["id"], "Carla Conti", "SECOND", "COMMITTED")]
    assert triples(second_commit["replaced"]) == [(f2["id"], "Bruno Baumann", "SECOND", "COMMITTED")]
    state = await fixture_state(gql, f2["id"])
    assert state["secondReferee"] == {"id": carla["id"], "name": "Carla Conti"}
    assert triples(state["assignments"]) == [
        (f2["id"], "anna Amrein", "FIRST", "COMMITTED"),
        (f2["id"], "Carla Conti", "SECOND", "COMMITTED"),
    ]
    data = await gql.data(
        f"query($id: ID!) {{ referee(id: $id) {{ assignments {{ {ASSIGNMENT_FIELDS} }} }} }}", {"id": bruno["id"]}
    )
    assert triples(data["referee"]["assignments"]) == [(f4["id"], "Bruno Baumann", "FIRST", "COMMITTED")]

    # --- removing a committed assignment -------------------------------------------------
    removed = await gql.data(
        "mutation($f: ID!, $r: ID!) { removeCommittedAssignment(fixtureId: $f, refereeId: $r) }",
        {"f": f3["id"], "r": dora["id"]},
    )
    assert removed == {"removeCommittedAssignment": True}
    state = await fixture_state(gql, f3["id"])
    assert state["firstReferee"] is None and state["assignments"] == []

    # --- schedule changes ------------------------------------------------------------------
    moved = await gql.data(
        "mutation($f: ID!, $d: DateTime!) { changeFixtureDate(fixtureId: $f, date: $d) { id date } }",
        {"f": f3["id"], "d": "2037-03-15T10:00:00+01:00"},
    )
    assert moved["changeFixtureDate"] == {"id": f3["id"], "date": "2037-03-15T09:00:00+00:00"}
    moved = await gql.data(
        "mutation($f: ID!, $v: ID!) { changeFixtureVenue(fixtureId: $f, venueId: $v) { id venue { id name } } }",
        {"f": f3["id"], "v": sued["id"]},
    )
    assert moved["changeFixtureVenue"]["venue"] == {"id": sued["id"], "name": "Halle Süd"}
    state = await fixture_state(gql, f3["id"])
    assert (state["date"], state["venue"]["id"]) == ("2037-03-15T09:00:00+00:00", sued["id"])

    # --- cancellation: staged assignments go, committed referees stay on record -----------
    await stage(gql, f4["id"], dora["id"], "SECOND")
    cancelled = await gql.data("mutation($f: ID!) { cancelFixture(fixtureId: $f) { id status } }", {"f": f4["id"]})
    assert cancelled["cancelFixture"] == {"id": f4["id"], "status": "CANCELLED"}
    state = await fixture_state(gql, f4["id"])
    assert state["status"] == "CANCELLED"
    assert state["firstReferee"]["id"] == bruno["id"]
    assert triples(state["assignments"]) == [(f4["id"], "Bruno Baumann", "FIRST", "COMMITTED")]

    # A staged assignment on f5 (anna declared it) for the refereeId filter below.
    await stage(gql, f5["id"], anna["id"], "SECOND")

    # --- every Query field ---------------------------------------------------------------
    data = await gql.data(f"{{ referees {{ {REFEREE_FIELDS} }} }}")
    assert [r["name"] for r in data["referees"]] == ["anna Amrein", "Bruno Baumann", "Carla Conti", "Dora Dietrich"]
    data = await gql.data("{ teams { id name club } }")
    assert [t["name"] for t in data["teams"]] == ["Team Alpha", "Team Bravo", "Team Charlie", "Team Delta"]
    data = await gql.data("{ venues { id name street zip city telephone email } }")
    assert [v["name"] for v in data["venues"]] == ["Halle Süd", "Sporthalle Nord"]
    assert data["venues"][0] == sued

    # Ids are accepted in upper case and answered in lower case.
    data = await gql.data(
        "query($r: ID!, $t: ID!, $v: ID!, $f: ID!) { referee(id: $r) { id name club }"
        " team(id: $t) { id name } venue(id: $v) { id name } fixture(id: $f) { id date } }",
        {"r": anna["id"].upper(), "t": alpha["id"].upper(), "v": nord["id"].upper(), "f": f1["id"].upper()},
    )
    assert data == {
        "referee": {"id": anna["id"], "name": "anna Amrein", "club": "VC Nord"},
        "team": {"id": alpha["id"], "name": "Team Alpha"},
        "venue": {"id": nord["id"], "name": "Sporthalle Nord"},
        "fixture": {"id": f1["id"], "date": "2037-03-07T16:30:00+00:00"},
    }
    unknown = "00000000-0000-4000-8000-000000000000"
    data = await gql.data(
        "query($id: ID!) { referee(id: $id) { id } team(id: $id) { id } venue(id: $id) { id } fixture(id: $id) { id } }",
        {"id": unknown},
    )
    assert data == {"referee": None, "team": None, "venue": None, "fixture": None}

    # Query.assignments, by fixture date then role, with and without status.
    assignment_query = f"query($s: AssignmentStatus) {{ assignments(status: $s) {{ {ASSIGNMENT_FIELDS} }} }}"
    everything = (await gql.data(assignment_query))["assignments"]
    assert triples(everything) == [
        (f2["id"], "anna Amrein", "FIRST", "COMMITTED"),
        (f2["id"], "Carla Conti", "SECOND", "COMMITTED"),
        (f4["id"], "Bruno Baumann", "FIRST", "COMMITTED"),
        (f5["id"], "anna Amrein", "SECOND", "STAGED"),
    ]
    assert triples((await gql.data(assignment_query, {"s": "STAGED"}))["assignments"]) == [
        (f5["id"], "anna Amrein", "SECOND", "STAGED")
    ]
    assert len((await gql.data(assignment_query, {"s": "COMMITTED"}))["assignments"]) == 3

    assert (await gql.data("{ availabilityLock { locked changedAt } }"))["availabilityLock"] == unlocked
    assert (await gql.data(validation_query))["validateAssignments"] == {"valid": True, "problems": []}

    # Referee.notifications (nested): every referee heard of each change that concerns
    # them once (derived after the commit: allow a few seconds), newest first.
    expected = {
        anna["id"]: [("ASSIGNED", f2), ("FIXTURE_DATE_CHANGED", f3), ("FIXTURE_VENUE_CHANGED", f3)],
        bruno["id"]: [("ASSIGNED", f2), ("ASSIGNED", f4), ("UNASSIGNED", f2), ("FIXTURE_CANCELLED", f4)],
        carla["id"]: [("ASSIGNED", f2)],  # she had withdrawn from f3 before it changed
        dora["id"]: [("ASSIGNED", f3), ("UNASSIGNED", f3), ("FIXTURE_DATE_CHANGED", f3), ("FIXTURE_VENUE_CHANGED", f3)],
    }
    notifications = await notifications_when_settled(gql, expected)
    for referee_id, wanted in expected.items():
        got = notifications[referee_id]
        assert sorted((n["kind"], n["fixture"]["id"]) for n in got) == sorted((k, f["id"]) for k, f in wanted)
        assert all(n["read"] is False and n["message"] and n["createdAt"].endswith("+00:00") for n in got)
        created = [n["createdAt"] for n in got]
        assert created == sorted(created, reverse=True)  # newest first

    one = notifications[bruno["id"]][0]["id"]
    mark = "mutation($r: ID!, $ids: [ID!]) { markNotificationsRead(refereeId: $r, ids: $ids) }"
    assert (await gql.data(mark, {"r": bruno["id"], "ids": [one.upper()]})) == {"markNotificationsRead": 1}
    assert (await gql.data(mark, {"r": anna["id"]})) == {"markNotificationsRead": 3}
    assert (await gql.data(mark, {"r": anna["id"]})) == {"markNotificationsRead": 0}  # nothing left to change
    data = await gql.data(
        "query($a: ID!, $b: ID!) { a: referee(id: $a) { notifications(unreadOnly: true) { id } }"
        " b: referee(id: $b) { notifications(unreadOnly: true, first: 2) { id read } } }",
        {"a": anna["id"], "b": bruno["id"]},
    )
    assert data["a"]["notifications"] == []
    assert len(data["b"]["notifications"]) == 2 and one not in {n["id"] for n in data["b"]["notifications"]}

    # --- the fixtures connection: filters ----------------------------------------------
    async def page(variables: dict[str, Any]) -> tuple[list[str], int, dict[str, Any]]:
        data = await gql.data(
            "query($from: DateTime, $to: DateTime, $status: FixtureStatus, $venue: ID, $team: ID,"
            " $referee: ID, $first: Int, $after: String) {"
            " fixtures(from: $from, to: $to, status: $status, venueId: $venue, teamId: $team,"
            " refereeId: $referee, first: $first, after: $after) {"
            " edges { cursor node { id } } pageInfo { hasNextPage endCursor } totalCount } }",
            variables,
        )
        connection = data["fixtures"]
        return [e["node"]["id"] for e in connection["edges"]], connection["totalCount"], connection

    every = [f1["id"], f2["id"], f3["id"], f4["id"], f5["id"]]  # f3 moved to 03-15, still third
    assert (await page({}))[:2] == (every, 5)
    # from inclusive (f2 starts exactly then), to exclusive (f4 starts exactly then)
    assert (await page({"from": "2037-03-07T18:30:00+01:00", "to": "2037-03-21T14:00:00Z"}))[:2] == (
        [f2["id"], f3["id"]],
        2,
    )
    assert (await page({"status": "CANCELLED"}))[:2] == ([f4["id"]], 1)
    assert (await page({"status": "SCHEDULED"}))[:2] == ([f1["id"], f2["id"], f3["id"], f5["id"]], 4)
    assert (await page({"venue": sued["id"].upper()}))[:2] == ([f1["id"], f3["id"], f4["id"]], 3)
    assert (await page({"team": alpha["id"]}))[:2] == ([f2["id"], f4["id"], f5["id"]], 3)  # home or away
    assert (await page({"referee": anna["id"]}))[:2] == ([f2["id"], f5["id"]], 2)  # committed and staged
    assert (await page({"referee": bruno["id"]}))[:2] == ([f4["id"]], 1)  # replaced on f2
    assert (await page({"referee": dora["id"]}))[:2] == ([], 0)  # removed on f3, unstaged on f4
    assert (await page({"team": alpha["id"], "status": "SCHEDULED", "venue": nord["id"]}))[:2] == (
        [f2["id"], f5["id"]],
        2,
    )

    # --- the fixtures connection: pages --------------------------------------------------
    seen: list[str] = []
    after = None
    pages = []
    while True:
        got, total, connection = await page({"first": 2, "after": after})
        assert total == 5  # totalCount ignores first/after
        assert connection["pageInfo"]["endCursor"] == (connection["edges"][-1]["cursor"] if got else None)
        seen += got
        pages.append(got)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages == [[f1["id"], f2["id"]], [f3["id"], f4["id"]], [f5["id"]]]
    assert seen == every
    # A cursor from the middle of a page continues right after its edge.
    _, _, first_page = await page({"first": 2})
    got, total, _ = await page({"first": 500, "after": first_page["edges"][0]["cursor"]})
    assert (got, total) == (every[1:], 5)
    # Filters and pages together: totalCount counts the filter, not the page.
    got, total, connection = await page({"status": "SCHEDULED", "first": 1})
    assert (got, total, connection["pageInfo"]["hasNextPage"]) == ([f1["id"]], 4, True)
