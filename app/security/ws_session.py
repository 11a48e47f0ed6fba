"""A connection signed in with a session cookie lives as long as the session.

Its identity carries no token expiry (the session refreshes its tokens); instead
`session_ended` looks at the session every few seconds and returns once it has ended
(signed out on any instance, timed out, or refused by the provider). A WebSocket is then
closed with 4401 (`close_when_session_ends`); an SSE or multipart stream ends with a last
UNAUTHENTICATED / SESSION_ENDED result (app.http_streams). A session store that cannot
be reached ends nothing: it may be back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketState

from app.security.session_store import SessionStoreUnavailable
from app.security.sessions import Sessions

log = logging.getLogger("whistle.auth")

CHECK_EVERY_SECONDS = 2.0
SESSION_ENDED = 4401

_watchers: set[asyncio.Task[None]] = set()  # strong references while they run


def _always() -> bool:
    return True


async def session_ended(sessions: Sessions, session_id: str, watching: Callable[[], bool] = _always) -> bool:
    """True once the session has ended; False as soon as `watching()` is false (nobody needs to know)."""
    while watching():
        await asyncio.sleep(CHECK_EVERY_SECONDS)
        if not watching():
            return False
        try:
            if not await sessions.alive(session_id):
                return True
        except SessionStoreUnavailable:
            continue
    return False


def close_when_session_ends(socket: WebSocket, sessions: Sessions, session_id: str) -> None:
    task = asyncio.get_running_loop().create_task(_watch(socket, sessions, session_id))
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)


def _open(socket: WebSocket) -> bool:
    return socket.application_state is WebSocketState.CONNECTED and socket.client_state is WebSocketState.CONNECTED


async def _watch(socket: WebSocket, sessions: Sessions, session_id: str) -> None:
    if await session_ended(sessions, session_id, lambda: _open(socket)):
        try:
            await socket.close(code=SESSION_ENDED, reason="Your session has ended; sign in again.")
        except RuntimeError:
            pass  # closed meanwhile
