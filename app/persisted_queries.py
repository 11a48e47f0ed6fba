"""Automatic persisted queries: the Apollo APQ protocol over the app's cache port.

A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash": H}` where H is
the hex SHA-256 of the query text, first without the text. If the server knows H it runs
the stored text; if not it answers PERSISTED_QUERY_NOT_FOUND and the client sends the
text with the hash, which the server checks, runs and then stores for `apq_ttl_seconds`:
only once the request has passed what every request must (a signed-in caller, the rate
limit, the operation limits), so nobody can fill the store with texts the server refuses
(the view calls `query_of` first and `remember` after the run). Hot
operations then cost the client ~100 bytes instead of the text, and (with the document
cache) skip parsing and validation on the server.

Errors (`extensions.code`; HTTP status):
- PERSISTED_QUERY_NOT_FOUND (200): the hash is not stored (never sent, or expired): send the text.
- PERSISTED_QUERY_NOT_SUPPORTED (200): APQ is off (`apq_ttl_seconds` 0), or the version is not 1.
- PERSISTED_QUERY_HASH_MISMATCH (400): the text does not hash to `sha256Hash`; nothing is stored.
- BAD_REQUEST, reason PERSISTED_QUERY_INVALID (400): `persistedQuery` is not an object
  with a 64-hex-digit `sha256Hash`.
NOT_FOUND and NOT_SUPPORTED are 200 like in Apollo Server: clients read them as "retry
with the text", not as a failed request.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from app.cache.port import Cache

VERSION = 1
_HASH = re.compile(r"[0-9a-fA-F]{64}")


class PersistedQueryError(Exception):
    def __init__(self, code: str, message: str, status: int = 200, reason: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.reason = code, message, status, reason

    def body(self) -> dict[str, Any]:
        extensions = {"code": self.code} if self.reason is None else {"code": self.code, "reason": self.reason}
        return {"errors": [{"message": self.message, "extensions": extensions}]}


def sends_new_text(query: str | None, extensions: dict[str, Any] | None) -> bool:
    """Whether a request sends a persisted query's text with its hash (to be stored if it passes)."""
    return query is not None and isinstance(extensions, dict) and extensions.get("persistedQuery") is not None


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class PersistedQueries:
    """Resolves the query text of a request that uses APQ; `cache` None means APQ is off."""

    def __init__(self, cache: Cache | None, ttl_seconds: float) -> None:
        self._cache, self._ttl = cache, ttl_seconds

    async def query_of(self, query: str | None, extensions: dict[str, Any] | None) -> str | None:
        """The text to run: `query` unchanged when the request does not use APQ; a text sent
        with its hash is checked against it, not stored (see `remember`)."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query
        if self._cache is None:
            raise PersistedQueryError("PERSISTED_QUERY_NOT_SUPPORTED", "This server does not support persisted queries.")
        if not isinstance(persisted, dict) or not isinstance(digest := persisted.get("sha256Hash"), str) or not _HASH.fullmatch(digest):
            raise PersistedQueryError(
                "BAD_REQUEST",
                "extensions.persistedQuery must be an object with `version` and a 64-hex-digit `sha256Hash`.",
                400,
                "PERSISTED_QUERY_INVALID",
            )
        if persisted.get("version") != VERSION:
            raise PersistedQueryError(
                "PERSISTED_QUERY_NOT_SUPPORTED", f"Only persisted query version {VERSION} is supported."
            )
        if query is None:
            stored = await self.stored(digest)
            if stored is None:
                raise PersistedQueryError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound: send the query text with its hash.")
            return stored
        if sha256_hex(query) != digest.lower():
            raise PersistedQueryError(
                "PERSISTED_QUERY_HASH_MISMATCH",
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query text; nothing was stored.",
                400,
            )
        return query

    async def remember(self, query: str) -> None:
        """Store a text that `query_of` accepted with its hash, once its request has run."""
        if self._cache is not None:
            await self._cache.set_many({_key(sha256_hex(query)): query}, self._ttl)

    async def stored(self, digest: str) -> str | None:
        """The text stored under this hash, if any."""
        if self._cache is None:
            return None
        key = _key(digest)
        found = (await self._cache.get_many([key])).get(key)
        return found if isinstance(found, str) else None


def _key(digest: str) -> str:
    return f"apq:{digest.lower()}"
