"""The web app: static files (index.html, ES modules, vendored libraries) served at `/`
and `/static/...`, in production too. No build step: the browser loads the modules as
they are in app/ui/static/.

Every response carries a strict Content-Security-Policy: scripts only from this origin
(no inline script, no eval), connections only back to this origin (HTTP and WebSocket),
no framing. The app talks to /graphql like any other client.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # 'self' covers ws:/wss: of the same host (CSP Level 3)
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

NO_CACHE = {"Cache-Control": "no-cache"}


class _Secured:
    """Adds the security headers (and no-cache: a new release's modules are picked up at once,
    revalidated by ETag) to every response of the wrapped ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in {**SECURITY_HEADERS, **NO_CACHE}.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_secured)


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={**SECURITY_HEADERS, **NO_CACHE})


def ui_routes() -> list[BaseRoute]:
    """`/` (the app's one page: it routes by the URL's #fragment) and `/static/...`."""
    return [
        Route("/", _index, methods=["GET", "HEAD"]),
        Mount("/static", app=_Secured(StaticFiles(directory=STATIC)), name="static"),
    ]
