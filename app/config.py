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
    model_config = SettingsConfigDict(env_prefix="WHISTLE_", frozen=True, populate_by_name=True)

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
    log_format: Literal["json", "text"] | None = Field(
        None, description="Log lines as JSON objects or as text (default: json in production, text otherwise)."
    )
    otel_endpoint: str | None = Field(
        None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector base URL (the standard OTEL_EXPORTER_OTLP_ENDPOINT); set: traces are exported.",
    )
    otel_field_spans: bool = Field(
        False, description="A span per resolved field too (costly; operation, SQL and DataLoader spans are always on)."
    )
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

    # --- performance (README "Performance settings"; measured in BENCHMARKS.md) -------------
    gc_threshold: int = Field(
        # 10,000 was as fast but let a worker's RSS settle above 200 MB (BENCHMARKS.md "Memory").
        2_000, ge=0, description="Gen-0 threshold of the cyclic garbage collector (0: Python's default, 700)."
    )
    document_cache_size: int = Field(
        1000, ge=0, description="Query texts whose parsed and validated document is kept (0: parse and validate every request)."
    )
    apq_ttl_seconds: float = Field(
        86_400, ge=0, description="How long a persisted query text (APQ) is kept; 0: APQ off (PERSISTED_QUERY_NOT_SUPPORTED)."
    )
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        "auto", description="`whistle serve`'s event loop (auto: uvloop when installed)."
    )
    http_parser: Literal["auto", "httptools", "h11"] = Field(
        "auto", description="`whistle serve`'s HTTP/1.1 implementation (auto: httptools when installed)."
    )
    gc_freeze: bool = Field(True, description="Freeze the objects alive after start-up out of the garbage collector's walks.")

    # --- security (auth, limits, production defaults) ---------------------------------
    auth: Literal["dev", "jwt", "oidc"] | None = Field(
        None, description="dev: every request is ADMIN unless it carries a token; jwt: tokens required; "
        "oidc: sign-in through an OpenID Connect provider, plus bearer tokens (default: dev, except jwt when "
        "WHISTLE_ENV=production)."
    )
    jwt_jwks_url: str | None = Field(None, description="JWKS URL of the identity provider (e.g. a Keycloak realm's certs).")
    jwt_issuer: str | None = Field(None, description="Required `iss` of tokens.")
    jwt_audience: str | None = Field(None, description="Required `aud` of tokens.")
    jwt_algorithms: str = Field("RS256,ES256", description="Accepted signature algorithms (asymmetric only).")
    jwt_roles_claim: str = Field("realm_access.roles", description="Dotted path of the roles list in a token.")
    jwt_referee_claim: str = Field("referee_id", description="Dotted path of the referee id in a REFEREE token.")
    jwt_leeway_seconds: int = Field(30, ge=0, le=30, description="Clock skew tolerated on exp/nbf/iat.")
    jwt_local_keys: str | None = Field(
        None, description="Directory of a local key pair (created when missing) for `whistle token` and /.well-known/jwks.json."
    )
    # --- OpenID Connect sign-in (WHISTLE_AUTH=oidc; README "Sign in through the identity provider") ---
    oidc_issuer: str | None = Field(None, description="Issuer URL of the OpenID Provider (discovered at /.well-known/openid-configuration).")
    oidc_client_id: str | None = Field(None, description="Whistle's client id at the provider (a confidential client).")
    oidc_client_secret: str | None = Field(None, description="Whistle's client secret at the provider.")
    oidc_redirect_url: str | None = Field(
        None, description="The callback URL registered at the provider (default: this server's /auth/callback)."
    )
    oidc_scopes: str = Field("openid profile email", description="Scopes asked for (add offline_access where refresh tokens need it).")
    oidc_client_auth: Literal["client_secret_basic", "client_secret_post"] = Field(
        "client_secret_basic", description="How Whistle authenticates at the token endpoint."
    )
    session_idle_seconds: int = Field(1800, gt=0, description="A session unused this long ends.")
    session_max_seconds: int = Field(43_200, gt=0, description="A session ends this long after sign-in, used or not.")
    cors_origins: str = Field("", description="Comma-separated origins allowed for CORS and cookie-authenticated mutations.")
    allowed_hosts: str = Field(
        "", description="Comma-separated Host names served (`*.example.org`, `*`); empty: loopback names in dev mode, any in jwt mode."
    )
    insecure_dev_bind: bool = Field(
        False, description="Let dev mode (a request without a token is ADMIN) listen on a non-loopback address."
    )
    max_depth: int = Field(10, gt=0, description="Deepest selection nesting an operation may have.")
    max_aliases: int = Field(15, gt=0, description="Aliases per operation, counted through fragments.")
    max_tokens: int = Field(1000, gt=0, description="Lexical tokens per operation.")
    max_query_length: int = Field(15_000, gt=0, description="Characters of query text.")
    max_body_bytes: int = Field(1_000_000, gt=0, description="Bytes of an HTTP request body.")
    max_directives: int = Field(50, gt=0, description="Directives per operation.")
    max_fields: int = Field(200, gt=0, description="Selected fields per operation, counted through fragments.")
    max_cost: int = Field(5000, gt=0, description="Estimated cost: list fields multiply by their `first` or a default size.")
    execution_timeout_seconds: float = Field(10, gt=0, description="Longest an operation may run.")
    statement_timeout_ms: int = Field(5000, gt=0, description="PostgreSQL statement_timeout.")
    subgraph: Literal["directory", "fixtures", "assignments"] | None = Field(
        None, description="Serve one bounded context as a federation subgraph (unset: the whole schema)."
    )
    compiled_execution: bool = Field(
        True, description="Run queries as compiled plans (app.execution); off: graphql-core executes every operation."
    )
    lean_lane: bool = Field(
        True, description="Answer requests for compiled queries the short way (app.lean_lane); off: every request takes Strawberry's view."
    )
    rate_limit_points: int = Field(
        600, ge=0, description="Points per identity per minute (query 1, mutation 5); 0 turns rate limiting off."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {value!r}") from error
        return value

    @property
    def auth_mode(self) -> str:
        return self.auth or ("jwt" if self.env == "production" else "dev")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

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
