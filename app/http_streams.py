"""Subscriptions streamed over HTTP (Server-Sent Events, Apollo's multipart responses):
the rules that make a stream behave as a WebSocket subscription does.

Strawberry picks the stream transport from the `Accept` header alone; `apply_stream_rules`
then decides, per request, before anything runs:
- only a subscription needs a stream: a query or mutation whose client accepts JSON too
  (urql lists every media type for every request) gets its usual JSON answer;
- a stream outlives its request as a socket does, so ambient credentials (the cookie, dev
  mode's implicit ADMIN) need an allowed Origin, as mutations and socket handshakes do, or
  a page of the same origin (a browser's EventSource sends no Origin on its GET, only
  `Sec-Fetch-Site`); otherwise every field of the stream is refused with the CSRF error.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from app.graphql_http import accepts_json
from app.schema.context import Context
from app.security.ratelimit import operation_type

HTTP = "http"  # Strawberry's protocol name of a plain (unstreamed) request


def apply_stream_rules(request: Request, request_data: Any, context: Context) -> None:
    """Unstream what needs no stream; refuse ambient credentials from a foreign page."""
    if request_data.protocol == HTTP:
        return
    if accepts_json(request.headers.get("accept")):
        if operation_type(request_data.query, request_data.operation_name) != "subscription":
            request_data.protocol = HTTP
            return
    if context.csrf_error is not None and request.headers.get("sec-fetch-site") != "same-origin":
        context.auth_error = context.csrf_error
