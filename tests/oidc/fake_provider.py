"""A tiny OpenID Provider that misbehaves on purpose, for what a certified provider never
does: ID tokens with a wrong nonce, issuer or audience, or signed by another key; and a
token endpoint that is down (503). Whistle reaches it through httpx's ASGI transport.

It signs in whoever comes (the test takes `state` and `nonce` from Whistle's redirect and
calls /auth/callback itself); its access tokens are valid for `access_ttl` seconds and
carry the ADMIN role; refresh tokens rotate.
"""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ISSUER = "https://fake-provider.test"
CLIENT_ID = "whistle"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeProvider:
    def __init__(self, access_ttl: int = 4) -> None:
        self.key = _key()
        self.other_key = _key()  # never published
        self.defect: str | None = None  # "nonce" | "iss" | "aud" | "key"
        self.down = False
        self.access_ttl = access_ttl
        self.nonces: dict[str, str] = {}  # code -> nonce of its sign-in
        self.refresh_tokens: set[str] = set()
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    def code_for(self, authorization_url: str) -> str:
        """'Sign in' at the authorization URL Whistle redirected to: the code the provider would send back."""
        nonce = parse_qs(urlsplit(authorization_url).query)["nonce"][0]
        code = secrets.token_urlsafe(16)
        self.nonces[code] = nonce
        return code

    async def discovery(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/authorize",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def jwks(self, request: Request) -> JSONResponse:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return JSONResponse({"keys": [{**public, "kid": "fake-key", "use": "sig", "alg": "RS256"}]})

    async def token(self, request: Request) -> JSONResponse:
        if self.down:
            return JSONResponse({"error": "temporarily_unavailable"}, 503)
        form = await request.form()
        now = int(time.time())
        if form.get("grant_type") == "authorization_code":
            nonce = self.nonces.pop(str(form.get("code")), None)
            if nonce is None:
                return JSONResponse({"error": "invalid_grant"}, 400)
            id_token = self._id_token(nonce, now)
        elif form.get("grant_type") == "refresh_token":
            if str(form.get("refresh_token")) not in self.refresh_tokens:
                return JSONResponse({"error": "invalid_grant"}, 400)
            self.refresh_tokens.discard(str(form.get("refresh_token")))
            id_token = None
        else:
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        refresh_token = secrets.token_urlsafe(24)
        self.refresh_tokens.add(refresh_token)
        access = self._sign(
            {
                "iss": ISSUER, "aud": CLIENT_ID, "sub": "fake-admin", "iat": now, "exp": now + self.access_ttl,
                "realm_access": {"roles": ["ADMIN"]},
            },
            self.key,
        )
        body: dict[str, Any] = {
            "access_token": access, "token_type": "Bearer", "expires_in": self.access_ttl, "refresh_token": refresh_token,
        }
        if id_token:
            body["id_token"] = id_token
        return JSONResponse(body)

    def _id_token(self, nonce: str, now: int) -> str:
        claims = {
            "iss": "https://impostor.test" if self.defect == "iss" else ISSUER,
            "aud": "someone-else" if self.defect == "aud" else CLIENT_ID,
            "sub": "fake-admin", "name": "Fake Admin", "iat": now, "exp": now + 300,
            "nonce": "another-sign-in" if self.defect == "nonce" else nonce,
        }
        return self._sign(claims, self.other_key if self.defect == "key" else self.key)

    @staticmethod
    def _sign(claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "fake-key"})
