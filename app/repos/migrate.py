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
    """True when every migration of this code has been applied: the database is at this
    code's head, or at a revision this code does not know. That one is newer: during a
    rolling update the next release's migration runs while this release still serves, and
    migrations are additive (README, "Deploying to Kubernetes"), so this code keeps working."""

    def check(sync: Connection) -> bool:
        script = ScriptDirectory.from_config(_config(sync))
        applied = set(MigrationContext.configure(sync).get_current_heads())
        known = {revision.revision for revision in script.walk_revisions()}
        return applied == set(script.get_heads()) or bool(applied - known)

    async with engine.connect() as conn:
        return await conn.run_sync(check)
