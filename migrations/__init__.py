"""Alembic migrations: the one source of the database schema, for both backends."""
