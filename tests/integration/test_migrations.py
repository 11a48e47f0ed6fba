"""The Alembic migrations are the one source of the schema; they must build exactly
the tables the repositories query (app/repos/tables.py)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.availability_lock import LOCK_ID
from app.repos.engine import create_engine
from app.repos.migrate import is_current, upgrade
from app.repos.tables import availability_lock, metadata


def _differences(sync: Connection) -> list[object]:
    context = MigrationContext.configure(sync, opts={"compare_type": True, "compare_server_default": True})
    return compare_metadata(context, metadata)


async def test_migrated_schema_matches_the_table_metadata(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


async def test_database_is_current_after_upgrade(engine: AsyncEngine) -> None:
    assert await is_current(engine)


async def test_empty_database_is_not_current(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert not await is_current(engine)
    finally:
        await engine.dispose()


async def _stamp(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision})


async def test_a_database_behind_this_code_is_not_current(engine: AsyncEngine) -> None:
    await _stamp(engine, "0001")

    assert not await is_current(engine)


async def test_a_database_migrated_by_a_newer_release_is_current(engine: AsyncEngine) -> None:
    """During a rolling update the next release migrates while this one still serves:
    its pods must stay ready (and start) on a revision they do not know."""
    await _stamp(engine, "9999_from_a_newer_release")

    assert await is_current(engine)


async def test_upgrading_twice_is_harmless(engine: AsyncEngine) -> None:
    await upgrade(engine)

    assert await is_current(engine)
    async with engine.connect() as conn:
        differences = await conn.run_sync(_differences)
        lock_rows = (await conn.execute(select(availability_lock))).all()
    assert differences == []
    assert [(row.id, row.locked, row.changed_at, row.version) for row in lock_rows] == [(LOCK_ID, False, None, 0)]


async def test_upgrade_seeds_exactly_one_unlocked_availability_lock(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        count = await conn.scalar(select(func.count()).select_from(availability_lock))
    assert count == 1
