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

`until_token_expiry` ends a stream when the token it was opened with expires (its `exp`
plus the verification leeway): a last result with UNAUTHENTICATED / TOKEN_EXPIRED, then
the end of the stream, as a socket is closed when its token expires.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime, timezone
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from strawberry.types import ExecutionResult, SubscriptionExecutionResult

from app.domain.errors import Unauthenticated
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


def until_token_expiry(result: Any, request_data: Any, context: Context) -> Any:
    """The streamed result, ending when the caller's token expires (other results as they are)."""
    expires_at = getattr(context.identity, "expires_at", None)
    if request_data.protocol == HTTP or expires_at is None or not isinstance(result, SubscriptionExecutionResult):
        return result
    return _until(result, expires_at)


async def _until(stream: AsyncIterator[Any], deadline: datetime) -> AsyncGenerator[Any, None]:
    try:
        while True:
            seconds_left = max((deadline - datetime.now(timezone.utc)).total_seconds(), 0)
            try:
                # The wait is cancelled at expiry: the subscription ends in this task, cleanly.
                async with asyncio.timeout(seconds_left):
                    item = await anext(stream)
            except StopAsyncIteration:
                return
            except TimeoutError:
                expired = Unauthenticated("TOKEN_EXPIRED", "The access token has expired; subscribe again with a new one.")
                yield ExecutionResult(data=None, errors=[GraphQLError(expired.message, extensions=expired.extensions())])
                return
            yield item
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
