"""WebSocket authentication plumbing for Strawberry's protocol handlers.

graphql-transport-ws closes a socket that sends no connection_init within
`connection_init_wait_timeout` (4408) and one whose init `on_ws_connect` rejects (4403).
The legacy graphql-ws handler has no such timeout: `LegacyWSHandler` adds it, so a
legacy socket that is not acknowledged (no init, or a rejected one) is closed too.
It also closes each operation's result stream in the task that ran it: Strawberry's
handler returns from the loop on an error before execution (a query, an invalid
subscription) and leaves the stream to the garbage collector, whose clean-up runs in
another task and context, where the schema extensions' context variables cannot be
reset (an unhandled task exception and no access line).

Both handlers close a socket whose credentials expired (4401, app.security.expiry), and
charge each operation a socket starts to its caller's rate-limit budget,
as HTTP does: otherwise a socket would be a way around the limit. A refused operation
gets an `error` message with code RATE_LIMITED; the socket stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import CompleteMessage, ErrorMessage
from strawberry.types.execution import PreExecutionError

from app.security.expiry import ExpiryWatch
from app.security.ratelimit import charge, rate_limited_error


async def refusal(view: Any, context: Any, payload: Any) -> dict[str, Any] | None:
    """The error that refuses this operation when its caller's budget is spent, else None."""
    limiter = getattr(view, "rate_limiter", None)
    if limiter is None or not isinstance(payload, dict):
        return None  # no limit; a malformed message is the protocol handler's to refuse
    retry_after = await charge(limiter, context, context.request, payload.get("query"), payload.get("operationName"))
    return None if retry_after is None else rate_limited_error(retry_after)


class TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws whose operations are rate-limited, closed when its credentials expire."""

    async def handle(self) -> None:
        self.expiry = ExpiryWatch(self.context, self.websocket.close)
        try:
            await super().handle()
        finally:
            await self.expiry.stop()

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.expiry.watch()

    async def handle_subscribe(self, message: Any) -> None:
        if self.connection_acknowledged and message["id"] not in self.operations:
            refused = await refusal(self.view, self.context, message.get("payload"))
            if refused is not None:
                await self.send_message({"id": message["id"], "type": "error", "payload": [refused]})
                return
        await super().handle_subscribe(message)


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """graphql-ws with the view's `connection_init_wait_timeout`, its operations rate-limited,
    closed when its credentials expire."""

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.expiry.watch()

    async def handle_start(self, message: Any) -> None:
        if self.connection_acknowledged:
            refused = await refusal(self.view, self.context, message.get("payload"))
            if refused is not None:
                await self.send_message({"type": "error", "id": message["id"], "payload": refused})
                return
        await super().handle_start(message)

    async def handle_async_results(
        self, operation_id: str, query: str, operation_name: str | None, variables: dict[str, object] | None
    ) -> None:
        """Strawberry's, with the result stream closed here, whichever way the operation ends."""
        result_source = None
        try:
            result_source = await self.schema.subscribe(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = result_source
            first = True
            async for result in result_source:
                if first and isinstance(result, PreExecutionError):
                    assert result.errors
                    error = result.errors[0].formatted
                    await self.send_message(ErrorMessage(type="error", id=operation_id, payload=error))
                    return
                await self.send_data_message(result, operation_id)
                first = False
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except asyncio.CancelledError:
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)
            if result_source is not None:
                with contextlib.suppress(RuntimeError):  # already being closed by a `stop`
                    await result_source.aclose()

    async def handle(self) -> None:
        self.expiry = ExpiryWatch(self.context, self.websocket.close)
        watchdog = asyncio.create_task(self._close_unless_acknowledged())
        try:
            await super().handle()
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watchdog
            await self.expiry.stop()

    async def _close_unless_acknowledged(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")
