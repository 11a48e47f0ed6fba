"""GraphQL over HTTP (the GraphQL Foundation's spec): which media type a response is
written in, and the status code and body that go with it.

- `response_media_type(accept)`: `application/graphql-response+json` when the client
  lists it (preferred whenever the `Accept` header allows both), else the legacy
  `application/json` (no header, `*/*`, `application/json`, or anything else).
- `accepts_json(accept)`: whether a query or mutation sent with a stream media type
  (`text/event-stream`, multipart) may be answered as plain JSON instead.
- `graphql_http_answer(media_type, response)`: the status code and body of a GraphQL
  response. With `application/graphql-response+json`, a request error (the document does
  not parse or validate, a variable does not coerce: no `data` was produced and no error
  has a `path`) is a 400 without a `data` entry (500 when it was an unexpected failure).
  With `application/json` every GraphQL response is a 200, as legacy clients expect.

Every path that writes a GraphQL response over HTTP goes through these two functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
LEGACY_JSON = "application/json"


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def _accepted(accept: str) -> Iterator[str]:
    """The media types an `Accept` header allows (quality above 0), lowercase."""
    for part in accept.split(","):
        media_type, *parameters = part.split(";")
        if _quality(parameters) > 0:
            yield media_type.strip().lower()


def response_media_type(accept: str | None) -> str:
    """The media type to answer a GraphQL request in, from its `Accept` header."""
    if not accept or GRAPHQL_RESPONSE_JSON not in accept.lower():
        return LEGACY_JSON  # the common case, decided without parsing
    return GRAPHQL_RESPONSE_JSON if GRAPHQL_RESPONSE_JSON in _accepted(accept) else LEGACY_JSON


def accepts_json(accept: str | None) -> bool:
    """The client takes a plain JSON answer too (clients such as urql list the stream media
    types beside JSON for every request: only their subscriptions need a stream)."""
    json_types = {GRAPHQL_RESPONSE_JSON, LEGACY_JSON, "application/*", "*/*"}
    return not accept or any(media_type in json_types for media_type in _accepted(accept))


def is_request_error(response: dict[str, Any]) -> bool:
    """The operation never started: errors, no data, and no error that belongs to a field."""
    errors = response.get("errors")
    return bool(errors) and response.get("data") is None and not any("path" in error for error in errors)


def graphql_http_answer(media_type: str, response: Any) -> tuple[int, Any]:
    """The status code and body of a GraphQL response (a batch is answered as it is)."""
    if media_type != GRAPHQL_RESPONSE_JSON or not isinstance(response, dict) or not is_request_error(response):
        return 200, response
    unexpected = any((error.get("extensions") or {}).get("code") == "INTERNAL_SERVER_ERROR" for error in response["errors"])
    return (500 if unexpected else 400), {key: value for key, value in response.items() if key != "data"}
