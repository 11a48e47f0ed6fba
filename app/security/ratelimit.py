"""Rate limiting: a budget of points per caller per minute (WHISTLE_RATE_LIMIT_POINTS).

A query (or a subscription over HTTP) costs 1 point, a mutation 5. The caller is the
subject of its token, else its client address. The window is a fixed calendar minute:
simple, one Redis round trip, and at worst twice the budget across a minute boundary.
Every request counts against the budget, refused ones included, so a client that
ignores Retry-After stays refused until the minute is over.

With WHISTLE_REDIS_URL the counters live in Redis (INCRBY + EXPIRE in one pipeline),
shared by every instance; without it, in this process. When Redis cannot answer, the
request is allowed (an outage must not take the API down with it) and one warning is
logged per outage.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as redis
from graphql import GraphQLSyntaxError, Lexer, Source, TokenKind
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from app.cache.redis_cache import SOCKET_TIMEOUT_SECONDS, UNAVAILABLE
from app.config import Settings
from app.security.identity import DEV_ADMIN

log = logging.getLogger("whistle.ratelimit")

WINDOW_SECONDS = 60
QUERY_POINTS = 1
MUTATION_POINTS = 5
MAX_SCANNED_TOKENS = 10_000
KEY_PREFIX = "whistle:ratelimit:"

Clock = Callable[[], float]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    used: int  # points spent in this window, this request's included
    retry_after: int  # seconds until the window ends (meaningful when refused)


class RateLimiter(Protocol):
    budget: int

    async def spend(self, identity: str, points: int) -> Decision: ...

    async def close(self) -> None: ...


def _window(now: float) -> tuple[int, int]:
    """(the window's number, whole seconds until it ends: at least 1)."""
    window = int(now // WINDOW_SECONDS)
    return window, max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


class MemoryRateLimiter:
    """Counters in this process: right for a single instance without Redis."""

    def __init__(self, budget: int, clock: Clock = time.time) -> None:
        self.budget, self._clock = budget, clock
        self._window = -1
        self._used: dict[str, int] = {}

    async def spend(self, identity: str, points: int) -> Decision:
        window, retry_after = _window(self._clock())
        if window != self._window:  # a new minute: forget the old one's counters
            self._window, self._used = window, {}
        used = self._used[identity] = self._used.get(identity, 0) + points
        return Decision(used <= self.budget, used, retry_after)

    async def close(self) -> None:
        return None


class RedisRateLimiter:
    """Counters in Redis, shared by every instance: key `prefix + identity + ":" + window`."""

    def __init__(self, url: str, budget: int, prefix: str = KEY_PREFIX, clock: Clock = time.time) -> None:
        self.budget, self._prefix, self._clock = budget, prefix, clock
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._available = True

    async def spend(self, identity: str, points: int) -> Decision:
        window, retry_after = _window(self._clock())
        key = f"{self._prefix}{identity}:{window}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incrby(key, points)
                pipe.expire(key, WINDOW_SECONDS + 5)
                used, _ = await pipe.execute()
        except UNAVAILABLE as error:
            if self._available:
                self._available = False
                log.warning("rate limiting: Redis unavailable (%s); requests are allowed until it answers again", error)
            return Decision(True, 0, retry_after)
        if not self._available:
            self._available = True
            log.info("rate limiting: Redis answers again")
        return Decision(int(used) <= self.budget, int(used), retry_after)

    async def close(self) -> None:
        await self._client.aclose()


def create_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The limiter of these settings; None when rate limiting is off (WHISTLE_RATE_LIMIT_POINTS=0)."""
    if settings.rate_limit_points <= 0:
        return None
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.rate_limit_points, prefix=KEY_PREFIX)
    return MemoryRateLimiter(settings.rate_limit_points)


# --- what a request costs, and whose budget pays ---------------------------------------------------

_OPENING = {TokenKind.BRACE_L, TokenKind.PAREN_L, TokenKind.BRACKET_L}
_CLOSING = {TokenKind.BRACE_R, TokenKind.PAREN_R, TokenKind.BRACKET_R}
_DEFINITIONS = {"query", "mutation", "subscription", "fragment"}


def operation_type(query: str | None, operation_name: str | None = None) -> str:
    """"query", "mutation" or "subscription": what the request would run, from a scan of the
    document's top-level tokens (no parse tree is built). Anything unclear is a "query":
    the execution that follows reports what is wrong with the document."""
    if not query or ("mutation" not in query and "subscription" not in query):
        return "query"  # the common case, without scanning
    operations: list[tuple[str, str | None]] = []
    depth, keyword, name, after_keyword = 0, None, None, False
    try:
        lexer = Lexer(Source(query))
        token = lexer.advance()
        for _ in range(MAX_SCANNED_TOKENS):
            if token.kind == TokenKind.EOF:
                break
            if token.kind in _OPENING:
                if depth == 0 and token.kind == TokenKind.BRACE_L:
                    operations.append((keyword or "query", name))  # shorthand `{ ... }` is a query
                    keyword, name = None, None
                depth += 1
            elif token.kind in _CLOSING:
                depth -= 1
            elif depth == 0 and token.kind == TokenKind.NAME:
                if keyword is None and token.value in _DEFINITIONS:
                    keyword, after_keyword = token.value, True
                    token = lexer.advance()
                    continue
                if after_keyword:
                    name = token.value
            after_keyword = False
            token = lexer.advance()
    except GraphQLSyntaxError:
        return "query"
    candidates = [(kind, op_name) for kind, op_name in operations if kind != "fragment"]
    if operation_name is not None:
        candidates = [c for c in candidates if c[1] == operation_name]
    return candidates[0][0] if len(candidates) == 1 else "query"


async def charge(limiter: RateLimiter, context: Any, request: Any, query: str | None, operation_name: str | None) -> int | None:
    """Spend what this request costs from its caller's budget: None when allowed, else the
    seconds until the budget is renewed (and a warning in the log)."""
    caller = caller_of(context, request)
    decision = await limiter.spend(caller, points_for(operation_type(query, operation_name)))
    if decision.allowed:
        return None
    log.warning(
        "rate limited %s: %d of %d points spent this minute",
        caller,
        decision.used,
        limiter.budget,
        extra={"caller": caller, "retry_after": decision.retry_after},
    )
    return decision.retry_after


def rate_limited_error(retry_after: int) -> dict[str, Any]:
    """The GraphQL error of a refused operation (HTTP: with status 429 and Retry-After)."""
    message = f"Too many requests: this minute's budget is spent; retry in {retry_after} s."
    return {"message": message, "extensions": {"code": "RATE_LIMITED"}}


def points_for(kind: str) -> int:
    return MUTATION_POINTS if kind == "mutation" else QUERY_POINTS


def caller_of(context: Any, request: Any) -> str:
    """`sub:<subject>` of the caller's token, else `ip:<client address>`."""
    identity = getattr(context, "identity", None)
    subject = getattr(identity, "subject", None)
    if subject and not _is_implicit(identity):
        return f"sub:{subject}"
    client = getattr(request, "client", None)
    return f"ip:{getattr(client, 'host', None) or 'unknown'}"


def _is_implicit(identity: Any) -> bool:
    """dev mode's token-less ADMIN is everybody: such callers are told apart by address."""
    # DEV_ADMIN itself first: an import statement and a dataclass comparison (two tuples of
    # its fields) on every request otherwise.
    return identity is DEV_ADMIN or bool(identity == DEV_ADMIN)
