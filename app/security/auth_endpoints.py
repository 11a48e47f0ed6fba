"""The sign-in endpoints of WHISTLE_AUTH=oidc (plain HTTP, not GraphQL).

- GET  /auth/login?return_to=/path  -> 302 to the provider (PKCE S256, state, nonce)
- GET  /auth/callback               -> the session cookie, 302 to return_to; an HTML page on errors
- GET  /auth/status                 -> {"signedIn": ...}
- POST /auth/refresh                -> refreshes now; the new status
- POST /auth/logout                 -> ends the session; {"signedOut": true, "logoutUrl": ...}

The two POSTs follow the rule of cookie-authenticated mutations: an allowed `Origin`.
A session store or provider that cannot be reached is a 503 (JSON) or 502 (HTML page)
with a clear reason; nothing is half-stored.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.domain.errors import Unauthenticated
from app.security.authn import Authenticator
from app.security.oidc import ProviderUnavailable
from app.security.session_store import SessionStoreUnavailable
from app.security.sessions import LoginFailed, Sessions, SessionUnavailable, Status, local_path

log = logging.getLogger("whistle.auth")

NO_STORE = {"Cache-Control": "no-store"}
SIGNED_OUT = {"signedIn": False, "loginUrl": "/auth/login"}


def error_body(code: str, reason: str, message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code, "reason": reason}}]}


def unavailable(reason: str, message: str) -> JSONResponse:
    """503: the session store or the provider is down; the session is kept for later."""
    return JSONResponse(
        error_body("SERVICE_UNAVAILABLE", reason, message), 503, headers={**NO_STORE, "Retry-After": "5"}
    )


def store_unavailable() -> JSONResponse:
    return unavailable("SESSION_STORE_UNAVAILABLE", "Sessions cannot be read right now; try again shortly.")


def error_page(status: int, message: str, return_to: str = "/") -> HTMLResponse:
    retry = f"/auth/login?return_to={quote(return_to, safe='')}"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in failed · Whistle</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main id="main"><h1>Sign-in failed</h1>
<p role="alert">{html.escape(message)}</p>
<p><a href="{html.escape(retry)}">Try signing in again</a></p></main></body></html>"""
    return HTMLResponse(page, status, headers=NO_STORE)


def status_body(status: Status) -> dict[str, Any]:
    identity = status.identity
    return {
        "signedIn": True,
        "name": status.session.name,
        "roles": [identity.role.value],
        "refereeId": str(identity.referee_id) if identity.referee_id else None,
        "expiresAt": datetime.fromtimestamp(status.expires_at, timezone.utc).isoformat().replace("+00:00", "Z"),
    }


async def no_sign_in_status(request: Request) -> Response:
    """/auth/status of a server that does not sign people in (WHISTLE_AUTH=dev or jwt)."""
    return JSONResponse({"signedIn": False, "loginUrl": None}, headers=NO_STORE)


class AuthEndpoints:
    def __init__(self, authenticator: Authenticator, sessions: Sessions) -> None:
        self._auth = authenticator
        self._sessions = sessions

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/auth/login", self.login, methods=["GET"]),
            Route("/auth/callback", self.callback, methods=["GET"]),
            Route("/auth/status", self.status, methods=["GET"]),
            Route("/auth/refresh", self.refresh, methods=["POST"]),
            Route("/auth/logout", self.logout, methods=["POST"]),
        ]

    async def login(self, request: Request) -> Response:
        try:
            return_to = local_path(request.query_params.get("return_to"))
        except ValueError as error:
            return error_page(400, f"{error}; links to other sites are refused.")
        redirect_uri = self._sessions.redirect_uri(str(request.base_url))
        try:
            url = await self._sessions.begin_login(return_to, redirect_uri)
        except ProviderUnavailable as error:
            log.warning("sign-in cannot start: %s", error)
            return error_page(502, "The identity provider cannot be reached right now; try again shortly.", return_to)
        except SessionStoreUnavailable:
            return error_page(503, "Sessions cannot be stored right now; try again shortly.", return_to)
        return RedirectResponse(url, 302, headers=NO_STORE)

    async def callback(self, request: Request) -> Response:
        try:
            session_id, return_to = await self._sessions.finish_login(request.query_params)
        except LoginFailed as failed:
            return error_page(failed.status, failed.message)
        except SessionStoreUnavailable:
            return error_page(503, "Sessions cannot be stored right now; try again shortly.")
        response = RedirectResponse(return_to, 302, headers=NO_STORE)
        response.set_cookie(
            self._sessions.cookie_name,
            session_id,
            max_age=self._sessions.max_age,
            path="/",
            secure=self._sessions.secure_cookie,
            httponly=True,
            samesite="lax",
        )
        return response

    async def status(self, request: Request) -> Response:
        session_id = request.cookies.get(self._sessions.cookie_name)
        if not session_id:
            return JSONResponse(SIGNED_OUT, headers=NO_STORE)
        try:
            status = await self._sessions.status(session_id)
        except Unauthenticated:
            return self._signed_out(JSONResponse(SIGNED_OUT, headers=NO_STORE))
        except SessionUnavailable as error:
            return unavailable(error.reason, error.message)
        except SessionStoreUnavailable:
            return store_unavailable()
        return JSONResponse(status_body(status), headers=NO_STORE)

    async def refresh(self, request: Request) -> Response:
        if (refused := self._cross_site(request)) is not None:
            return refused
        session_id = request.cookies.get(self._sessions.cookie_name)
        try:
            if not session_id:
                raise Unauthenticated("SESSION_MISSING", "You are not signed in; sign in first.")
            status = await self._sessions.status(session_id, force_refresh=True)
        except Unauthenticated as error:
            response = JSONResponse(error_body(error.code, error.reason, error.message), 401, headers=NO_STORE)
            return self._signed_out(response)
        except SessionUnavailable as error:
            return unavailable(error.reason, error.message)
        except SessionStoreUnavailable:
            return store_unavailable()
        return JSONResponse(status_body(status), headers=NO_STORE)

    async def logout(self, request: Request) -> Response:
        if (refused := self._cross_site(request)) is not None:
            return refused
        try:
            logout_url = await self._sessions.sign_out(
                request.cookies.get(self._sessions.cookie_name), self._sessions.home_url(str(request.base_url))
            )
        except SessionStoreUnavailable:
            return store_unavailable()
        return self._signed_out(JSONResponse({"signedOut": True, "logoutUrl": logout_url}, headers=NO_STORE))

    def _cross_site(self, request: Request) -> Response | None:
        if self._auth.origin_allowed(request):
            return None
        origin = request.headers.get("origin")
        shown = "no Origin header" if origin is None else f"Origin {origin[:100]!r}"
        return JSONResponse(
            error_body(
                "FORBIDDEN",
                "CSRF_ORIGIN",
                f"Session requests must come from an allowed origin ({shown}): add the page's origin to WHISTLE_CORS_ORIGINS.",
            ),
            403,
            headers=NO_STORE,
        )

    def _signed_out(self, response: Response) -> Response:
        response.delete_cookie(
            self._sessions.cookie_name, path="/", secure=self._sessions.secure_cookie, httponly=True, samesite="lax"
        )
        return response
