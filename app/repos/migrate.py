"""Run the Alembic migrations programmatically (`whistle migrate`, embedded start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest revision."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), "head"))


async def is_current(engine: AsyncEngine) -> bool:
    """True when every migration has been applied."""

    def check(sync: Connection) -> bool:
        heads = set(ScriptDirectory.from_config(_config(sync)).get_heads())
        return set(MigrationContext.configure(sync).get_current_heads()) == heads

    async with engine.connect() as conn:
        return await conn.run_sync(check)
