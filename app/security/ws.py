"""WebSocket authentication plumbing for Strawberry's protocol handlers.

graphql-transport-ws closes a socket that sends no connection_init within
`connection_init_wait_timeout` (4408) and one whose init `on_ws_connect` rejects (4403).
The legacy graphql-ws handler has no such timeout: `LegacyWSHandler` adds it, so a
legacy socket that is not acknowledged (no init, or a rejected one) is closed too.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler


class LegacyWSHandler(BaseGraphQLWSHandler[Any, Any]):
    """graphql-ws with the view's `connection_init_wait_timeout`."""

    async def handle(self) -> None:
        watchdog = asyncio.create_task(self._close_unless_acknowledged())
        try:
            await super().handle()
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watchdog

    async def _close_unless_acknowledged(self) -> None:
        await asyncio.sleep(self.view.connection_init_wait_timeout.total_seconds())
        if not self.connection_acknowledged:
            await self.websocket.close(code=4408, reason="Connection initialisation timeout")
