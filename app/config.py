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
    redis_url: str | None = Field(
        None, description="Redis for the event bus (Streams) and the cache; unset: in-process bus and cache."
    )
    outbox_retention_hours: float = Field(168, gt=0, description="Hours published outbox rows are kept.")
    subscriber_queue_size: int = Field(
        256, gt=0, description="Events a subscriber may fall behind before its subscription is closed."
    )
    consumer_max_deliveries: int = Field(
        5, gt=0, description="Attempts at an event before it goes to the dead-letter stream."
    )
    consumer_retry_ms: int = Field(
        5000, gt=0, description="Milliseconds before a failed or abandoned event is delivered again."
    )
    cache_ttl_seconds: float = Field(300, gt=0, description="Longest a cached referee, team or venue is served.")
    instance_name: str | None = Field(
        None, description="This instance's consumer name in Redis consumer groups (default: host name and pid)."
    )
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
