"""Alembic environment: runs on the connection handed in by app.repos.migrate."""

from __future__ import annotations

from alembic import context

from app.repos.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("Run migrations with `whistle migrate`; it supplies the database connection.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
