"""The application's lifespan: it starts on a migrated database and ends promptly."""

from __future__ import annotations

import asyncio

import httpx

from app.config import Settings
from app.server import create_app
from tests.e2e.helpers import GraphQL

SHUTDOWN_TIMEOUT = 10.0


async def test_the_app_shuts_down_promptly_right_after_a_commit(settings: Settings, engine: object) -> None:
    """A commit wakes the outbox relay; a shutdown right after must still stop it (on
    Python 3.11 `asyncio.wait_for` swallowed that cancellation and the relay ran on)."""
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
            data = await GraphQL(http).data(
                'mutation { createReferee(input: {name: "Last Act", club: "VC Nord"}) { name } }'
            )
            assert data == {"createReferee": {"name": "Last Act"}}
    finally:
        shutdown = asyncio.create_task(lifespan.__aexit__(None, None, None))
        done, _ = await asyncio.wait({shutdown}, timeout=SHUTDOWN_TIMEOUT)
    assert shutdown in done, f"the lifespan did not end within {SHUTDOWN_TIMEOUT}s of a commit"
    shutdown.result()
