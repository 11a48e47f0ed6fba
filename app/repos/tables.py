"""The tables as SQLAlchemy Core metadata, for building queries.

The database schema itself comes from the Alembic migrations (migrations/); a test
checks that a migrated database matches this metadata.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    Uuid,
    text,
)
from asyncpg.pgproto.pgproto import UUID as NativeUUID
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on PostgreSQL (timestamptz) and SQLite (text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        utc = value.astimezone(timezone.utc)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class FastUuid(Uuid[UUID]):
    """SQLAlchemy's Uuid, read on SQLite as asyncpg's UUID class, which PostgreSQL's values
    already are: a subclass of uuid.UUID made from the stored hex about seven times faster,
    hashed and compared in C (a page of fixtures reads and looks up hundreds)."""

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _read_hex


def _read_hex(value: str | None) -> UUID | None:
    return None if value is None else NativeUUID(value)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# An autoincrementing big integer that SQLite also makes a rowid alias.
BigSerial = BigInteger().with_variant(Integer(), "sqlite")

referees = Table(
    "referees",
    metadata,
    Column("id", FastUuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("club", String(200), nullable=False),
    Column("version", Integer, nullable=False),
)

teams = Table(
    "teams",
    metadata,
    Column("id", FastUuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("club", String(200), nullable=False),
)

venues = Table(
    "venues",
    metadata,
    Column("id", FastUuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("street", String(200), nullable=False),
    Column("zip", String(20), nullable=False),
    Column("city", String(200), nullable=False),
    Column("telephone", String(50)),
    Column("email", String(254)),
)

fixtures = Table(
    "fixtures",
    metadata,
    Column("id", FastUuid, primary_key=True),
    Column("date", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("venue_id", FastUuid, ForeignKey("venues.id"), nullable=False, index=True),
    Column("team_home_id", FastUuid, ForeignKey("teams.id"), nullable=False, index=True),
    Column("team_away_id", FastUuid, ForeignKey("teams.id"), nullable=False, index=True),
    # Denormalised from the committed assignments so that the fixtures page reads
    # both referees without touching the assignments table.
    Column("first_referee_id", FastUuid, ForeignKey("referees.id")),
    Column("second_referee_id", FastUuid, ForeignKey("referees.id")),
    Column("version", Integer, nullable=False),
    CheckConstraint("status IN ('SCHEDULED', 'CANCELLED')", name="status"),
    CheckConstraint("team_home_id <> team_away_id", name="different_teams"),
    Index("ix_fixtures_date_id", "date", "id"),
)

availabilities = Table(
    "availabilities",
    metadata,
    Column("fixture_id", FastUuid, ForeignKey("fixtures.id", ondelete="CASCADE"), primary_key=True),
    Column("referee_id", FastUuid, ForeignKey("referees.id"), primary_key=True, index=True),
)

assignments = Table(
    "assignments",
    metadata,
    Column("fixture_id", FastUuid, ForeignKey("fixtures.id", ondelete="CASCADE"), primary_key=True),
    Column("referee_id", FastUuid, ForeignKey("referees.id"), primary_key=True, index=True),
    Column("role", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    CheckConstraint("role IN ('FIRST', 'SECOND')", name="role"),
    CheckConstraint("status IN ('STAGED', 'COMMITTED')", name="status"),
    # One committed referee per role per fixture.
    Index(
        "uq_assignments_committed_role",
        "fixture_id",
        "role",
        unique=True,
        postgresql_where=text("status = 'COMMITTED'"),
        sqlite_where=text("status = 'COMMITTED'"),
    ),
    Index(
        "ix_assignments_staged",
        "fixture_id",
        postgresql_where=text("status = 'STAGED'"),
        sqlite_where=text("status = 'STAGED'"),
    ),
)

availability_lock = Table(
    "availability_lock",
    metadata,
    Column("id", FastUuid, primary_key=True),
    Column("locked", Boolean, nullable=False),
    Column("changed_at", UTCDateTime),
    Column("version", Integer, nullable=False),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", FastUuid, primary_key=True),
    Column("referee_id", FastUuid, ForeignKey("referees.id"), nullable=False),
    Column("fixture_id", FastUuid, ForeignKey("fixtures.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("message", String(500), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("read", Boolean, nullable=False),
    Index("ix_notifications_referee_created", "referee_id", "created_at"),
)

# Domain events, written in the same transaction as the change they describe.
outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigSerial, primary_key=True, autoincrement=True),
    Column("id", FastUuid, nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("aggregate_type", String(64), nullable=False),
    Column("aggregate_id", FastUuid, nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime),
    # Gap-free, in the order the relay sequenced the events: the id subscribers resume after.
    Column("position", BigInteger),
    Index("uq_outbox_position", "position", unique=True),
    Index(
        "ix_outbox_unpublished",
        "seq",
        postgresql_where=text("published_at IS NULL"),
        sqlite_where=text("published_at IS NULL"),
    ),
)

# One row (id 1): the last event position handed out; locking it serializes the sequencing.
event_positions = Table(
    "event_positions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last", BigInteger, nullable=False),
)

# Events a consumer has applied, so a redelivered event has no second effect.
inbox = Table(
    "inbox",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", FastUuid, primary_key=True),
    Column("processed_at", UTCDateTime, nullable=False),
)
