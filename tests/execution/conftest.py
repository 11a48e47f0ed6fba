"""The demo league, seeded once per session on each backend (an SQLite file, a PostgreSQL
database), and the two schemas the differential tests compare: compiled execution on,
and off (graphql-core only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.api import build_schema
from app.repos.engine import create_engine
from app.repos.migrate import upgrade
from app.services.demo import seed_demo
from app.services.deps import ServiceDeps
from tests.conftest import _postgres_database
from tests.execution.harness import CALENDAR, league_of
from tests.federation.corpus import League


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        assert await seed_demo(ServiceDeps(engine, CALENDAR))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def league_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo league on each backend (a throw-away PostgreSQL database, as tests/conftest.py makes)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('compiled') / 'league.db'}"
        asyncio.run(_seed(url))
        yield url
        return
    with asyncio.Runner() as runner:
        database = _postgres_database()
        url = runner.run(database.__aenter__())
        try:
            runner.run(_seed(url))
            yield url
        finally:
            runner.run(database.__aexit__(None, None, None))


@pytest.fixture
async def league_engine(league_url: str) -> AsyncIterator[AsyncEngine]:
    """The seeded league (read only by these tests)."""
    engine = create_engine(league_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def compiled_schema() -> Any:
    return build_schema(compiled=True)


@pytest.fixture(scope="session")
def interpreted_schema() -> Any:
    return build_schema(compiled=False)


@pytest.fixture
async def league(league_engine: AsyncEngine, interpreted_schema: Any) -> League:
    """Ids of the demo league (the federation corpus's own choice of them)."""
    return await league_of(interpreted_schema, league_engine)
