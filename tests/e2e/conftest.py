"""Fixtures of the end-to-end tests: the whole application over HTTP, on both backends.

`client` is an httpx.AsyncClient on `create_app(...)` through ASGITransport with the
app's lifespan running around it (so start-up work happens as in production); `gql`
posts GraphQL operations through it. The database is migrated by the `engine` fixture
before the lifespan starts (PostgreSQL needs `whistle migrate` first; SQLite would
migrate itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.config import Settings
from app.server import create_app
from tests.e2e.helpers import GraphQL


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, seed_demo=False)


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Starlette]:
    """The application with its lifespan running (on a database `engine` migrated)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://whistle.test") as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    """`await gql(query, variables=None)` -> the parsed JSON; `await gql.data(...)` -> data, no errors."""
    return GraphQL(client)
