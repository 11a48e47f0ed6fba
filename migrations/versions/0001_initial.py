"""The initial schema: directory, fixtures, availabilities, assignments, lock,
notifications and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

LOCK_ID = uuid.UUID("00000000-0000-0000-0000-00000000a10c")
UTC_DATETIME = sa.DateTime(timezone=True)
BIG_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "referees",
        sa.Column("id", sa.Uuid()),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("club", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_referees"),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Uuid()),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("club", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
    )
    op.create_table(
        "venues",
        sa.Column("id", sa.Uuid()),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("street", sa.String(200), nullable=False),
        sa.Column("zip", sa.String(20), nullable=False),
        sa.Column("city", sa.String(200), nullable=False),
        sa.Column("telephone", sa.String(50)),
        sa.Column("email", sa.String(254)),
        sa.PrimaryKeyConstraint("id", name="pk_venues"),
    )
    op.create_table(
        "fixtures",
        sa.Column("id", sa.Uuid()),
        sa.Column("date", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("venue_id", sa.Uuid(), nullable=False),
        sa.Column("team_home_id", sa.Uuid(), nullable=False),
        sa.Column("team_away_id", sa.Uuid(), nullable=False),
        sa.Column("first_referee_id", sa.Uuid()),
        sa.Column("second_referee_id", sa.Uuid()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fixtures"),
        sa.ForeignKeyConstraint(["venue_id"], ["venues.id"], name="fk_fixtures_venue_id_venues"),
        sa.ForeignKeyConstraint(["team_home_id"], ["teams.id"], name="fk_fixtures_team_home_id_teams"),
        sa.ForeignKeyConstraint(["team_away_id"], ["teams.id"], name="fk_fixtures_team_away_id_teams"),
        sa.ForeignKeyConstraint(["first_referee_id"], ["referees.id"], name="fk_fixtures_first_referee_id_referees"),
        sa.ForeignKeyConstraint(
            ["second_referee_id"], ["referees.id"], name="fk_fixtures_second_referee_id_referees"
        ),
        sa.CheckConstraint("status IN ('SCHEDULED', 'CANCELLED')", name="ck_fixtures_status"),
        sa.CheckConstraint("team_home_id <> team_away_id", name="ck_fixtures_different_teams"),
    )
    op.create_index("ix_fixtures_date_id", "fixtures", ["date", "id"])
    op.create_index("ix_fixtures_venue_id", "fixtures", ["venue_id"])
    op.create_index("ix_fixtures_team_home_id", "fixtures", ["team_home_id"])
    op.create_index("ix_fixtures_team_away_id", "fixtures", ["team_away_id"])

    op.create_table(
        "availabilities",
        sa.Column("fixture_id", sa.Uuid()),
        sa.Column("referee_id", sa.Uuid()),
        sa.PrimaryKeyConstraint("fixture_id", "referee_id", name="pk_availabilities"),
        sa.ForeignKeyConstraint(
            ["fixture_id"], ["fixtures.id"], name="fk_availabilities_fixture_id_fixtures", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["referee_id"], ["referees.id"], name="fk_availabilities_referee_id_referees"),
    )
    op.create_index("ix_availabilities_referee_id", "availabilities", ["referee_id"])

    op.create_table(
        "assignments",
        sa.Column("fixture_id", sa.Uuid()),
        sa.Column("referee_id", sa.Uuid()),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("fixture_id", "referee_id", name="pk_assignments"),
        sa.ForeignKeyConstraint(
            ["fixture_id"], ["fixtures.id"], name="fk_assignments_fixture_id_fixtures", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["referee_id"], ["referees.id"], name="fk_assignments_referee_id_referees"),
        sa.CheckConstraint("role IN ('FIRST', 'SECOND')", name="ck_assignments_role"),
        sa.CheckConstraint("status IN ('STAGED', 'COMMITTED')", name="ck_assignments_status"),
    )
    op.create_index("ix_assignments_referee_id", "assignments", ["referee_id"])
    op.create_index(
        "uq_assignments_committed_role",
        "assignments",
        ["fixture_id", "role"],
        unique=True,
        postgresql_where=sa.text("status = 'COMMITTED'"),
        sqlite_where=sa.text("status = 'COMMITTED'"),
    )
    op.create_index(
        "ix_assignments_staged",
        "assignments",
        ["fixture_id"],
        postgresql_where=sa.text("status = 'STAGED'"),
        sqlite_where=sa.text("status = 'STAGED'"),
    )

    op.create_table(
        "availability_lock",
        sa.Column("id", sa.Uuid()),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("changed_at", UTC_DATETIME),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_availability_lock"),
    )
    # The one global lock row, unlocked (its id is app.domain.availability_lock.LOCK_ID).
    lock = sa.table(
        "availability_lock",
        sa.column("id", sa.Uuid()),
        sa.column("locked", sa.Boolean()),
        sa.column("version", sa.Integer()),
    )
    op.bulk_insert(lock, [{"id": LOCK_ID, "locked": False, "version": 0}])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid()),
        sa.Column("referee_id", sa.Uuid(), nullable=False),
        sa.Column("fixture_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.String(500), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.ForeignKeyConstraint(["referee_id"], ["referees.id"], name="fk_notifications_referee_id_referees"),
        sa.ForeignKeyConstraint(
            ["fixture_id"], ["fixtures.id"], name="fk_notifications_fixture_id_fixtures", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_notifications_referee_created", "notifications", ["referee_id", "created_at"])

    op.create_table(
        "outbox",
        sa.Column("seq", BIG_SERIAL, autoincrement=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("aggregate_type", sa.String(64), nullable=False),
        sa.Column("aggregate_id", sa.Uuid(), nullable=False),
        sa.Column("aggregate_version", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("published_at", UTC_DATETIME),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("id", name="uq_outbox_id"),
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["seq"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    for table in (
        "outbox",
        "notifications",
        "availability_lock",
        "assignments",
        "availabilities",
        "fixtures",
        "venues",
        "teams",
        "referees",
    ):
        op.drop_table(table)
