"""Where sign-in sessions and pending sign-ins live: one port, two adapters.

- `RedisSessionStore` (WHISTLE_REDIS_URL set): any instance serves any session;
- `MemorySessionStore` (the embedded default): this process only.

Keys are SHA-256 digests of the cookie value and of the `state`, so what is stored
cannot be replayed as a cookie. A session keeps its tokens and the time it was last
used apart: marking it used never overwrites tokens that another request has just
rotated. Pending sign-ins are taken exactly once (GETDEL), so a `state` cannot be
replayed. The refresh lock makes parallel requests of one session refresh once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

REFRESH_LOCK_SECONDS = 15.0  # longest a refresh may hold the lock (the provider call times out first)


class SessionStoreUnavailable(Exception):
    """The session store (Redis) cannot be reached: nothing was read or changed."""


@dataclass(frozen=True)
class Session:
    """What the server keeps for a signed-in browser; the browser holds only its opaque id."""

    subject: str
    name: str
    access_token: str
    refresh_token: str | None
    id_token: str | None
    access_expires_at: float  # epoch seconds
    access_lifetime: float  # seconds the access token was issued for
    created_at: float
    last_used_at: float

    def with_tokens(self, tokens: Any, now: float) -> Session:
        return replace(
            self,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token or self.refresh_token,  # a provider may keep the old one
            id_token=tokens.id_token or self.id_token,
            access_expires_at=tokens.expires_at,
            access_lifetime=max(tokens.expires_at - now, 0.0),
        )

    def tokens_json(self) -> str:
        data = asdict(self)
        data.pop("last_used_at")
        return json.dumps(data)

    @classmethod
    def from_parts(cls, tokens_json: str | bytes, last_used_at: float) -> Session:
        return cls(**json.loads(tokens_json), last_used_at=last_used_at)


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in started at /auth/login, waiting for the provider's answer at /auth/callback."""

    nonce: str
    code_verifier: str
    return_to: str
    redirect_uri: str

    def json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def parse(cls, raw: str | bytes) -> PendingLogin:
        return cls(**json.loads(raw))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SessionStore(Protocol):
    async def get(self, session_id: str) -> Session | None: ...
    async def create(self, session_id: str, session: Session, ttl: float) -> None: ...
    async def save_tokens(self, session_id: str, session: Session, ttl: float) -> None: ...
    async def mark_used(self, session_id: str, when: float, ttl: float) -> None: ...
    async def delete(self, session_id: str) -> None: ...
    async def put_login(self, state: str, login: PendingLogin, ttl: float) -> None: ...
    async def take_login(self, state: str) -> PendingLogin | None: ...
    def refresh_lock(self, session_id: str) -> Any:
        """An async context manager held while the session's tokens are refreshed."""
        ...
    async def close(self) -> None: ...


class MemorySessionStore:
    """Sessions in this process (the embedded default); same behaviour as Redis."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._sessions: dict[str, tuple[float, str, float]] = {}  # key -> (expires, tokens json, last used)
        self._logins: dict[str, tuple[float, str]] = {}
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def get(self, session_id: str) -> Session | None:
        entry = self._sessions.get(digest(session_id))
        if entry is None or entry[0] <= self._clock():
            return None
        return Session.from_parts(entry[1], entry[2])

    async def create(self, session_id: str, session: Session, ttl: float) -> None:
        self._sessions[digest(session_id)] = (self._clock() + ttl, session.tokens_json(), session.last_used_at)

    async def save_tokens(self, session_id: str, session: Session, ttl: float) -> None:
        key = digest(session_id)
        if key in self._sessions:  # ended meanwhile (signed out): stays ended
            expires, _, used = self._sessions[key]
            self._sessions[key] = (expires, session.tokens_json(), used)

    async def mark_used(self, session_id: str, when: float, ttl: float) -> None:
        key = digest(session_id)
        if key in self._sessions:
            _, tokens, _ = self._sessions[key]
            self._sessions[key] = (self._clock() + ttl, tokens, when)

    async def delete(self, session_id: str) -> None:
        self._sessions.pop(digest(session_id), None)

    async def put_login(self, state: str, login: PendingLogin, ttl: float) -> None:
        now = self._clock()
        self._logins = {k: v for k, v in self._logins.items() if v[0] > now}  # forget abandoned sign-ins
        self._logins[digest(state)] = (now + ttl, login.json())

    async def take_login(self, state: str) -> PendingLogin | None:
        entry = self._logins.pop(digest(state), None)
        if entry is None or entry[0] <= self._clock():
            return None
        return PendingLogin.parse(entry[1])

    @asynccontextmanager
    async def refresh_lock(self, session_id: str) -> AsyncIterator[None]:
        key = digest(session_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            yield

    async def close(self) -> None:
        pass


class RedisSessionStore:
    """Sessions in Redis: a hash per session (`tokens`, `used`), a key per pending sign-in."""

    def __init__(self, url: str, prefix: str = "whistle:auth:") -> None:
        self._redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}session:{digest(session_id)}"

    async def get(self, session_id: str) -> Session | None:
        async with self._available():
            tokens, used = await self._redis.hmget(self._session_key(session_id), ["tokens", "used"])
        if tokens is None:  # unknown, expired, signed out (a late `used` alone is no session)
            return None
        return Session.from_parts(tokens, float(used or 0))

    async def create(self, session_id: str, session: Session, ttl: float) -> None:
        key = self._session_key(session_id)
        async with self._available():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"tokens": session.tokens_json(), "used": session.last_used_at})
                pipe.pexpire(key, int(ttl * 1000))
                await pipe.execute()

    async def save_tokens(self, session_id: str, session: Session, ttl: float) -> None:
        # HSET XX semantics: only while the session exists (a sign-out in between wins).
        async with self._available():
            await self._redis.eval(
                "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], 'tokens', ARGV[1]) end return 0",
                1,
                self._session_key(session_id),
                session.tokens_json(),
            )

    async def mark_used(self, session_id: str, when: float, ttl: float) -> None:
        async with self._available():
            await self._redis.eval(
                "if redis.call('HEXISTS', KEYS[1], 'tokens') == 1 then "
                "redis.call('HSET', KEYS[1], 'used', ARGV[1]) return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
                1,
                self._session_key(session_id),
                repr(when),
                int(ttl * 1000),
            )

    async def delete(self, session_id: str) -> None:
        async with self._available():
            await self._redis.delete(self._session_key(session_id))

    async def put_login(self, state: str, login: PendingLogin, ttl: float) -> None:
        async with self._available():
            await self._redis.set(f"{self._prefix}login:{digest(state)}", login.json(), px=int(ttl * 1000))

    async def take_login(self, state: str) -> PendingLogin | None:
        async with self._available():
            raw = await self._redis.getdel(f"{self._prefix}login:{digest(state)}")
        return None if raw is None else PendingLogin.parse(raw)

    @asynccontextmanager
    async def refresh_lock(self, session_id: str) -> AsyncIterator[None]:
        lock = self._redis.lock(
            f"{self._prefix}refresh-lock:{digest(session_id)}",
            timeout=REFRESH_LOCK_SECONDS,
            blocking_timeout=REFRESH_LOCK_SECONDS,
        )
        async with self._available():
            if not await lock.acquire():
                raise SessionStoreUnavailable("the session's refresh lock was not released in time")
        try:
            yield
        finally:
            try:
                await lock.release()
            except (LockError, RedisError, OSError):
                pass  # expired or Redis gone: the lock times out by itself

    async def close(self) -> None:
        await self._redis.aclose()

    @asynccontextmanager
    async def _available(self) -> AsyncIterator[None]:
        try:
            yield
        except (RedisError, OSError) as error:
            raise SessionStoreUnavailable(str(error)) from error


def create_session_store(redis_url: str | None) -> SessionStore:
    return RedisSessionStore(redis_url) if redis_url else MemorySessionStore()
