"""Helpers of the end-to-end tests: a GraphQL client over HTTP and error assertions."""

from __future__ import annotations

import re
from typing import Any

import httpx

# What must never reach a client: stack traces, driver names, SQL text.
_LEAKS = re.compile(
    r"Traceback|File \"|sqlalchemy|asyncpg|aiosqlite|sqlite3|psycopg"
    r"|\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b|\bWHERE\b"
)


def assert_no_leak(response: httpx.Response) -> None:
    """No 5xx, no stack trace, no SQL in the body of an (error) response."""
    assert response.status_code < 500, f"HTTP {response.status_code}: {response.text[:500]}"
    leaked = _LEAKS.search(response.text)
    assert leaked is None, f"the response leaks {leaked.group(0)!r}: {response.text[:500]}"


class GraphQL:
    """`await gql(query, variables)` posts one operation to /graphql and returns the parsed JSON.

    Every response that carries errors is checked for leaks (status, traces, SQL)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.mutations_sent = 0  # mutation requests posted, refused ones included

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
        if query.lstrip().startswith("mutation"):
            self.mutations_sent += 1
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post("/graphql", json=body)

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post(query, variables)
        result = response.json()
        if result.get("errors"):
            assert_no_leak(response)
        return result

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of an operation that must succeed without any error."""
        result = await self(query, variables)
        assert "errors" not in result, result["errors"]
        return result["data"]


def only_error(result: dict[str, Any]) -> dict[str, Any]:
    """The single error of a refused single-root-field operation (whose data is null)."""
    errors = result.get("errors")
    assert errors and len(errors) == 1, f"expected exactly one error: {result}"
    return errors[0]


def assert_refused(
    result: dict[str, Any], code: str, reason: str | None, *, field: str | None = None
) -> dict[str, Any]:
    """The operation was refused with exactly this code and reason.

    With `field`, it is a field error: `data: {field: null}` (or `data: null` for a
    non-null field) and `path == [field]`; without, a request error with `data` null."""
    error = only_error(result)
    extensions = error.get("extensions", {})
    assert extensions.get("code") == code, error
    assert extensions.get("reason") == reason, error
    assert error.get("message"), error
    if field is None:
        assert result.get("data") is None, result
    else:
        assert error.get("path") == [field], error
        assert result.get("data") in (None, {field: None}), result
    return error


# --- building a league over GraphQL -------------------------------------------------------

UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"  # well-formed, never issued

SNAPSHOT = """{
  referees { id name club }
  teams { id name club }
  venues { id name street zip city telephone email }
  availabilityLock { locked changedAt }
  assignments { role status fixture { id } referee { id } }
  fixtures(first: 50) { totalCount edges { node {
    id date status venue { id } teamHome { id } teamAway { id }
    firstReferee { id } secondReferee { id } availableReferees { id }
    assignments { role status referee { id } }
  } } }
}"""


class League:
    """Creates directory entries, fixtures, availabilities and assignments through the API."""

    def __init__(self, gql: GraphQL) -> None:
        self.gql = gql
        self._serial = 0
        # The last snapshot and `gql.mutations_sent` when it was taken: still the state
        # while no mutation has been sent since.
        self._known: tuple[dict[str, Any], int] | None = None

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    async def referee(self, name: str | None = None, club: str = "VC Nord") -> str:
        data = await self.gql.data(
            "mutation($i: CreateRefereeInput!) { createReferee(input: $i) { id } }",
            {"i": {"name": name or f"Referee {self._next()}", "club": club}},
        )
        return data["createReferee"]["id"]

    async def team(self, name: str | None = None, club: str = "VC Nord") -> str:
        data = await self.gql.data(
            "mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }",
            {"i": {"name": name or f"Team {self._next()}", "club": club}},
        )
        return data["createTeam"]["id"]

    async def venue(self, name: str | None = None) -> str:
        data = await self.gql.data(
            "mutation($i: CreateVenueInput!) { createVenue(input: $i) { id } }",
            {"i": {"name": name or f"Hall {self._next()}", "street": "Hauptstrasse 1", "zip": "8000", "city": "Zürich"}},
        )
        return data["createVenue"]["id"]

    async def fixture(
        self, date: str, venue: str | None = None, home: str | None = None, away: str | None = None
    ) -> str:
        data = await self.gql.data(
            "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }",
            {
                "i": {
                    "date": date,
                    "venueId": venue or await self.venue(),
                    "teamHomeId": home or await self.team(),
                    "teamAwayId": away or await self.team(),
                }
            },
        )
        return data["createFixture"]["id"]

    async def declare(self, fixture: str, referee: str) -> None:
        await self.gql.data(
            "mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { referee { id } } }",
            {"f": fixture, "r": referee},
        )

    async def stage(self, fixture: str, referee: str, role: str) -> None:
        await self.gql.data(
            "mutation($i: StageAssignmentInput!) { stageAssignment(input: $i) { role } }",
            {"i": {"fixtureId": fixture, "refereeId": referee, "role": role}},
        )

    async def commit(self) -> None:
        await self.gql.data("mutation { commitAssignments { id } }")

    async def cancel(self, fixture: str) -> None:
        await self.gql.data("mutation($f: ID!) { cancelFixture(fixtureId: $f) { id } }", {"f": fixture})

    async def lock(self) -> None:
        await self.gql.data("mutation { lockAvailabilities { locked } }")

    async def snapshot(self) -> dict[str, Any]:
        """Everything the API shows, to prove that a refused operation changed nothing
        (a page of 50 fixtures keeps the query under the default cost limit)."""
        snapshot = await self.gql.data(SNAPSHOT)
        assert snapshot["fixtures"]["totalCount"] <= 50, "the snapshot would not show every fixture"
        return snapshot

    async def refused(
        self,
        query: str,
        variables: dict[str, Any] | None,
        code: str,
        reason: str | None,
        *,
        field: str | None = None,
    ) -> dict[str, Any]:
        """Run `query`, assert it is refused with `code`/`reason`, and that nothing changed."""
        if self._known is not None and self._known[1] == self.gql.mutations_sent:
            before = self._known[0]
        else:
            before = await self.snapshot()
        result = await self.gql(query, variables)
        error = assert_refused(result, code, reason, field=field)
        after = await self.snapshot()
        assert after == before, f"a refused operation changed the state: {query} {variables}"
        self._known = (after, self.gql.mutations_sent)
        return error
