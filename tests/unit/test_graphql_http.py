"""Media type negotiation and status codes of GraphQL over HTTP (app.graphql_http)."""

from __future__ import annotations

from typing import Any

import pytest

from app.graphql_http import GRAPHQL_RESPONSE_JSON, LEGACY_JSON, accepts_json, graphql_http_answer, response_media_type


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, LEGACY_JSON),
        ("", LEGACY_JSON),
        ("*/*", LEGACY_JSON),
        ("application/json", LEGACY_JSON),
        ("text/html", LEGACY_JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("Application/GraphQL-Response+JSON; charset=utf-8", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json,application/json;q=0.9", GRAPHQL_RESPONSE_JSON),  # Apollo Client 4
        ("application/graphql-response+json;q=0, application/json", LEGACY_JSON),
        ("application/graphql-response+json;q=0.0", LEGACY_JSON),
        ("application/graphql-response+json;q=nonsense", LEGACY_JSON),
        ("application/graphql-response+json-ish", LEGACY_JSON),
    ],
)
def test_the_response_media_type_follows_the_accept_header(accept: str | None, expected: str) -> None:
    assert response_media_type(accept) == expected


PARSE_ERROR = {"data": None, "errors": [{"message": "Syntax Error", "extensions": {"code": "GRAPHQL_PARSE_FAILED"}}]}
FIELD_ERROR = {"data": None, "errors": [{"message": "no", "path": ["team"], "extensions": {"code": "FORBIDDEN"}}]}
UNEXPECTED = {"data": None, "errors": [{"message": "masked", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
OK = {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("media_type", "response", "status", "body"),
    [
        (GRAPHQL_RESPONSE_JSON, PARSE_ERROR, 400, {"errors": PARSE_ERROR["errors"]}),
        (GRAPHQL_RESPONSE_JSON, UNEXPECTED, 500, {"errors": UNEXPECTED["errors"]}),
        (GRAPHQL_RESPONSE_JSON, FIELD_ERROR, 200, FIELD_ERROR),
        (GRAPHQL_RESPONSE_JSON, OK, 200, OK),
        (LEGACY_JSON, PARSE_ERROR, 200, PARSE_ERROR),
        (LEGACY_JSON, UNEXPECTED, 200, UNEXPECTED),
        (GRAPHQL_RESPONSE_JSON, [PARSE_ERROR], 200, [PARSE_ERROR]),
    ],
)
def test_request_errors_are_400_without_data_in_the_new_media_type_only(
    media_type: str, response: Any, status: int, body: Any
) -> None:
    assert graphql_http_answer(media_type, response) == (status, body)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, True),
        ("text/event-stream", False),
        ("multipart/mixed;boundary=graphql;subscriptionSpec=1.0", False),
        ("text/event-stream, application/json", True),
        ("multipart/mixed;subscriptionSpec=1.0,application/graphql-response+json,application/json;q=0.9", True),
        ("text/event-stream, */*", True),
        ("text/event-stream, application/json;q=0", False),
    ],
)
def test_a_json_answer_is_allowed_when_the_accept_header_lists_one(accept: str | None, expected: bool) -> None:
    assert accepts_json(accept) is expected
