"""A WebSocket signed in with a session cookie lives as long as the session.

The socket's identity carries no token expiry (the session refreshes its tokens);
instead this watcher looks at the session every few seconds and closes the socket with
4401 once the session has ended (signed out on any instance, timed out, or refused by
the provider). A session store that cannot be reached closes nothing: it may be back.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.websockets import WebSocket, WebSocketState

from app.security.session_store import SessionStoreUnavailable
from app.security.sessions import Sessions

log = logging.getLogger("whistle.auth")

CHECK_EVERY_SECONDS = 2.0
SESSION_ENDED = 4401

_watchers: set[asyncio.Task[None]] = set()  # strong references while they run


def close_when_session_ends(socket: WebSocket, sessions: Sessions, session_id: str) -> None:
    task = asyncio.get_running_loop().create_task(_watch(socket, sessions, session_id))
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)


def _open(socket: WebSocket) -> bool:
    return socket.application_state is WebSocketState.CONNECTED and socket.client_state is WebSocketState.CONNECTED


async def _watch(socket: WebSocket, sessions: Sessions, session_id: str) -> None:
    while _open(socket):
        await asyncio.sleep(CHECK_EVERY_SECONDS)
        if not _open(socket):
            return
        try:
            alive = await sessions.alive(session_id)
        except SessionStoreUnavailable:
            continue
        if not alive:
            try:
                await socket.close(code=SESSION_ENDED, reason="Your session has ended; sign in again.")
            except RuntimeError:
                pass  # closed meanwhile
            return
