"""Which `Host` names the server answers: the defence against DNS rebinding.

A page on `rebind.attacker.example` whose name the attacker then points at 127.0.0.1 is
same-origin with a local server as far as the browser knows: it may post mutations and
read the answers, and the cookie/CSRF rule (Origin == Host) holds. What gives it away is
the `Host` header, which carries the attacker's name. So, like Django's ALLOWED_HOSTS and
Starlette's TrustedHostMiddleware:

- WHISTLE_ALLOWED_HOSTS set: only those names (`*.example.org` for any subdomain, `*` for
  any name at all);
- unset, in dev mode (where a request without a token is ADMIN): only the loopback names
  `localhost`, `127.0.0.1` and `[::1]`, with any port;
- unset, in jwt mode: any name (a token, never ambient, is required anyway).

`allowed_host(host, rule)` is the check itself, for every entry point (HTTP and
WebSocket; a fast lane that bypasses the Starlette middleware must call it too);
`HostGuard` is the ASGI middleware that applies it. The health endpoints answer any
Host: probes address a container by its IP, and "alive" / "ready" tells a page nothing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
PROBE_PATHS = frozenset({"/healthz", "/readyz"})

HostRule = tuple[str, ...] | None
"""The names (or `*.domain` patterns) a request's Host may carry; None: any."""


def host_rule(settings: Settings) -> HostRule:
    configured = tuple(name.strip().lower() for name in settings.allowed_hosts.split(",") if name.strip())
    if "*" in configured:
        return None
    if configured:
        return configured
    return LOOPBACK_NAMES if settings.auth_mode == "dev" else None


def is_loopback_address(address: str) -> bool:
    """Whether a bind address reaches this machine only (`0.0.0.0` and `::` do not)."""
    address = address.strip().strip("[]")
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to may be public


_HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[^:\[\]@/\s]+)(?::\d{1,5})?")


def host_name(host: str) -> str | None:
    """The name of a Host header without its port, lower case, without a trailing dot
    (`[::1]:8000` -> `[::1]`, `LocalHost.:80` -> `localhost`); None for anything that is
    not a name with an optional port."""
    match = _HOST.fullmatch(host.strip().lower())
    if match is None:
        return None
    name = match["name"]
    return name[:-1] if name.endswith(".") else name  # `localhost.` is `localhost`


def allowed_host(host: str | None, rule: HostRule) -> bool:
    """Whether a request with this `Host` header (None: none sent) may be answered."""
    if rule is None:
        return True
    name = host_name(host or "")
    return name is not None and any(_matches(name, pattern) for pattern in rule)


def _matches(name: str, pattern: str) -> bool:
    if pattern.startswith("*."):
        return name.endswith(pattern[1:]) and len(name) > len(pattern) - 1
    return name == pattern


def _header(scope: Scope, wanted: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == wanted:
            return value.decode("latin-1")
    return None


def host_of(scope: Scope) -> str | None:
    """The `Host` header of an HTTP or WebSocket scope."""
    return _header(scope, b"host")


def refusal_body(host: str | None, rule: Iterable[str]) -> bytes:
    shown = "no Host header" if host is None else f"Host {host[:100]!r}"
    message = (
        f"This server does not answer requests for {shown}: it answers {', '.join(rule)}. "
        "Set WHISTLE_ALLOWED_HOSTS to the names clients use to reach it."
    )
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST", "reason": "HOST_NOT_ALLOWED"}}]})


class HostGuard:
    """Answers HTTP 400 (BAD_REQUEST / HOST_NOT_ALLOWED) to requests for other hosts, and
    refuses their WebSocket handshakes (HTTP 403), before anything else runs."""

    def __init__(self, app: ASGIApp, rule: HostRule) -> None:
        self.app, self.rule = app, rule

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] not in ("http", "websocket")
            or self.rule is None
            or scope.get("path") in PROBE_PATHS
            or allowed_host(host_of(scope), self.rule)
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "Host not allowed"})
            return
        body = refusal_body(host_of(scope), self.rule)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
