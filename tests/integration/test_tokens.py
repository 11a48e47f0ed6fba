"""JWT verification against a JWKS served over HTTP by this test (a stdlib server in a
thread): the negative token matrix, key rotation without a restart, and the rule that
the JWKS is fetched again at most once per 30 s (with an injected clock)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.config import Settings
from app.domain.errors import DomainError
from app.security.identity import Role
from app.security.tokens import RemoteJwks, StaticKeys, TokenVerifier
from app.server import create_app

ISSUER = "http://127.0.0.1/realms/league"
AUDIENCE = "whistle-api"
REFEREE_ID = "6f1c7a3e-1111-4222-8333-444455556666"


# --- keys and tokens -------------------------------------------------------------------------


class Key:
    def __init__(self, kind: str = "RSA", kid: str | None = None) -> None:
        self.kind = kind
        self.kid = kid or uuid.uuid4().hex[:12]
        if kind == "RSA":
            self.private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = "RS256"
            algorithm: Any = jwt.algorithms.RSAAlgorithm
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
            algorithm = jwt.algorithms.ECAlgorithm
        self.jwk: dict[str, Any] = {**algorithm.to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        "realm_access": {"roles": ["offline_access", "REFEREE"]},
        "referee_id": REFEREE_ID,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: Key, payload: dict[str, Any], *, kid: str | None = None, alg: str | None = None) -> str:
    return jwt.encode(payload, key.private, algorithm=alg or key.alg, headers={"kid": kid or key.kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(signature)])


def hs256_with_public_key(key: Key, payload: dict[str, Any]) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the (public) PEM."""
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


# --- a JWKS server of the test's own -----------------------------------------------------------


class JwksServer:
    """Serves `self.keys` as a JWKS at /jwks.json on a free port; counts the requests."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        self.fail = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests += 1
                if self.path != "/jwks.json" or server.fail:
                    self.send_response(503 if server.fail else 404)
                    self.end_headers()
                    return
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}/jwks.json"

    def publish(self, *keys: Key, extra: list[dict[str, Any]] | None = None) -> None:
        self.keys = [k.jwk for k in keys] + (extra or [])

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture
def rsa_key() -> Key:
    return Key("RSA")


@pytest.fixture
def ec_key() -> Key:
    return Key("EC")


@pytest.fixture
def clock() -> FakeClock:  # overrides the shared datetime clock: this one counts seconds
    return FakeClock()


@pytest.fixture
def jwks(jwks_server: JwksServer, rsa_key: Key, ec_key: Key, clock: FakeClock) -> RemoteJwks:
    jwks_server.publish(rsa_key, ec_key)
    return RemoteJwks(jwks_server.url, clock=clock)


@pytest.fixture
def verifier(jwks: RemoteJwks) -> TokenVerifier:
    return TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", "ES256"], leeway_seconds=30)


async def refusal(verifier: TokenVerifier, token: str) -> tuple[str, str]:
    with pytest.raises(DomainError) as raised:
        await verifier.verify(token)
    assert raised.value.message
    return raised.value.code, raised.value.reason


# --- the good ones ---------------------------------------------------------------------------


async def test_valid_rs256_and_es256_tokens_give_the_identity(verifier: TokenVerifier, rsa_key: Key, ec_key: Key) -> None:
    for key in (rsa_key, ec_key):
        identity = await verifier.verify(sign(key, claims()))
        assert identity.role is Role.REFEREE
        assert str(identity.referee_id) == REFEREE_ID
        assert identity.subject == "user-1"
        assert identity.expires_at is not None


async def test_admin_role_and_keycloak_audience_lists(verifier: TokenVerifier, rsa_key: Key) -> None:
    token = sign(rsa_key, claims(aud=["account", AUDIENCE], realm_access={"roles": ["admin"]}, referee_id=None))
    identity = await verifier.verify(token)
    assert identity.role is Role.ADMIN and identity.referee_id is None


async def test_configurable_claim_paths(jwks: RemoteJwks, rsa_key: Key) -> None:
    verifier = TokenVerifier(
        jwks, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"],
        roles_claim="resource_access.whistle.roles", referee_claim="whistle.referee",
    )
    token = sign(rsa_key, claims(
        realm_access=None, referee_id=None,
        resource_access={"whistle": {"roles": ["REFEREE"]}}, whistle={"referee": REFEREE_ID},
    ))
    identity = await verifier.verify(token)
    assert identity.role is Role.REFEREE and str(identity.referee_id) == REFEREE_ID


async def test_expiry_within_the_leeway_is_tolerated(verifier: TokenVerifier, rsa_key: Key) -> None:
    now = int(time.time())
    await verifier.verify(sign(rsa_key, claims(exp=now - 10)))
    await verifier.verify(sign(rsa_key, claims(nbf=now + 10, iat=now)))


# --- the negative matrix -----------------------------------------------------------------------


def _negative_cases(rsa_key: Key, ec_key: Key) -> dict[str, tuple[str, tuple[str, str]]]:
    now = int(time.time())
    stranger = Key("RSA", kid=rsa_key.kid)  # another key pair claiming the known kid
    invalid = ("UNAUTHENTICATED", "TOKEN_INVALID")
    return {
        "expired": (sign(rsa_key, claims(iat=now - 600, exp=now - 60)), ("UNAUTHENTICATED", "TOKEN_EXPIRED")),
        "not yet valid (nbf)": (sign(rsa_key, claims(nbf=now + 120)), ("UNAUTHENTICATED", "TOKEN_NOT_YET_VALID")),
        "issued in the future (iat)": (sign(rsa_key, claims(iat=now + 120)), ("UNAUTHENTICATED", "TOKEN_NOT_YET_VALID")),
        "wrong issuer": (sign(rsa_key, claims(iss="http://evil.example/realms/league")), invalid),
        "wrong audience": (sign(rsa_key, claims(aud="another-api")), invalid),
        "no exp": (sign(rsa_key, claims(exp=None)), invalid),
        "no iss": (sign(rsa_key, claims(iss=None)), invalid),
        "no aud": (sign(rsa_key, claims(aud=None)), invalid),
        "wrong key": (sign(stranger, claims()), invalid),
        "tampered payload": (_tampered(sign(rsa_key, claims())), invalid),
        "alg none": (unsigned({"alg": "none", "typ": "JWT", "kid": rsa_key.kid}, claims()), invalid),
        "alg None, signature kept": (unsigned({"alg": "None", "kid": rsa_key.kid}, claims(), b"x" * 32), invalid),
        "HS256 signed with the public key": (hs256_with_public_key(rsa_key, claims()), invalid),
        "ES256 header on an RSA key": (_relabelled(sign(rsa_key, claims()), "ES256"), invalid),
        "RS256 header on an EC key": (_relabelled(sign(ec_key, claims()), "RS256"), invalid),
        "RS512 (not accepted)": (sign(rsa_key, claims(), alg="RS512"), invalid),
        "no kid": (unsigned({"alg": "RS256"}, claims(), b"x"), invalid),
        "unknown kid": (sign(Key("RSA"), claims()), invalid),
        "not a JWT": ("definitely.not.a-token", invalid),
        "empty": ("", invalid),
        "no role": (sign(rsa_key, claims(realm_access={"roles": ["offline_access"]})), ("FORBIDDEN", "NO_ROLE")),
        "REFEREE without referee id": (sign(rsa_key, claims(referee_id=None)), ("FORBIDDEN", "REFEREE_ID_MISSING")),
        "REFEREE with a malformed referee id": (sign(rsa_key, claims(referee_id="7")), ("FORBIDDEN", "REFEREE_ID_MISSING")),
        # Validly signed, but the time claims are no NumericDates (PyJWT lets numeric strings through).
        "exp as a numeric string": (sign(rsa_key, claims(exp=str(now + 300))), invalid),
        "exp past the year 9999": (sign(rsa_key, claims(exp=253_402_300_800)), invalid),
        "exp as a huge float": (sign(rsa_key, claims(exp=1e300)), invalid),
        "nbf as a numeric string": (sign(rsa_key, claims(nbf=str(now))), invalid),
        "iat as a numeric string": (sign(rsa_key, claims(iat=str(now))), invalid),
        "iat as a boolean": (sign(rsa_key, claims(iat=True)), invalid),
        # Header tricks: a key URL or an embedded key of the attacker's never counts.
        "jku to the attacker's JWKS": (_with_header(Key("RSA"), {"jku": "http://evil.example/jwks.json"}), invalid),
        "embedded jwk of the attacker, known kid": (_embedded_jwk(rsa_key), invalid),
        "kid path traversal": (sign(Key("RSA"), claims(), kid="../../../../dev/null"), invalid),
    }


def _with_header(key: Key, extra: dict[str, Any]) -> str:
    return jwt.encode(claims(), key.private, algorithm=key.alg, headers={"kid": key.kid, **extra})


def _embedded_jwk(known: Key) -> str:
    attacker = Key("RSA", kid=known.kid)
    return jwt.encode(claims(), attacker.private, algorithm="RS256", headers={"kid": known.kid, "jwk": attacker.jwk})


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["realm_access"] = {"roles": ["ADMIN"]}
    return ".".join([header, _b64(json.dumps(data).encode()), signature])


def _relabelled(token: str, alg: str) -> str:
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    data["alg"] = alg
    return ".".join([_b64(json.dumps(data).encode()), payload, signature])


async def test_the_negative_token_matrix(verifier: TokenVerifier, rsa_key: Key, ec_key: Key) -> None:
    cases = _negative_cases(rsa_key, ec_key)
    outcomes = {name: await refusal(verifier, token) for name, (token, _) in cases.items()}
    expected = {name: outcome for name, (_, outcome) in cases.items()}
    assert outcomes == expected


def test_verifier_refuses_symmetric_or_no_algorithms() -> None:
    keys = StaticKeys({"keys": []})
    for algorithms in (["HS256"], ["none"], ["RS256", "HS512"], []):
        with pytest.raises(ValueError):
            TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, algorithms=algorithms)
    with pytest.raises(ValueError):
        TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], leeway_seconds=31)


# --- the JWKS cache: rotation, refetch limits, outages ---------------------------------------


async def test_rotation_is_picked_up_without_a_restart(
    verifier: TokenVerifier, jwks: RemoteJwks, jwks_server: JwksServer, rsa_key: Key, clock: FakeClock
) -> None:
    await verifier.verify(sign(rsa_key, claims()))
    assert jwks_server.requests == 1

    rotated = Key("RSA")
    token = sign(rotated, claims())
    assert await refusal(verifier, token) == ("UNAUTHENTICATED", "TOKEN_INVALID")  # unknown kid
    assert jwks_server.requests == 1  # the JWKS was fetched 0 s ago: no refetch yet

    jwks_server.publish(rotated)  # the provider rotates: the old key is gone
    clock.now += 29.9
    assert await refusal(verifier, token) == ("UNAUTHENTICATED", "TOKEN_INVALID")
    assert jwks_server.requests == 1  # still inside the 30 s
    clock.now += 0.1
    identity = await verifier.verify(token)  # the same verifier, no restart
    assert identity.role is Role.REFEREE
    assert jwks_server.requests == 2
    # The removed key stays known until the cache refreshes; a token of it still verifies
    # now (signature-wise the provider vouched for it minutes ago).


async def test_unknown_kids_refetch_at_most_once_per_30_seconds(
    verifier: TokenVerifier, jwks: RemoteJwks, jwks_server: JwksServer, rsa_key: Key, clock: FakeClock
) -> None:
    await verifier.verify(sign(rsa_key, claims()))
    forged = [sign(Key("EC"), claims()) for _ in range(3)]
    clock.now += 30
    # A burst of tokens with made-up kids, concurrently: one fetch for all of them.
    results = await asyncio.gather(*(refusal(verifier, forged[i % 3]) for i in range(40)))
    assert set(results) == {("UNAUTHENTICATED", "TOKEN_INVALID")}
    assert jwks_server.requests == 2
    for step in range(29):
        clock.now += 1
        await refusal(verifier, forged[step % 3])
    assert jwks_server.requests == 2  # 29 s after the refetch: none more
    clock.now += 1
    await refusal(verifier, forged[0])
    assert jwks_server.requests == 3
    assert jwks.fetches == 3
    # Known keys never wait for the network.
    await verifier.verify(sign(rsa_key, claims()))
    assert jwks_server.requests == 3


async def test_concurrent_first_use_fetches_once(verifier: TokenVerifier, jwks_server: JwksServer, rsa_key: Key) -> None:
    identities = await asyncio.gather(*(verifier.verify(sign(rsa_key, claims())) for _ in range(20)))
    assert len(identities) == 20
    assert jwks_server.requests == 1


async def test_encryption_keys_in_the_jwks_are_ignored(jwks_server: JwksServer, rsa_key: Key, clock: FakeClock) -> None:
    enc = Key("RSA")
    jwks_server.publish(rsa_key, extra=[{**enc.jwk, "use": "enc", "alg": "RSA-OAEP"}, {"kty": "oct", "kid": "s", "k": "c2VjcmV0"}])
    verifier = TokenVerifier(RemoteJwks(jwks_server.url, clock=clock), issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"])
    await verifier.verify(sign(rsa_key, claims()))
    assert await refusal(verifier, sign(enc, claims())) == ("UNAUTHENTICATED", "TOKEN_INVALID")


async def test_an_unreachable_provider(jwks_server: JwksServer, rsa_key: Key, clock: FakeClock) -> None:
    jwks_server.publish(rsa_key)
    jwks_server.fail = True
    jwks = RemoteJwks(jwks_server.url, clock=clock)
    verifier = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"])
    token = sign(rsa_key, claims())
    assert await refusal(verifier, token) == ("UNAUTHENTICATED", "KEYS_UNAVAILABLE")
    assert await refusal(verifier, token) == ("UNAUTHENTICATED", "KEYS_UNAVAILABLE")
    assert jwks_server.requests == 1  # a down provider is not hammered either
    jwks_server.fail = False
    clock.now += 30
    await verifier.verify(token)
    # Once keys are known, a later outage keeps them in use.
    jwks_server.fail = True
    clock.now += 60
    await refusal(verifier, sign(Key("RSA"), claims()))
    await verifier.verify(token)


async def test_stale_keys_are_refreshed_so_revoked_keys_go(jwks_server: JwksServer, rsa_key: Key, clock: FakeClock) -> None:
    jwks_server.publish(rsa_key)
    jwks = RemoteJwks(jwks_server.url, clock=clock, max_key_age=3600)
    verifier = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"])
    await verifier.verify(sign(rsa_key, claims()))
    jwks_server.publish(Key("RSA"))  # the provider revokes the key
    clock.now += 3600
    assert await refusal(verifier, sign(rsa_key, claims())) == ("UNAUTHENTICATED", "TOKEN_INVALID")


# --- the same over HTTP: a server in jwt mode on this JWKS ----------------------------------------


@pytest.fixture
async def api(tmp_path: Any, jwks_server: JwksServer) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db",
        seed_demo=False,
        auth="jwt",
        jwt_jwks_url=jwks_server.url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            yield http


async def _ask(api: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await api.post("/graphql", json={"query": "{ referees { id } }"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


async def test_over_http_bad_tokens_are_field_errors_and_rotation_needs_no_restart(
    api: httpx.AsyncClient, jwks_server: JwksServer, rsa_key: Key
) -> None:
    jwks_server.publish(rsa_key)
    admin = sign(rsa_key, claims(realm_access={"roles": ["ADMIN"]}, referee_id=None))
    assert await _ask(api, admin) == {"data": {"referees": []}}

    expired = sign(rsa_key, claims(iat=int(time.time()) - 600, exp=int(time.time()) - 60))
    result = await _ask(api, expired)
    assert result["data"] is None
    assert [e["extensions"] for e in result["errors"]] == [{"code": "UNAUTHENTICATED", "reason": "TOKEN_EXPIRED"}]
    assert result["errors"][0]["path"] == ["referees"]

    rotated = Key("EC")
    jwks_server.publish(rotated)
    token = sign(rotated, claims(realm_access={"roles": ["ADMIN"]}, referee_id=None))
    assert (await _ask(api, token))["errors"][0]["extensions"]["reason"] == "TOKEN_INVALID"  # within 30 s
    remote = _remote_jwks(api)
    assert remote._last_attempt is not None
    remote._last_attempt -= 30  # let 30 s pass for the server's cache (the clock rule is tested above)
    assert await _ask(api, token) == {"data": {"referees": []}}


def _remote_jwks(api: httpx.AsyncClient) -> RemoteJwks:
    application = api._transport.app  # type: ignore[attr-defined]
    for route in application.routes:
        if getattr(route, "path", None) == "/graphql" and hasattr(route, "endpoint") and hasattr(route.endpoint, "_auth"):
            keys = route.endpoint._auth.verifier.keys
            assert isinstance(keys, RemoteJwks)
            return keys
    raise AssertionError("no GraphQL endpoint found")


def test_rotation_timing_defaults() -> None:
    jwks = RemoteJwks("http://127.0.0.1:9/jwks.json")
    assert jwks._refetch_interval == 30.0
    assert timedelta(seconds=Settings().jwt_leeway_seconds) <= timedelta(seconds=30)
