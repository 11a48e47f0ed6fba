"""Whistle's own key pair, for trying the jwt mode without an identity provider.

With WHISTLE_JWT_LOCAL_KEYS=DIR the server loads (creating it on first use) an EC
P-256 key pair in DIR, accepts ES256 tokens signed with it, and publishes the public
half at /.well-known/jwks.json; `whistle token` mints such tokens. The private key is
written with mode 0600 and never leaves DIR.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.security.identity import Role

PRIVATE_KEY_FILE = "whistle-jwt-private.pem"
ALGORITHM = "ES256"
LOCAL_ISSUER = "whistle-local"  # `iss` of local tokens when WHISTLE_JWT_ISSUER is unset
LOCAL_AUDIENCE = "whistle"  # `aud` of local tokens when WHISTLE_JWT_AUDIENCE is unset
DEFAULT_TTL = timedelta(hours=8)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class LocalKeys:
    private_key: ec.EllipticCurvePrivateKey
    kid: str

    @classmethod
    def load_or_create(cls, directory: str | os.PathLike[str]) -> LocalKeys:
        folder = Path(directory)
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = folder / PRIVATE_KEY_FILE
        if not path.exists():
            _write_new_key(path)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"{path} is not an EC P-256 private key")
        return cls(private_key=key, kid=_thumbprint(_public_jwk(key)))

    def jwk(self) -> dict[str, Any]:
        return {**_public_jwk(self.private_key), "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def mint(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"})


def _write_new_key(path: Path) -> None:
    """Create the key file atomically: concurrent workers all end up with the same key."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".key-")
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, pem)
        os.close(descriptor)
        try:
            os.link(temporary, path)  # fails when another process got there first: use theirs
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


def _public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


def _thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: a kid that changes whenever the key does."""
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _nested(path: str, value: Any) -> dict[str, Any]:
    """`realm_access.roles`, ["ADMIN"] -> {"realm_access": {"roles": ["ADMIN"]}}."""
    *parents, leaf = path.split(".")
    claim: dict[str, Any] = {leaf: value}
    for parent in reversed(parents):
        claim = {parent: claim}
    return claim


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def token_claims(
    *,
    role: Role,
    referee_id: UUID | None,
    issuer: str,
    audience: str,
    roles_claim: str,
    referee_claim: str,
    ttl: timedelta = DEFAULT_TTL,
    subject: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The claims of a token for `role`, shaped like the configured claim paths expect."""
    if role is Role.REFEREE and referee_id is None:
        raise ValueError("a REFEREE token needs a referee id")
    issued = now or datetime.now(timezone.utc)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject or (f"referee:{referee_id}" if role is Role.REFEREE else "whistle-local-admin"),
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    _merge(claims, _nested(roles_claim, [role.value]))
    if referee_id is not None:
        _merge(claims, _nested(referee_claim, str(referee_id)))
    return claims
