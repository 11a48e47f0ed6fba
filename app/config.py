"""One Settings object, read from WHISTLE_* environment variables.

This is the only module that reads the environment; everything else receives a
`Settings` instance from the composition root (`app.server.create_app`).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMBEDDED_DATABASE_URL = "sqlite+aiosqlite:///./whistle.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WHISTLE_", frozen=True)

    database_url: str = Field(
        EMBEDDED_DATABASE_URL,
        description="SQLAlchemy URL: sqlite+aiosqlite:///FILE (embedded) or postgresql+asyncpg://...",
    )
    timezone: str = Field("UTC", description="IANA time zone of the league; decides what 'same day' means.")
    match_duration: int = Field(150, gt=0, le=24 * 60, description="Minutes a fixture occupies its slot.")
    host: str = Field("127.0.0.1", description="Address `whistle serve` binds to.")
    port: int = Field(8000, gt=0, lt=65536, description="Port `whistle serve` listens on.")
    seed_demo: bool | None = Field(
        None, description="Load the demo data on start into an empty database (default: on for SQLite only)."
    )
    env: Literal["development", "production"] = Field("development", description="Deployment environment.")
    log_level: str = Field("INFO", description="Root log level.")
    cursor_secret: str | None = Field(
        None, description="Key that signs pagination cursors (default: derived from the database URL)."
    )
    db_pool_size: int = Field(10, gt=0, description="Database connections per worker (PostgreSQL).")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {value!r}") from error
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def should_seed_demo(self) -> bool:
        return self.is_sqlite if self.seed_demo is None else self.seed_demo

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def slot_length(self) -> timedelta:
        return timedelta(minutes=self.match_duration)
