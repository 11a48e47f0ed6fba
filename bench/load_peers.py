"""Copy the peers' dataset (schema `peers` of the database `peers`, ../shared/peers/seed_db.py)
into a Whistle database, same ids, through Whistle's own migrations and tables.

    .venv/bin/python bench/load_peers.py postgresql+asyncpg://postgres@127.0.0.1:5432/whistle_bench_x
    .venv/bin/python bench/load_peers.py sqlite+aiosqlite:////tmp/whistle_bench.db

The target database is created when missing (PostgreSQL) and must be empty of Whistle rows.
The peers' enums are lower case, Whistle's upper case; the harness compares them
case-insensitively. Every row gets version 1 (as if created once).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import Table, insert
from sqlalchemy.engine import make_url

from app.repos import tables
from app.repos.engine import create_engine
from app.repos.migrate import upgrade

PEERS_DSN = os.environ.get("PEERS_DSN", "postgresql://postgres@127.0.0.1:5432/peers")

# (Whistle table, SELECT over the peers schema giving that table's columns by name)
COPIES: Sequence[tuple[Table, str]] = (
    (tables.referees, "SELECT referee_id AS id, name, club, 1 AS version FROM peers.referees"),
    (tables.teams, "SELECT team_id AS id, name, club FROM peers.teams"),
    (tables.venues, "SELECT venue_id AS id, name, street, zip, city, telephone, email FROM peers.venues"),
    (
        tables.fixtures,
        "SELECT fixture_id AS id, date, upper(status::text) AS status, venue_id, team_home_id, team_away_id,"
        " first_referee_id, second_referee_id, 1 AS version FROM peers.fixtures",
    ),
    (tables.availabilities, "SELECT fixture_id, referee_id FROM peers.availabilities"),
    (
        tables.assignments,
        "SELECT fixture_id, referee_id, upper(referee_role::text) AS role, upper(status::text) AS status"
        " FROM peers.assignments",
    ),
)


async def create_database(url: str) -> None:
    """CREATE DATABASE for a PostgreSQL URL whose database does not exist yet."""
    target = make_url(url)
    if not target.drivername.startswith("postgresql"):
        return
    admin_dsn = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database):
            await admin.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await admin.close()


async def read_peers(dsn: str = PEERS_DSN) -> list[tuple[Table, list[dict[str, Any]]]]:
    source = await asyncpg.connect(dsn)
    try:
        return [(table, [dict(row) for row in await source.fetch(query)]) for table, query in COPIES]
    finally:
        await source.close()


async def load(url: str, peers_dsn: str = PEERS_DSN) -> dict[str, int]:
    """Migrate `url` and copy every peers row into it in one transaction; rows per table."""
    await create_database(url)
    engine = create_engine(url)
    try:
        await upgrade(engine)
        data = await read_peers(peers_dsn)
        async with engine.begin() as conn:
            for table, rows in data:
                await conn.execute(insert(table), rows)
        return {table.name: len(rows) for table, rows in data}
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="SQLAlchemy URL of the Whistle database to fill")
    parser.add_argument("--peers-dsn", default=PEERS_DSN, help="the peers database (default: PEERS_DSN or local)")
    args = parser.parse_args()
    counts = asyncio.run(load(args.url, args.peers_dsn))
    print(", ".join(f"{name} {n}" for name, n in counts.items()))


if __name__ == "__main__":
    main()
