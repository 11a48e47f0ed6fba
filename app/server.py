"""The composition root: `create_app(settings)` wires everything; the lifespan owns
the engine and start-up work (migrating and seeding the embedded default)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from app.cache.memory_cache import MemoryCache
from app.cache.port import Cache
from app.cache.redis_cache import RedisCache
from app.config import Settings
from app.domain.calendar import LeagueCalendar
from app.events.runtime import EventRuntime
from app.gc_tuning import tuned_gc
from app.http import GraphQLEndpoint
from app.lean_lane import LeanApp, install_lean_lane, operation_counts
from app.loaders.cached import invalidator
from app.persisted_queries import PersistedQueries
from app.observability import REQUEST_ID_HEADER, Observability, RequestIdMiddleware
from app.repos import migrate
from app.repos import reads
from app.repos.engine import create_engine
from app.api import build_schema
from app.schema.subgraphs import Subgraph
from app.security.auth_endpoints import AuthEndpoints, no_sign_in_status
from app.security.authn import Authenticator
from app.security.hosts import HostGuard, host_rule
from app.security.ratelimit import create_rate_limiter
from app.services.demo import seed_demo
from app.services.deps import ServiceDeps
from app.ui import ui_routes

log = logging.getLogger("whistle")


def create_cache(settings: Settings) -> Cache:
    return RedisCache(settings.redis_url) if settings.redis_url else MemoryCache()


def create_app(settings: Settings, *, tracer_provider: Any = None) -> Starlette:
    """The application; `tracer_provider` (an OpenTelemetry TracerProvider) turns tracing on
    without OTEL_EXPORTER_OTLP_ENDPOINT, e.g. with an in-memory exporter in tests."""
    authenticator = Authenticator.from_settings(settings)  # refuses unsafe or incomplete auth settings
    engine = create_engine(
        settings.database_url, pool_size=settings.db_pool_size, statement_timeout_ms=settings.statement_timeout_ms
    )
    calendar = LeagueCalendar(settings.zone, settings.slot_length)
    events = EventRuntime(engine, calendar, settings)
    cache = create_cache(settings)
    # Persisted query texts in a cache of their own: unique texts from clients cannot evict directory entries.
    apq_cache = create_cache(settings) if settings.apq_ttl_seconds > 0 else None
    events.broker.add_listener(invalidator(cache))
    deps = ServiceDeps(engine, calendar, after_commit=events.relay.wake)
    redis_probe = Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1) if settings.redis_url else None
    observability = Observability(settings, engine, tracer_provider)
    rate_limiter = create_rate_limiter(settings)
    graphql = GraphQLEndpoint(
        build_schema(
            settings,
            observers=observability.observers,
            subgraph=Subgraph(settings.subgraph) if settings.subgraph else None,
        ),
        deps,
        settings,
        events.broker,
        cache,
        authenticator=authenticator,
        rate_limiter=rate_limiter,
        tracer=observability.tracer,
        persisted=PersistedQueries(apq_cache, settings.apq_ttl_seconds),
        # Production: no GraphiQL page, and queries only over POST (mutations never go over GET).
        graphql_ide=None if settings.is_production else "graphiql",
        allow_queries_via_get=not settings.is_production,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _warn_about_auth(settings)
        await _prepare_database(engine, deps, settings)
        await events.start()
        try:
            with tuned_gc(settings.gc_threshold, settings.gc_freeze):
                yield
        finally:
            await events.stop()
            await graphql.read_connections.close()  # before the engine is disposed
            await cache.close()
            if apq_cache is not None:
                await apq_cache.close()
            if rate_limiter is not None:
                await rate_limiter.close()
            observability.shutdown()
            if redis_probe is not None:
                await redis_probe.aclose()
            if authenticator.sessions is not None:
                await authenticator.sessions.store.close()
            await engine.dispose()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "operations": operation_counts(application, graphql)})

    async def readyz(request: Request) -> JSONResponse:
        checks = {"database": await _database_ready(engine)}
        if redis_probe is not None:
            checks["redis"] = await _redis_ready(redis_probe)
        # Redis is reported, not required: without it every instance still serves (events from
        # the outbox, reads from the database), and failing them all at once would be an outage.
        ready = checks["database"]
        return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503)

    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if authenticator.sessions is not None:  # WHISTLE_AUTH=oidc: /auth/login, /auth/callback, ...
        routes += AuthEndpoints(authenticator, authenticator.sessions).routes()
    else:
        routes.append(Route("/auth/status", no_sign_in_status))
    if not settings.subgraph:  # the web app needs the whole schema: a subgraph serves only part of it
        routes += ui_routes()
    if authenticator.local_keys is not None:
        jwks = authenticator.local_keys.jwks()

        async def jwks_json(request: Request) -> JSONResponse:
            return JSONResponse(jwks, headers={"Cache-Control": "public, max-age=300"})

        routes.append(Route("/.well-known/jwks.json", jwks_json))
    application = LeanApp(routes=routes, lifespan=lifespan, middleware=_middleware(settings))
    application.state.sessions = authenticator.sessions  # the sign-in sessions (WHISTLE_AUTH=oidc), else None
    install_lean_lane(application, graphql, settings, tracing=observability.tracer is not None)
    return application


def _middleware(settings: Settings) -> list[Middleware]:
    """Request ids on everything; only the allowed Host names (DNS rebinding, app.security.hosts);
    CORS for the configured origins only (none: no CORS headers)."""
    middleware = [Middleware(RequestIdMiddleware), Middleware(HostGuard, rule=host_rule(settings))]
    origins = [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]
    if origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", REQUEST_ID_HEADER],
                expose_headers=[REQUEST_ID_HEADER, "retry-after"],
                allow_credentials="*" not in origins,  # the access_token cookie, from listed origins only
                max_age=600,
            )
        )
    return middleware


def _warn_about_auth(settings: Settings) -> None:
    if settings.auth_mode == "dev":
        lines = [
            "WHISTLE_AUTH=dev: EVERY REQUEST WITHOUT A TOKEN ACTS AS ADMIN.",
            "For local development only: set WHISTLE_AUTH=jwt for anything others can reach.",
        ]
        if settings.host not in ("127.0.0.1", "localhost", "::1"):
            lines.append(f"AND WHISTLE_HOST={settings.host} IS NOT LOOPBACK: whoever reaches it is ADMIN.")
        banner = "!" * 78
        log.warning("\n".join([banner, *(f"!!  {line}" for line in lines), banner]))
    if settings.jwt_local_keys and settings.is_production:
        log.warning(
            "WHISTLE_JWT_LOCAL_KEYS is set in production: tokens minted by `whistle token` with the keys in %s are accepted",
            settings.jwt_local_keys,
        )


async def _prepare_database(engine: AsyncEngine, deps: ServiceDeps, settings: Settings) -> None:
    if settings.is_sqlite:
        await migrate.upgrade(engine)  # the embedded default migrates itself
    elif not await migrate.is_current(engine):
        raise RuntimeError("The database schema is not up to date: run `whistle migrate` first.")
    if settings.should_seed_demo and await _is_empty(engine) and await seed_demo(deps):
        log.info("loaded the demo data")


async def _is_empty(engine: AsyncEngine) -> bool:
    """Demo data goes only into a database nobody has put data in yet."""
    async with engine.connect() as conn:
        return not await reads.any_referee(conn)


async def _database_ready(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return await migrate.is_current(engine)
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        log.warning("readiness check failed", exc_info=True)
        return False


async def _redis_ready(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except (RedisError, OSError):
        log.warning("readiness check: Redis unreachable")
        return False


def app_from_environment() -> Starlette:
    """Entry point for uvicorn's --factory (and worker processes)."""
    return create_app(Settings())
