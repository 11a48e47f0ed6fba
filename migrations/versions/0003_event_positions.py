"""Event positions: every outbox event gets a gap-free position in the order the relay
sequences it, the id a subscriber resumes after (`after`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("position", sa.BigInteger()))
    op.create_index("uq_outbox_position", "outbox", ["position"], unique=True)
    op.create_table(
        "event_positions",
        sa.Column("id", sa.Integer(), autoincrement=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_event_positions"),
    )
    # The one counter row: the last position handed out (events of before this revision have none).
    counter = sa.table("event_positions", sa.column("id", sa.Integer()), sa.column("last", sa.BigInteger()))
    op.bulk_insert(counter, [{"id": 1, "last": 0}])


def downgrade() -> None:
    op.drop_table("event_positions")
    op.drop_index("uq_outbox_position", "outbox")
    op.drop_column("outbox", "position")
