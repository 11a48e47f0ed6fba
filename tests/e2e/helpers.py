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

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
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
