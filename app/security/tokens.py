"""JWT verification: asymmetric algorithms only, pinned; keys from a JWKS.

A token is accepted when its header names an algorithm of the configured list
(`none`, HS* and anything symmetric are never on it), its `kid` names a signing key
of the key source whose type fits that algorithm (no algorithm confusion), the
signature verifies, and `exp`, `iss`, `aud` are present and right (`nbf` and `iat`
too when present), with at most the configured leeway (<= 30 s).

The remote JWKS is fetched on first use and cached; a token signed with a key the
cache does not know triggers a refetch, at most once per `refetch_interval` (30 s),
so the identity provider can rotate its keys without a restart and a flood of
tokens with made-up key ids cannot flood the provider. The fetch uses
httpx.AsyncClient (never blocks the event loop) under a lock, so concurrent
requests that meet a new key wait for one fetch instead of starting one each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from uuid import UUID

import httpx
import jwt

from app.domain.errors import Forbidden, Unauthenticated
from app.security.identity import Identity, Role

log = logging.getLogger("whistle.auth")

# Algorithms a token may be signed with, by the key type that must verify them.
ASYMMETRIC_ALGORITHMS: Mapping[str, str] = {
    "RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
    "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
    "ES256": "EC", "ES384": "EC", "ES512": "EC",
}
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
MAX_TOKEN_LENGTH = 16_384
# The latest NumericDate a token may carry: 9999-12-30T00:00:00Z, so `exp` plus the leeway is
# still a datetime (a year past 9999 is not, and would fail the request with a 500).
MAX_NUMERIC_DATE = 253_402_041_600
TIME_CLAIMS = ("exp", "nbf", "iat")
REFETCH_INTERVAL = 30.0  # seconds: the fewest between two JWKS fetches
MAX_KEY_AGE = 3600.0  # seconds: known keys are refreshed (lazily) this often, to drop revoked ones


class KeysUnavailable(Exception):
    """The key source could not be read (the identity provider is unreachable)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    kty: str  # RSA or EC
    crv: str | None  # the curve of an EC key
    alg: str | None  # the algorithm the JWKS pins the key to, if it does
    key: Any  # the cryptography public key

    def fits(self, algorithm: str) -> bool:
        """No algorithm confusion: key type, curve and pinned alg all match the token's alg."""
        if self.kty != ASYMMETRIC_ALGORITHMS.get(algorithm) or self.alg not in (None, algorithm):
            return False
        return self.kty != "EC" or self.crv == _EC_CURVES[algorithm]


class KeySource(Protocol):
    async def key(self, kid: str) -> SigningKey | None:
        """The signing key with this id, or None when there is none."""
        ...


def signing_keys(jwks: Mapping[str, Any]) -> dict[str, SigningKey]:
    """The usable signing keys of a JWKS document, by kid (encryption keys and keys of
    unsupported types are skipped, not fatal: Keycloak publishes an RSA-OAEP key too)."""
    found: dict[str, SigningKey] = {}
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("a JWKS is an object with a `keys` list")
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("kty") not in ("RSA", "EC"):
            continue
        try:
            parsed = jwt.PyJWK(dict(entry))
            found[entry["kid"]] = SigningKey(
                kid=entry["kid"], kty=entry["kty"], crv=entry.get("crv"), alg=entry.get("alg"), key=parsed.key
            )
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("skipping an unusable key %r in the JWKS", entry.get("kid"))
    return found


class StaticKeys:
    """A fixed key set (whistle's local key pair)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = signing_keys(jwks)

    async def key(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)


class RemoteJwks:
    """The JWKS at `url`, cached; refetched on an unknown kid at most once per interval."""

    def __init__(
        self,
        url: str,
        *,
        refetch_interval: float = REFETCH_INTERVAL,
        max_key_age: float = MAX_KEY_AGE,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._refetch_interval = refetch_interval
        self._max_key_age = max_key_age
        self._timeout = timeout
        self._clock = clock
        self._transport = transport
        self._keys: dict[str, SigningKey] = {}
        self._last_attempt: float | None = None  # of a fetch, successful or not
        self._last_success: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times the JWKS was requested (for tests and metrics)

    async def key(self, kid: str) -> SigningKey | None:
        if kid in self._keys and not self._stale():
            return self._keys[kid]
        async with self._lock:  # one fetch at a time; waiters then see its result
            if kid in self._keys and not self._stale():
                return self._keys[kid]
            if self._may_fetch():
                await self._fetch()
            if kid not in self._keys and self._last_success is None:
                raise KeysUnavailable(f"the signing keys at {self.url} could not be fetched")
            return self._keys.get(kid)

    def _stale(self) -> bool:
        return self._last_success is not None and self._clock() - self._last_success >= self._max_key_age

    def _may_fetch(self) -> bool:
        return self._last_attempt is None or self._clock() - self._last_attempt >= self._refetch_interval

    async def _fetch(self) -> None:
        self._last_attempt = self._clock()
        self.fetches += 1
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
                response = await client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                keys = signing_keys(response.json())
        except (httpx.HTTPError, ValueError) as error:
            # Keep what we had: a provider hiccup must not log everybody out.
            log.warning("could not fetch the JWKS at %s: %s", self.url, error)
            return
        self._keys = keys
        self._last_success = self._clock()
        log.info("fetched %d signing key(s) from %s", len(keys), self.url)


class AnyOf:
    """The first source that knows the kid (local keys next to an identity provider)."""

    def __init__(self, sources: Sequence[KeySource]) -> None:
        self._sources = tuple(sources)

    async def key(self, kid: str) -> SigningKey | None:
        unavailable: KeysUnavailable | None = None
        for source in self._sources:
            try:
                found = await source.key(kid)
            except KeysUnavailable as error:
                unavailable = error
                continue
            if found is not None:
                return found
        if unavailable is not None:
            raise unavailable
        return None


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (`realm_access.roles`), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _invalid(message: str) -> Unauthenticated:
    return Unauthenticated("TOKEN_INVALID", message)


class TokenVerifier:
    """Token -> Identity, or Unauthenticated (bad token) / Forbidden (no Whistle role)."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str],
        leeway_seconds: int = 30,
        roles_claim: str = "realm_access.roles",
        referee_claim: str = "referee_id",
        kind: str = "access token",
    ) -> None:
        unsupported = [a for a in algorithms if a not in ASYMMETRIC_ALGORITHMS]
        if unsupported or not algorithms:
            raise ValueError(f"only asymmetric JWT algorithms may be accepted, not {unsupported or 'none'}")
        if not 0 <= leeway_seconds <= 30:
            raise ValueError("the JWT leeway is at most 30 seconds")
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = timedelta(seconds=leeway_seconds)
        self.roles_claim = roles_claim
        self.referee_claim = referee_claim
        self.kind = kind  # what the error messages call the token ("ID token" for OpenID Connect sign-in)

    async def verify(self, token: str, *, via_cookie: bool = False) -> Identity:
        claims = await self.claims(token)
        return self.identity(claims, via_cookie=via_cookie)

    async def claims(self, token: str) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise _invalid(f"The {self.kind} is empty or too long.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid(f"The {self.kind} is not a well-formed JWT.") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise _invalid(
                f"Tokens signed with {str(algorithm)[:20]!r} are not accepted; accepted: {', '.join(self.algorithms)}."
            )
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid(f"The {self.kind} names no signing key (`kid` header).")
        try:
            key = await self.keys.key(kid)
        except KeysUnavailable:
            raise Unauthenticated(
                "KEYS_UNAVAILABLE", "The identity provider's signing keys cannot be fetched right now; try again shortly."
            ) from None
        if key is None:
            raise _invalid(f"The {self.kind} is signed with an unknown key; get a new token.")
        if not key.fits(algorithm):
            raise _invalid(f"The {self.kind}'s algorithm {algorithm} does not match its signing key.")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("TOKEN_EXPIRED", f"The {self.kind} has expired; sign in again.") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated(
                "TOKEN_NOT_YET_VALID", f"The {self.kind} is not valid yet (nbf/iat in the future); check the clocks."
            ) from None
        except jwt.InvalidIssuerError:
            raise _invalid(f"The {self.kind} was issued by an issuer this server does not trust.") from None
        except jwt.InvalidAudienceError:
            raise _invalid(f"The {self.kind} is meant for another audience.") from None
        except jwt.MissingRequiredClaimError as error:
            raise _invalid(f"The {self.kind} lacks the required `{error.claim}` claim.") from None
        except jwt.InvalidSignatureError:
            raise _invalid(f"The {self.kind}'s signature does not verify.") from None
        except jwt.PyJWTError:
            raise _invalid(f"The {self.kind} is invalid.") from None
        _check_time_claims(claims)
        return claims

    def identity(self, claims: Mapping[str, Any], *, via_cookie: bool = False) -> Identity:
        roles = _claim(claims, self.roles_claim)
        if isinstance(roles, str):
            roles = roles.split()
        names = {r.upper() for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()
        raw_referee = _claim(claims, self.referee_claim)
        referee_id = _uuid(raw_referee)
        subject = str(claims.get("sub") or "")
        # Valid until exp plus the leeway that verification allowed (a WebSocket checks it per operation).
        expires_at = datetime.fromtimestamp(claims["exp"], timezone.utc) + self.leeway
        if Role.ADMIN.value in names:
            role = Role.ADMIN
        elif Role.REFEREE.value in names:
            role = Role.REFEREE
            if referee_id is None:
                raise Forbidden(
                    "REFEREE_ID_MISSING",
                    f"The REFEREE token carries no valid referee id (claim `{self.referee_claim}`, a UUID).",
                )
        else:
            raise Forbidden(
                "NO_ROLE", f"The token grants no Whistle role (ADMIN or REFEREE at `{self.roles_claim}`)."
            )
        return Identity(role=role, referee_id=referee_id, subject=subject, expires_at=expires_at, via_cookie=via_cookie)


def _check_time_claims(claims: Mapping[str, Any]) -> None:
    """`exp`, `nbf` and `iat` are NumericDates (RFC 7519: a JSON number of seconds), not the
    numeric strings PyJWT lets through, nor dates past what a datetime can hold."""
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_NUMERIC_DATE:
            raise _invalid(
                f"The access token's `{name}` claim is not a NumericDate (seconds since 1970 as a JSON number, "
                "before the year 9999)."
            )


def _uuid(value: object) -> UUID | None:
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "AnyOf",
    "KeySource",
    "KeysUnavailable",
    "RemoteJwks",
    "SigningKey",
    "StaticKeys",
    "TokenVerifier",
    "signing_keys",
]
