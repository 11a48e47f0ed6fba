"""Whistle as an OpenID Connect relying party (a confidential client): the protocol only.

Authlib does the OAuth 2.0 part (authorization URL with PKCE S256, the code exchange,
refresh, revocation, client authentication) and validates the discovery document; the
ID token is verified by the same TokenVerifier as bearer tokens (pinned asymmetric
algorithms, keys from the issuer's JWKS, `iss`, `aud`, `exp`) plus its `nonce` here.
Network failures and 5xx answers are `ProviderUnavailable`; a refusal by the provider
(`invalid_grant`, ...) is `ProviderRefused`.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oidc.discovery import OpenIDProviderMetadata

from app.config import Settings
from app.domain.errors import DomainError
from app.security.session_store import PendingLogin
from app.security.tokens import KeysUnavailable, RemoteJwks, SigningKey, TokenVerifier

with warnings.catch_warnings():  # Authlib prefers the httpx2 fork; plain httpx is what Whistle uses
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

log = logging.getLogger("whistle.auth")

TIMEOUT_SECONDS = 10.0
METADATA_MAX_AGE = 3600.0  # seconds: the discovery document is read again this often


class ProviderUnavailable(Exception):
    """The identity provider cannot be reached, or answered with a server error."""


class ProviderRefused(Exception):
    """The provider (or its ID token) refused what was asked: `error` says why."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str | None
    id_token: str | None
    expires_at: float  # epoch seconds
    id_claims: dict[str, Any] | None = None  # the verified ID token's claims (sign-in only)


class DiscoveredJwks:
    """The issuer's JWKS, found through discovery on first use (the KeySource of both verifiers)."""

    def __init__(self, client: OidcClient) -> None:
        self._client = client
        self._jwks: RemoteJwks | None = None

    async def key(self, kid: str) -> SigningKey | None:
        if self._jwks is None:
            try:
                metadata = await self._client.metadata()
            except ProviderUnavailable as error:
                raise KeysUnavailable(str(error)) from error
            self._jwks = RemoteJwks(metadata["jwks_uri"], transport=self._client.transport)
        return await self._jwks.key(kid)


class OidcClient:
    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret
        self._auth_method = settings.oidc_client_auth
        self.scopes = settings.oidc_scopes
        self.transport = transport
        self._metadata: dict[str, Any] | None = None
        self._metadata_read_at = 0.0
        self._lock = asyncio.Lock()
        self.id_tokens: TokenVerifier | None = None  # set by the composition root (shares the JWKS)

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            self.client_id,
            self._secret,
            token_endpoint_auth_method=self._auth_method,
            code_challenge_method="S256",
            scope=self.scopes,
            timeout=TIMEOUT_SECONDS,
            transport=self.transport,
            trust_env=False,
        )

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (validated, cached; its issuer must be ours)."""
        if self._metadata is not None and time.monotonic() - self._metadata_read_at < METADATA_MAX_AGE:
            return self._metadata
        async with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_read_at >= METADATA_MAX_AGE:
                self._metadata = await self._discover()
                self._metadata_read_at = time.monotonic()
            return self._metadata

    async def _discover(self) -> dict[str, Any]:
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=self.transport, trust_env=False) as http:
                response = await http.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = OpenIDProviderMetadata(response.json())
            document.validate()
        except (httpx.HTTPError, ValueError) as error:
            if self._metadata is not None:
                log.warning("could not read the provider's discovery document again (%s); keeping the last one", error)
                return self._metadata
            raise ProviderUnavailable(f"the discovery document at {url} could not be read: {error}") from error
        if document["issuer"].rstrip("/") != self.issuer:
            raise ProviderUnavailable(f"the discovery document at {url} names another issuer: {document['issuer']!r}")
        return dict(document)

    async def authorization_url(self, state: str, login: PendingLogin) -> str:
        metadata = await self.metadata()
        url, _ = self._oauth().create_authorization_url(
            metadata["authorization_endpoint"],
            redirect_uri=login.redirect_uri,
            state=state,
            nonce=login.nonce,
            code_verifier=login.code_verifier,
        )
        return url

    async def exchange(self, code: str, login: PendingLogin) -> Tokens:
        """The code for tokens; the ID token verified (signature, iss, aud, exp) and its nonce checked."""
        metadata = await self.metadata()
        token = await self._token_request(
            lambda oauth: oauth.fetch_token(
                metadata["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                redirect_uri=login.redirect_uri,
                code_verifier=login.code_verifier,
            )
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderRefused("invalid_id_token", "The provider sent no ID token (is `openid` in WHISTLE_OIDC_SCOPES?).")
        assert self.id_tokens is not None
        try:
            claims = await self.id_tokens.claims(id_token)
        except DomainError as error:
            raise ProviderRefused("invalid_id_token", error.message) from None
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce, login.nonce):
            raise ProviderRefused("invalid_id_token", "The ID token's nonce does not match this sign-in.")
        return self._tokens(token, claims)

    async def refresh(self, refresh_token: str) -> Tokens:
        metadata = await self.metadata()
        token = await self._token_request(
            lambda oauth: oauth.refresh_token(metadata["token_endpoint"], refresh_token=refresh_token)
        )
        return self._tokens(token, None)

    async def revoke(self, refresh_token: str) -> None:
        """Revoke at the provider where it offers revocation; failures are logged, not raised."""
        try:
            endpoint = (await self.metadata()).get("revocation_endpoint")
            if not endpoint:
                return
            async with self._oauth() as oauth:
                response = await oauth.revoke_token(endpoint, token=refresh_token, token_type_hint="refresh_token")
            if response.status_code >= 400:
                log.warning("the provider refused to revoke a refresh token (HTTP %s)", response.status_code)
        except (ProviderUnavailable, httpx.HTTPError, OAuthError) as error:
            log.warning("could not revoke a refresh token at the provider: %s", error)

    async def logout_url(self, id_token: str | None, post_logout_redirect_uri: str) -> str | None:
        """The provider's RP-initiated logout URL, or None when it has none."""
        try:
            endpoint = (await self.metadata()).get("end_session_endpoint")
        except ProviderUnavailable:
            return None
        if not endpoint:
            return None
        params = {"client_id": self.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    async def _token_request(self, call: Any) -> dict[str, Any]:
        try:
            async with self._oauth() as oauth:
                token = await call(oauth)
        except OAuthError as error:
            raise ProviderRefused(error.error or "invalid_request", error.description or "") from None
        except httpx.HTTPStatusError as error:
            raise ProviderUnavailable(f"the token endpoint answered HTTP {error.response.status_code}") from error
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderUnavailable(f"the token endpoint cannot be reached: {error}") from error
        if not isinstance(token.get("access_token"), str):
            raise ProviderRefused("invalid_response", "The provider's token response carries no access token.")
        return dict(token)

    @staticmethod
    def _tokens(token: dict[str, Any], id_claims: dict[str, Any] | None) -> Tokens:
        expires_at = token.get("expires_at")
        if not isinstance(expires_at, (int, float)):
            expires_in = token.get("expires_in")
            expires_at = time.time() + (float(expires_in) if isinstance(expires_in, (int, float)) else 300.0)
        return Tokens(
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            id_token=token.get("id_token"),
            expires_at=float(expires_at),
            id_claims=id_claims,
        )


def new_secret() -> str:
    """A random, URL-safe value for state, nonce, PKCE verifier and session ids."""
    return generate_token(48)
