"""Fixtures of the end-to-end tests: the whole application over HTTP, on both backends.

`client` is an httpx.AsyncClient on `create_app(...)` through ASGITransport with the
app's lifespan running around it (so start-up work happens as in production); `gql`
posts GraphQL operations through it. The database is migrated by the `engine` fixture
before the lifespan starts (PostgreSQL needs `whistle migrate` first; SQLite would
migrate itself). `open_client(**overrides)` starts a further, independent app
instance on the same database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.server import create_app
from tests.e2e.helpers import GraphQL

OpenClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a new app instance whose lifespan runs while the client is open."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, seed_demo=False)


@pytest.fixture
def open_client(settings: Settings, engine: AsyncEngine) -> OpenClient:
    """`async with open_client(**settings_overrides) as http:` another app on the (migrated) database."""

    def open_(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return running_app(settings.model_copy(update=overrides) if overrides else settings)

    return open_


@pytest.fixture
async def client(open_client: OpenClient) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client() as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    """`await gql(query, variables=None)` -> the parsed JSON; `await gql.data(...)` -> data, no errors."""
    return GraphQL(client)
