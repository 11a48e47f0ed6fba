"""A WebSocket ends when its caller's credentials do.

HTTP verifies the token of every request; a socket authenticates once, in
connection_init, and could otherwise go on delivering events long after its token
expired. `ExpiryWatch` closes it (4401 Unauthorized, as graphql-ws clients know it) once
`context.identity.expires_at` has passed: the token's `exp` plus the verification
leeway. It re-reads the identity before it closes, so whatever replaces the identity
(a refreshed session) moves the deadline; any credential that ends can plug in by
setting `expires_at` on the identity it makes, and call `watch()` again after
replacing an identity that had none.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

EXPIRED_CLOSE_CODE = 4401
EXPIRED_CLOSE_REASON = "Unauthorized: the credentials expired"
MAX_SLEEP_SECONDS = 3600.0  # a long wait is taken in steps (and the identity re-read after each)

Close = Callable[[int, str], Awaitable[Any]]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ExpiryWatch:
    """Closes a socket when the identity of its context expires (None: never)."""

    def __init__(self, context: Any, close: Close, clock: Clock = utc_now) -> None:
        self._context, self._close, self._clock = context, close, clock
        self._task: asyncio.Task[None] | None = None

    def watch(self) -> None:
        """Start watching the context's identity (again, if it was replaced)."""
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.create_task(self._close_at_expiry(), name="whistle-socket-expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _deadline(self) -> datetime | None:
        return getattr(getattr(self._context, "identity", None), "expires_at", None)

    async def _close_at_expiry(self) -> None:
        while (deadline := self._deadline()) is not None:
            remaining = (deadline - self._clock()).total_seconds()
            if remaining <= 0:
                with contextlib.suppress(Exception):  # the socket closed meanwhile: nothing left to close
                    await self._close(EXPIRED_CLOSE_CODE, EXPIRED_CLOSE_REASON)
                return
            await asyncio.sleep(min(remaining, MAX_SLEEP_SECONDS))
