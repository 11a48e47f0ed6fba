"""Who is calling: HTTP requests and WebSocket connections -> Identity.

Modes (WHISTLE_AUTH):
- `dev`: a request without a token acts as ADMIN; a token, when one is sent, is still
  verified and used (so REFEREE tokens can be tried). Refused with WHISTLE_ENV=production.
- `jwt`: a token is required: `Authorization: Bearer <token>` or the HTTP-only
  `access_token` cookie (the header wins when both are sent).
- `oidc`: people sign in through the OpenID Provider (app.security.sessions) and send the
  `whistle_session` cookie; API clients keep sending bearer tokens (the header wins).

CSRF: a browser sends the cookie along with cross-site requests, so a mutation
authenticated by the cookie must come with an `Origin` that is in WHISTLE_CORS_ORIGINS
or is the server's own origin; otherwise it is FORBIDDEN / CSRF_ORIGIN. The same holds
for the implicit ADMIN of dev mode when a browser (which always sends `Origin` on a
POST) calls from a foreign page. Queries are not state-changing and stay allowed (the
page cannot read a cross-origin answer without CORS). A WebSocket is not bound by CORS at
all (the page reads whatever the socket sends), so a socket authenticated by the cookie or
by dev mode's implicit ADMIN is refused (4403) on the same terms. `*` in
WHISTLE_CORS_ORIGINS lets any page read with a token it holds, never with ambient credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from starlette.requests import HTTPConnection

from app.config import Settings
from app.domain.errors import DomainError, Forbidden, Unauthenticated
from app.security.hosts import is_loopback_address
from app.security.identity import DEV_ADMIN, Identity, Role
from app.security.local_keys import DEFAULT_TTL, LOCAL_AUDIENCE, LOCAL_ISSUER, LocalKeys, token_claims
from app.security.oidc import DiscoveredJwks, OidcClient
from app.security.session_store import create_session_store
from app.security.sessions import Sessions
from app.security.tokens import ASYMMETRIC_ALGORITHMS, AnyOf, KeySource, RemoteJwks, StaticKeys, TokenVerifier

log = logging.getLogger("whistle.auth")

COOKIE_NAME = "access_token"


class AuthConfigError(RuntimeError):
    """The auth settings cannot work (or would be unsafe): the server refuses to start."""


def accepted_algorithms(settings: Settings) -> tuple[str, ...]:
    names = tuple(a.strip() for a in settings.jwt_algorithms.split(",") if a.strip())
    refused = [a for a in names if a not in ASYMMETRIC_ALGORITHMS]
    if refused or not names:
        raise AuthConfigError(
            f"WHISTLE_JWT_ALGORITHMS={settings.jwt_algorithms!r}: only asymmetric algorithms "
            f"({', '.join(ASYMMETRIC_ALGORITHMS)}) may be accepted; `none` and HS* never are."
        )
    return names


def token_issuer(settings: Settings) -> str:
    return settings.jwt_issuer or settings.oidc_issuer or LOCAL_ISSUER


def token_audience(settings: Settings) -> str:
    return settings.jwt_audience or settings.oidc_client_id or LOCAL_AUDIENCE


def check_auth_settings(settings: Settings) -> None:
    """Raise AuthConfigError, with what to do, when the auth settings cannot be served."""
    if settings.auth_mode == "dev" and settings.is_production:
        raise AuthConfigError(
            "WHISTLE_AUTH=dev is refused with WHISTLE_ENV=production: every request would act as ADMIN. "
            "Use WHISTLE_AUTH=jwt with WHISTLE_JWT_JWKS_URL, WHISTLE_JWT_ISSUER and WHISTLE_JWT_AUDIENCE."
        )
    if settings.auth_mode == "dev" and not is_loopback_address(settings.host) and not settings.insecure_dev_bind:
        raise AuthConfigError(
            f"WHISTLE_AUTH=dev is refused on {settings.host}: whoever reaches that address would act as ADMIN. "
            "Use WHISTLE_AUTH=jwt (WHISTLE_JWT_LOCAL_KEYS=DIR and `whistle token` need no identity provider), "
            "bind to 127.0.0.1, or, on a network only you can reach, set WHISTLE_INSECURE_DEV_BIND=1 "
            "(and WHISTLE_ALLOWED_HOSTS to the names you use)."
        )
    accepted_algorithms(settings)
    if settings.jwt_jwks_url and not (settings.jwt_issuer and settings.jwt_audience):
        raise AuthConfigError(
            "WHISTLE_JWT_JWKS_URL needs WHISTLE_JWT_ISSUER and WHISTLE_JWT_AUDIENCE too: "
            "tokens are only accepted from a known issuer for this audience."
        )
    if settings.auth_mode == "oidc":
        missing = [
            f"WHISTLE_OIDC_{name.upper()}"
            for name in ("issuer", "client_id", "client_secret")
            if not getattr(settings, f"oidc_{name}")
        ]
        if missing:
            raise AuthConfigError(
                f"WHISTLE_AUTH=oidc needs {', '.join(missing)}: the OpenID Provider's issuer URL and "
                "Whistle's confidential client there."
            )
    if settings.auth_mode == "jwt" and not settings.jwt_jwks_url and not settings.jwt_local_keys:
        raise AuthConfigError(
            "WHISTLE_AUTH=jwt needs WHISTLE_JWT_JWKS_URL, WHISTLE_JWT_ISSUER and WHISTLE_JWT_AUDIENCE "
            "(e.g. a Keycloak realm's .../protocol/openid-connect/certs), or WHISTLE_JWT_LOCAL_KEYS=DIR "
            "to try it with whistle's own key pair and `whistle token`."
        )


def load_local_keys(settings: Settings) -> LocalKeys | None:
    return LocalKeys.load_or_create(settings.jwt_local_keys) if settings.jwt_local_keys else None


def build_verifier(
    settings: Settings, local_keys: LocalKeys | None, issuer_keys: KeySource | None = None
) -> TokenVerifier | None:
    """The token verifier of these settings; None when there is no key to verify with (dev only).
    `issuer_keys`: the OpenID Provider's JWKS (WHISTLE_AUTH=oidc)."""
    sources: list[KeySource] = []
    if local_keys is not None:
        sources.append(StaticKeys(local_keys.jwks()))
    if settings.jwt_jwks_url:
        sources.append(RemoteJwks(settings.jwt_jwks_url))
    elif issuer_keys is not None:
        sources.append(issuer_keys)
    if not sources:
        return None
    return TokenVerifier(
        sources[0] if len(sources) == 1 else AnyOf(sources),
        issuer=token_issuer(settings),
        audience=token_audience(settings),
        algorithms=accepted_algorithms(settings),
        leeway_seconds=settings.jwt_leeway_seconds,
        roles_claim=settings.jwt_roles_claim,
        referee_claim=settings.jwt_referee_claim,
    )


def mint_local_token(
    settings: Settings, role: Role, referee_id: UUID | None = None, ttl: timedelta = DEFAULT_TTL
) -> str:
    """A token signed with the local key pair, as this server's settings verify it."""
    keys = load_local_keys(settings)
    if keys is None:
        raise AuthConfigError("minting a token needs WHISTLE_JWT_LOCAL_KEYS=DIR (the local key pair's folder)")
    return keys.mint(
        token_claims(
            role=role,
            referee_id=referee_id,
            issuer=token_issuer(settings),
            audience=token_audience(settings),
            roles_claim=settings.jwt_roles_claim,
            referee_claim=settings.jwt_referee_claim,
            ttl=ttl,
        )
    )


@dataclass(frozen=True)
class Authentication:
    """The outcome for one HTTP request: an identity (None: anonymous), or why there is none;
    and, when its mutations would be cross-site request forgery, the error to refuse them with."""

    identity: Identity | None
    error: DomainError | None = None
    csrf_error: Forbidden | None = None


def _bearer(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("TOKEN_INVALID", "Send the token as `Authorization: Bearer <token>`.")
    return token.strip()


def _ws_token(params: Mapping[str, Any] | None) -> str | None:
    """The token of a connection_init payload: {"token": "..."} or {"authorization": "Bearer ..."}."""
    if not params:
        return None
    token = params.get("token")
    if isinstance(token, str) and token:
        return token
    for key in ("authorization", "Authorization"):
        header = params.get(key)
        if isinstance(header, str) and header:
            return _bearer(header)
    return None


class Authenticator:
    def __init__(
        self,
        settings: Settings,
        verifier: TokenVerifier | None,
        local_keys: LocalKeys | None = None,
        sessions: Sessions | None = None,
    ) -> None:
        self.mode = settings.auth_mode
        self.verifier = verifier
        self.local_keys = local_keys
        self.sessions = sessions
        # Origins whose pages may use ambient credentials: listed ones only, never the wildcard.
        origins = (o.strip().rstrip("/") for o in settings.cors_origins.split(","))
        self._origins = frozenset(o for o in origins if o and o != "*")

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        check_auth_settings(settings)
        local_keys = load_local_keys(settings)
        if settings.auth_mode != "oidc":
            return cls(settings, build_verifier(settings, local_keys), local_keys)
        oidc = OidcClient(settings)
        issuer_keys = DiscoveredJwks(oidc)
        verifier = build_verifier(settings, local_keys, issuer_keys)
        assert verifier is not None
        oidc.id_tokens = TokenVerifier(
            issuer_keys,
            issuer=oidc.issuer,
            audience=oidc.client_id,
            algorithms=accepted_algorithms(settings),
            leeway_seconds=settings.jwt_leeway_seconds,
            kind="ID token",
        )
        sessions = Sessions(settings, create_session_store(settings.redis_url), oidc, verifier)
        return cls(settings, verifier, local_keys, sessions)

    @property
    def dev(self) -> bool:
        return self.mode == "dev"

    def anonymous(self) -> Identity | None:
        """Who a caller without a token is: ADMIN in dev mode, nobody in jwt mode."""
        return DEV_ADMIN if self.dev else None

    async def verify(self, token: str, *, via_cookie: bool = False) -> Identity:
        if self.verifier is None:
            raise Unauthenticated(
                "TOKEN_INVALID",
                "This dev-mode server has no keys to verify tokens: send no token (you act as ADMIN), or set "
                "WHISTLE_JWT_LOCAL_KEYS or WHISTLE_JWT_JWKS_URL.",
            )
        return await self.verifier.verify(token, via_cookie=via_cookie)

    async def http(self, request: HTTPConnection) -> Authentication:
        try:
            identity = await self._identify(request)
        except DomainError as error:
            return Authentication(identity=None, error=error)
        return Authentication(identity=identity, csrf_error=self._csrf(request, identity, "A mutation"))

    async def websocket(self, connection: HTTPConnection, params: Mapping[str, Any] | None) -> Identity:
        """The identity of a WebSocket connection from its connection_init payload, else its
        handshake (Authorization header or cookie); raises Unauthenticated/Forbidden."""
        token = _ws_token(params)
        if token is not None:
            return await self.verify(token)
        identity = await self._identify(connection)
        if identity is None:
            raise Unauthenticated(
                "TOKEN_MISSING", 'Authenticate in connection_init: {"token": "<access token>"}.'
            )
        # A socket runs mutations and reads answers whatever CORS says: ambient credentials
        # (the cookie, dev mode's ADMIN) open one only from an allowed origin, as mutations do.
        # Browsers always send Origin on a handshake: a client that sends none is no page.
        refused = self._csrf(connection, identity, "A WebSocket") if "origin" in connection.headers else None
        if refused is not None:
            raise refused
        return identity

    async def _identify(self, connection: HTTPConnection) -> Identity | None:
        header = connection.headers.get("authorization")
        if header is not None:
            return await self.verify(_bearer(header))
        session_id = connection.cookies.get(self.sessions.cookie_name) if self.sessions is not None else None
        if self.sessions is not None and session_id:
            return await self.sessions.identity(session_id)  # SessionUnavailable propagates: a 503
        cookie = connection.cookies.get(COOKIE_NAME)
        if cookie:
            return await self.verify(cookie, via_cookie=True)
        return self.anonymous()

    def origin_allowed(self, request: HTTPConnection) -> bool:
        """Whether the request comes from an allowed origin (a browser always sends Origin on a POST)."""
        origin = request.headers.get("origin")
        return origin is not None and self._allowed(origin, request)

    def _csrf(self, request: HTTPConnection, identity: Identity | None, what: str) -> Forbidden | None:
        """Why `what` (a mutation, a WebSocket) may not act on ambient credentials from this
        request's origin; None when it may."""
        origin = request.headers.get("origin")
        if origin is not None and self._allowed(origin, request):
            return None
        shown = "no Origin header" if origin is None else f"Origin {origin[:100]!r}"
        if identity is not None and identity.via_cookie:
            cookie = COOKIE_NAME if identity.session_id is None else "session"
            return Forbidden(
                "CSRF_ORIGIN",
                f"{what} authenticated by the {cookie} cookie must come from an allowed origin ({shown}): "
                "add the page's origin to WHISTLE_CORS_ORIGINS (`*` never counts), or send the token instead.",
            )
        if identity is DEV_ADMIN and origin is not None:
            return Forbidden(
                "CSRF_ORIGIN",
                f"Dev mode's implicit ADMIN serves no page of another origin ({shown}): add it to "
                "WHISTLE_CORS_ORIGINS (`*` never counts).",
            )
        return None

    def _allowed(self, origin: str, request: HTTPConnection) -> bool:
        origin = origin.strip().rstrip("/")
        if origin in self._origins:
            return True
        host = request.headers.get("host")
        parts = urlsplit(origin)
        return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()
