"""`whistle serve | migrate | seed | relay | schema | token`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import logging.config
import os
import sys
from collections.abc import Sequence

from app.config import Settings
from app.observability import logging_config

SUBGRAPHS = ("directory", "fixtures", "assignments")  # app.schema.subgraphs.Subgraph


def _serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    if args.subgraph:
        os.environ["WHISTLE_SUBGRAPH"] = args.subgraph  # worker processes read their settings from the environment
        settings = settings.model_copy(update={"subgraph": args.subgraph})
    if settings.subgraph and not settings.redis_url:
        # Each subgraph process relays outbox events; only Redis brings them to the subscribers of the others.
        raise SystemExit("--subgraph needs WHISTLE_REDIS_URL: subgraph processes share events through Redis")
    if args.workers > 1 and not settings.redis_url:
        # Workers share events and cache invalidations only through Redis.
        raise SystemExit("--workers > 1 needs WHISTLE_REDIS_URL: workers share events and the cache through Redis")
    from app.security.authn import AuthConfigError, check_auth_settings

    host = args.host or settings.host
    port = args.port or settings.port
    try:
        # Refused here, with a clear message instead of a traceback per worker; --host included.
        check_auth_settings(settings.model_copy(update={"host": host}))
    except AuthConfigError as error:
        raise SystemExit(f"whistle: {error}") from None
    # Worker processes build their settings from the environment: pass the overrides on.
    os.environ["WHISTLE_HOST"], os.environ["WHISTLE_PORT"] = host, str(port)
    if settings.subgraph:
        print(f"Whistle subgraph {settings.subgraph}: http://{host}:{port}/graphql", flush=True)
    elif settings.is_production:
        print(f"Whistle: web app at http://{host}:{port}/, GraphQL at http://{host}:{port}/graphql "
              "(production: no GraphiQL, no introspection)", flush=True)
    else:
        print(f"Whistle: web app at http://{host}:{port}/, GraphiQL at http://{host}:{port}/graphql", flush=True)
    uvicorn.run(
        "app.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        loop=settings.event_loop,
        http=settings.http_parser,
        log_level=settings.log_level.lower(),
        log_config=logging_config(settings),  # every worker logs like the CLI (JSON in production)
        access_log=False,  # whistle.access logs each GraphQL operation instead
        # SIGTERM: stop accepting, let in-flight operations (bounded by the execution timeout) finish.
        timeout_graceful_shutdown=settings.execution_timeout_seconds + 5,
    )


async def _migrate(settings: Settings) -> None:
    from app.repos import migrate
    from app.repos.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    print("database schema is up to date")


async def _check_migrations(settings: Settings) -> None:
    """Exit 0 when the schema is current, 1 when it is not or cannot be read: a Kubernetes
    init container polls this until the migration Job has run (deploy/k8s)."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.repos import migrate
    from app.repos.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        current = await migrate.is_current(engine)
    except (OSError, SQLAlchemyError) as error:
        raise SystemExit(f"whistle migrate --check: cannot read the database schema ({type(error).__name__}: {error})") from None
    finally:
        await engine.dispose()
    if not current:
        raise SystemExit("whistle migrate --check: migrations are pending: run `whistle migrate`")
    print("database schema is up to date")


async def _seed(settings: Settings) -> None:
    from app.domain.calendar import LeagueCalendar
    from app.repos import migrate
    from app.repos.engine import create_engine
    from app.services.demo import seed_demo
    from app.services.deps import ServiceDeps

    engine = create_engine(settings.database_url)
    try:
        if settings.is_sqlite:
            await migrate.upgrade(engine)
        loaded = await seed_demo(ServiceDeps(engine, LeagueCalendar(settings.zone, settings.slot_length)))
    finally:
        await engine.dispose()
    print("demo data loaded" if loaded else "demo data already present: nothing to do")


async def _relay(settings: Settings) -> None:
    """Run the outbox relay alone (e.g. as its own process next to the servers)."""
    from datetime import timedelta

    from app.events.relay import OutboxRelay
    from app.events.runtime import create_bus
    from app.repos.engine import create_engine

    if not settings.redis_url:
        raise SystemExit("whistle relay publishes to Redis: set WHISTLE_REDIS_URL (without it each server relays its own events)")
    engine, bus = create_engine(settings.database_url), create_bus(settings)
    relay = OutboxRelay(engine, bus, retention=timedelta(hours=settings.outbox_retention_hours))
    print("outbox relay running; Ctrl+C stops it", flush=True)
    try:
        await relay.run()
    finally:
        await bus.close()
        await engine.dispose()


def _token(settings: Settings, args: argparse.Namespace) -> None:
    """Print a token signed with the local key pair (WHISTLE_JWT_LOCAL_KEYS), for trying the jwt mode."""
    from datetime import timedelta
    from uuid import UUID

    from app.security.authn import AuthConfigError, mint_local_token
    from app.security.identity import Role

    role = Role(args.role)
    referee_id = None
    if args.referee_id is not None:
        try:
            referee_id = UUID(args.referee_id)
        except ValueError:
            raise SystemExit(f"whistle token: --referee-id {args.referee_id!r} is not a UUID") from None
    if role is Role.REFEREE and referee_id is None:
        raise SystemExit("whistle token: a REFEREE token needs --referee-id ID (the referee it is bound to)")
    if args.ttl <= 0:
        raise SystemExit("whistle token: --ttl must be positive")
    try:
        print(mint_local_token(settings, role, referee_id, timedelta(seconds=args.ttl)))
    except AuthConfigError as error:
        raise SystemExit(f"whistle token: {error}") from None


def _schema(args: argparse.Namespace) -> None:
    from app.api import build_schema
    from app.schema.subgraphs import Subgraph

    print(build_schema(subgraph=Subgraph(args.subgraph) if args.subgraph else None).as_str())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="whistle", description="GraphQL API for volleyball referee management.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the GraphQL API (GraphiQL at /graphql) and the web app (at /)")
    serve.add_argument("--host", help="bind address (default WHISTLE_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default WHISTLE_PORT, 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--subgraph", choices=SUBGRAPHS, help="serve one bounded context as a federation subgraph")
    migrate = commands.add_parser("migrate", help="apply the database migrations")
    migrate.add_argument("--check", action="store_true", help="apply nothing: exit 1 unless the schema is up to date")
    commands.add_parser("seed", help="load the demo data (idempotent)")
    commands.add_parser("relay", help="run the outbox relay alone (publishes committed events)")
    schema = commands.add_parser("schema", help="print the GraphQL SDL")
    schema.add_argument("--subgraph", choices=SUBGRAPHS, help="print one bounded context's subgraph SDL")
    token = commands.add_parser("token", help="print an access token signed with the local keys (WHISTLE_JWT_LOCAL_KEYS)")
    token.add_argument("--role", required=True, choices=["ADMIN", "REFEREE"], help="the token's role")
    token.add_argument("--referee-id", help="the referee a REFEREE token is bound to (a UUID)")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds the token is valid (default 28800, 8 h)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "schema":
        _schema(args)
        return
    settings = Settings()
    logging.config.dictConfig(logging_config(settings))
    if args.command == "serve":
        _serve(settings, args)
    elif args.command == "migrate":
        asyncio.run(_check_migrations(settings) if args.check else _migrate(settings))
    elif args.command == "token":
        _token(settings, args)
    elif args.command == "seed":
        asyncio.run(_seed(settings))
    elif args.command == "relay":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_relay(settings))


if __name__ == "__main__":
    main(sys.argv[1:])
