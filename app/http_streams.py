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

`until_credentials_end` ends a stream when the credentials it was opened with end, as a
socket is closed then: a bearer token when it expires (its `exp` plus the verification
leeway), with a last result UNAUTHENTICATED / TOKEN_EXPIRED; a session cookie when the
session ends (the WebSocket's watcher, app.security.ws_session), with a last result
UNAUTHENTICATED / SESSION_ENDED. Then the stream ends as each protocol ends one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from graphql import GraphQLError
from starlette.requests import Request
from strawberry.types import ExecutionResult, SubscriptionExecutionResult

from app.domain.errors import Unauthenticated
from app.graphql_http import accepts_json
from app.schema.context import Context
from app.security.ratelimit import operation_type
from app.security.sessions import Sessions
from app.security.sessions import session_ended as ended_session
from app.security.ws_session import session_ended

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


def until_credentials_end(result: Any, request_data: Any, context: Context, sessions: Sessions | None) -> Any:
    """The streamed result, ending when the caller's token expires or session ends (other results as they are)."""
    if request_data.protocol == HTTP or not isinstance(result, SubscriptionExecutionResult):
        return result
    identity = context.identity
    expires_at = getattr(identity, "expires_at", None)
    session_id = getattr(identity, "session_id", None)
    if expires_at is not None:
        seconds_left = max((expires_at - datetime.now(timezone.utc)).total_seconds(), 0)
        expired = Unauthenticated("TOKEN_EXPIRED", "The access token has expired; subscribe again with a new one.")
        return _until(result, lambda: asyncio.sleep(seconds_left), expired)
    if session_id is not None and sessions is not None:
        return _until(result, lambda: session_ended(sessions, session_id), ended_session())
    return result


async def _until(
    stream: AsyncIterator[Any], end: Callable[[], Awaitable[object]], error: Unauthenticated
) -> AsyncGenerator[Any, None]:
    """The stream's items until `end()` returns (started with the stream), then `error` as its last result."""
    ending = asyncio.ensure_future(end())
    try:
        while not ending.done():
            try:
                item = await _next_before(stream, ending)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if not ending.done():
                    raise  # the stream's own
                break
            yield item
        ending.result()  # a watch that broke re-raises here: a bug, not an ended session
        yield ExecutionResult(data=None, errors=[GraphQLError(error.message, extensions=error.extensions())])
    finally:
        ending.cancel()
        await stream.aclose()  # type: ignore[attr-defined]


async def _next_before(stream: AsyncIterator[Any], ending: asyncio.Future[object]) -> Any:
    """The stream's next item, or TimeoutError once `ending` is done: the wait is cancelled
    then, so the subscription ends in this task (its context variables), cleanly."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as timeout:
        waiting = True

        def wake(_: object) -> None:
            if waiting:  # (a callback already queued when the item came must not touch a finished timeout)
                timeout.reschedule(loop.time())

        ending.add_done_callback(wake)
        try:
            return await anext(stream)
        finally:
            waiting = False
            ending.remove_done_callback(wake)
