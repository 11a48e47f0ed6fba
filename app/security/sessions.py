"""Sign-in sessions (WHISTLE_AUTH=oidc): the backend-for-frontend half of OpenID Connect.

The browser holds one opaque, HTTP-only cookie; the server holds the tokens (in the
session store). Every request with the cookie resumes its session: it ends after
`session_idle_seconds` unused or `session_max_seconds` after sign-in; its access token
is refreshed first when it expires within min(60 s, half its lifetime), by one request
at a time (the store's refresh lock; the others then use the new tokens). A refresh
the provider refuses (a revoked grant, a reused refresh token) ends the session.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from app.config import Settings
from app.domain.errors import DomainError, Unauthenticated
from app.security.identity import Identity
from app.security.oidc import OidcClient, ProviderRefused, ProviderUnavailable, new_secret
from app.security.session_store import PendingLogin, Session, SessionStore, SessionStoreUnavailable
from app.security.tokens import TokenVerifier

log = logging.getLogger("whistle.auth")

COOKIE = "whistle_session"
PRODUCTION_COOKIE = "__Host-whistle_session"  # __Host-: Secure, Path=/, no Domain (no sibling subdomain can set it)
LOGIN_TTL_SECONDS = 600  # a sign-in must come back within 10 minutes
MARK_USED_EVERY = 5.0  # seconds: a busy session is written back at most this often


class SessionUnavailable(Exception):
    """The session cannot be served right now (Redis or the provider is down); nothing was lost."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class LoginFailed(Exception):
    """/auth/callback cannot sign the person in: `status` (400, 403 or 502) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def session_ended(message: str = "Your session has ended; sign in again.") -> Unauthenticated:
    return Unauthenticated("SESSION_ENDED", message)


def local_path(return_to: str | None) -> str:
    """`return_to` when it is a path of this site, else ValueError (no open redirect)."""
    if not return_to:
        return "/"
    parts = urlsplit(return_to)
    if (
        parts.scheme
        or parts.netloc
        or not return_to.startswith("/")
        or return_to.startswith("//")
        or "\\" in return_to
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in return_to)
    ):
        raise ValueError("return_to must be a path on this site, such as /#/board")
    return return_to


@dataclass(frozen=True)
class Status:
    session: Session
    identity: Identity
    expires_at: float  # when the session ends if unused


class Sessions:
    def __init__(
        self,
        settings: Settings,
        store: SessionStore,
        oidc: OidcClient,
        verifier: TokenVerifier,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.oidc = oidc
        self._verifier = verifier
        self._clock = clock
        self._idle = float(settings.session_idle_seconds)
        self._max = float(settings.session_max_seconds)
        self._redirect_url = settings.oidc_redirect_url
        self.cookie_name = PRODUCTION_COOKIE if settings.is_production else COOKIE
        self.secure_cookie = settings.is_production
        self.max_age = settings.session_max_seconds

    # --- signing in -----------------------------------------------------------------------

    def redirect_uri(self, base_url: str) -> str:
        return self._redirect_url or f"{base_url.rstrip('/')}/auth/callback"

    def home_url(self, base_url: str) -> str:
        """Where the provider sends the browser after signing out: the web app."""
        parts = urlsplit(self.redirect_uri(base_url))
        return f"{parts.scheme}://{parts.netloc}/"

    async def begin_login(self, return_to: str, redirect_uri: str) -> str:
        """The provider's authorization URL for a new pending sign-in."""
        state = new_secret()
        login = PendingLogin(nonce=new_secret(), code_verifier=new_secret(), return_to=return_to, redirect_uri=redirect_uri)
        url = await self.oidc.authorization_url(state, login)  # first: a provider that is down stores nothing
        await self.store.put_login(state, login, LOGIN_TTL_SECONDS)
        return url

    async def finish_login(self, params: Any) -> tuple[str, str]:
        """The provider's answer -> (new session id, return_to); LoginFailed otherwise."""
        state = params.get("state")
        login = await self.store.take_login(state) if state else None  # single use: taken even when it fails below
        if params.get("error"):
            detail = params.get("error_description") or params.get("error")
            raise LoginFailed(400, f"The identity provider did not sign you in: {detail[:200]}.")
        if not state:
            raise LoginFailed(400, "The answer from the identity provider carries no state.")
        if login is None:
            raise LoginFailed(400, "This sign-in is unknown, was already used, or is older than 10 minutes.")
        code = params.get("code")
        if not code:
            raise LoginFailed(400, "The answer from the identity provider carries no authorization code.")
        try:
            tokens = await self.oidc.exchange(code, login)
        except ProviderUnavailable as error:
            log.warning("sign-in failed: the identity provider cannot be reached: %s", error)
            raise LoginFailed(502, "The identity provider cannot be reached right now; try again shortly.") from None
        except ProviderRefused as error:
            log.info("sign-in refused: %s", error)
            if error.error == "invalid_grant":
                raise LoginFailed(400, "The identity provider refused the sign-in code (already used or expired).") from None
            raise LoginFailed(400, f"The identity provider's answer was refused: {error.description or error.error}") from None
        try:
            await self._verifier.verify(tokens.access_token)
        except DomainError as error:
            raise LoginFailed(403 if error.code == "FORBIDDEN" else 400, f"Whistle cannot let you in: {error.message}") from None
        claims = tokens.id_claims or {}
        now = self._clock()
        session = Session(
            subject=str(claims.get("sub", "")),
            name=str(claims.get("name") or claims.get("preferred_username") or claims.get("sub", "")),
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            id_token=tokens.id_token,
            access_expires_at=tokens.expires_at,
            access_lifetime=max(tokens.expires_at - now, 0.0),
            created_at=now,
            last_used_at=now,
        )
        session_id = new_secret()
        await self.store.create(session_id, session, self._ttl(session, now))
        return session_id, login.return_to

    # --- using a session ------------------------------------------------------------------

    async def identity(self, session_id: str) -> Identity:
        """The caller of a request with this session cookie; refreshes its tokens when due."""
        return (await self.status(session_id)).identity

    async def status(self, session_id: str, *, force_refresh: bool = False) -> Status:
        session = await self._load(session_id)
        now = self._clock()
        if force_refresh or self._refresh_due(session, now):
            session = await self._refresh(session_id, force=force_refresh)
        if now - session.last_used_at >= MARK_USED_EVERY:
            session = replace(session, last_used_at=now)
            await self.store.mark_used(session_id, now, self._ttl(session, now))
        try:
            identity = await self._verifier.verify(session.access_token, via_cookie=True)
        except Unauthenticated as error:
            if error.reason == "KEYS_UNAVAILABLE":
                raise SessionUnavailable("IDP_UNAVAILABLE", error.message) from None
            raise session_ended(f"Your session's access token was refused ({error.message}); sign in again.") from None
        # The session, not the token, decides how long this caller is signed in (a socket too).
        identity = replace(identity, expires_at=None, session_id=session_id)
        return Status(session, identity, self._ends_at(session))

    async def alive(self, session_id: str) -> bool:
        """Whether the session still exists and has not timed out (a WebSocket's check)."""
        try:
            await self._load(session_id)
        except Unauthenticated:
            return False
        return True

    async def sign_out(self, session_id: str | None, post_logout_redirect_uri: str) -> str | None:
        """End the session (revoking its refresh token); the provider's logout URL, or None."""
        session = await self.store.get(session_id) if session_id else None
        if session is None or session_id is None:
            return None
        await self.store.delete(session_id)
        if session.refresh_token:
            await self.oidc.revoke(session.refresh_token)
        return await self.oidc.logout_url(session.id_token, post_logout_redirect_uri)

    # --- inside -----------------------------------------------------------------------------

    async def _load(self, session_id: str) -> Session:
        session = await self.store.get(session_id)
        if session is None:
            raise session_ended("Your session has ended or is unknown; sign in again.")
        now = self._clock()
        if now >= self._ends_at(session):
            await self.store.delete(session_id)
            raise session_ended()
        return session

    def _ends_at(self, session: Session) -> float:
        return min(session.last_used_at + self._idle, session.created_at + self._max)

    def _ttl(self, session: Session, now: float) -> float:
        return max(self._ends_at(session) - now, 1.0)

    @staticmethod
    def _refresh_due(session: Session, now: float) -> bool:
        return session.access_expires_at - now <= min(60.0, session.access_lifetime / 2)

    async def _refresh(self, session_id: str, *, force: bool) -> Session:
        async with self.store.refresh_lock(session_id):
            current = await self._load(session_id)  # another request may have refreshed meanwhile
            now = self._clock()
            if not force and not self._refresh_due(current, now):
                return current
            if current.refresh_token is None:
                if current.access_expires_at > now:
                    return current
                await self.store.delete(session_id)
                raise session_ended("Your session has expired (the provider gave no refresh token); sign in again.")
            try:
                tokens = await self.oidc.refresh(current.refresh_token)
            except ProviderRefused as error:
                log.info("refresh refused by the provider (%s): the session ends", error)
                await self.store.delete(session_id)
                raise session_ended("The identity provider ended your session; sign in again.") from None
            except ProviderUnavailable as error:
                log.warning("could not refresh a session: %s", error)
                if current.access_expires_at > now and not force:
                    return current  # still valid: try again at the next request
                raise SessionUnavailable(
                    "IDP_UNAVAILABLE", "The identity provider cannot be reached to renew your session; try again shortly."
                ) from None
            updated = current.with_tokens(tokens, now)
            await self.store.save_tokens(session_id, updated, self._ttl(updated, now))
            return updated


__all__ = [
    "COOKIE",
    "PRODUCTION_COOKIE",
    "LoginFailed",
    "SessionStoreUnavailable",
    "SessionUnavailable",
    "Sessions",
    "local_path",
]
